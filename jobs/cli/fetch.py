"""`paperboy fetch` and `paperboy index`: papers in, and the ranker's stored features."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperboy.jobs.cli.common import EXISTING_FILE, FORMATS, say
from paperboy.jobs.cli.common import emit as _emit
from paperboy.jobs.cli.common import load as _config
from paperboy.jobs.cli.common import open_storage as _storage
from paperboy.jobs.cli.common import progress as _progress
from paperboy.jobs.core.errors import InputFileError, PaperboyError, SourceError
from paperboy.jobs.core.progress import progress

if TYPE_CHECKING:
    from paperboy.jobs.ranking.encoding import Encoded
    from paperboy.jobs.storage import Storage
from paperboy.jobs.cli.root import cli

# --- fetch -------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--source",
    metavar="NAME",
    help="Only this source: arxiv, huggingface, openreview, zotero or a [[sources.feeds]] "
    "name. With "
    "--from-file: whose response the file is.",
)
@click.option(
    "--from-file",
    "files",
    multiple=True,
    type=EXISTING_FILE,
    help="Ingest a saved response instead of the network (repeatable): an arXiv RSS "
    "listing or API response, a Hugging Face daily papers JSON, or a feed (--source NAME); "
    "or a papers file (.jsonl or BibTeX, as `rank --saved` reads) to give saved papers "
    "their text offline.",
)
@click.option(
    "--backfill",
    "backfill_days",
    type=click.IntRange(min=1),
    metavar="DAYS",
    help="Fetch the last DAYS days of the arXiv categories from the arXiv API (a first run).",
)
@click.option(
    "--encode-for",
    "encode_seconds",
    type=click.FloatRange(min=0),
    default=240.0,
    show_default=True,
    metavar="SECONDS",
    help="Encode new papers for at most this long; the daemon (or `paperboy index`) "
    "encodes the rest. 0: leave all of it to them (a big import).",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def fetch(
    ctx: click.Context,
    source: str | None,
    files: tuple[Path, ...],
    backfill_days: int | None,
    encode_seconds: float,
    fmt: str,
) -> None:
    """Fetch new papers from the configured sources now.

    \b
    Examples:
      paperboy fetch
      paperboy fetch --source huggingface
      paperboy fetch --backfill 7
      paperboy fetch --from-file saved-cs.LG.xml
      paperboy fetch --from-file daily_papers.json
      paperboy fetch --from-file neuro.xml --source "bioRxiv neuroscience"
      paperboy fetch --from-file saved.jsonl
      paperboy fetch --from-file big-backlog.xml --encode-for 0
    A failing source is reported (and shown by `paperboy status`); the others go on.
    The first fetch into an empty database also backfills [sources.arxiv] backfill_days.
    Exit status 1 if any source failed, or if a fetch from the network is running on this
    database already (the daemon's, a worker's): then nothing is fetched twice.
    """
    from paperboy.jobs.fetch.from_file import ingest_file, ingest_paper_file, is_paper_file
    from paperboy.jobs.fetch.http import HttpClient
    from paperboy.jobs.fetch.listings import (
        HF_SOURCE,
        backfill_arxiv,
        fetch_all,
        fetch_arxiv,
        fetch_feed,
        fetch_huggingface,
        fetch_openreview,
        fetch_zotero,
    )
    from paperboy.jobs.ranking.corpus import index_after_fetch
    from paperboy.jobs.ranking.encoding import encode_stored
    from paperboy.jobs.storage import fetch_lock

    config = _config(ctx)
    feeds = {f.name: f for f in config.feeds}
    zotero = ["zotero"] if any(u.zotero for u in config.users) else []
    zotero += ["openreview"] if config.openreview else []
    if source is not None and source not in ("arxiv", HF_SOURCE, *feeds, *zotero):
        known = ", ".join(["arxiv", HF_SOURCE, *feeds, *zotero])
        raise click.UsageError(f"--source {source!r}: no such source (known: {known})")
    if backfill_days is not None and (files or source not in (None, "arxiv")):
        raise click.UsageError("--backfill fetches arXiv from the network; not with --from-file")
    if backfill_days is not None and config.arxiv is None:
        raise click.UsageError("--backfill needs [sources.arxiv] categories in config.toml")
    hf_enabled = config.huggingface is not None and config.huggingface.enabled
    if not files and source == HF_SOURCE and not hf_enabled:
        raise click.UsageError("huggingface is not enabled: add [sources.huggingface] to config")
    with _storage(config) as storage, contextlib.ExitStack() as fetching:
        # One fetch at a time per database (issue #20, item 5): not beside the daemon's or
        # a worker's fetch, which would send every request twice and index twice.
        if not files and not fetching.enter_context(fetch_lock(storage)):
            say(
                "A fetch is running on this database right now (the daemon's or a queue "
                "worker's): nothing fetched. Its papers are stored when it ends; "
                "`paperboy status` shows each source's last fetch.",
                err=True,
            )
            sys.exit(1)
        if files:
            types = config.arxiv.announce_types if config.arxiv else ("new", "cross")
            reports = []
            for path in files:
                _progress(f"Reading {path} …")
                if source is None and is_paper_file(path):  # what `rank --saved` reads
                    reports.append(ingest_paper_file(storage, path))
                    continue
                try:
                    report = ingest_file(storage, path, announce_types=types, source=source)
                except SourceError as e:  # a bad file given as an argument: exit 2
                    where = "" if str(path) in str(e) else f"{path}: "
                    raise InputFileError(f"{where}{e}") from e
                except RecursionError as e:  # JSON nested deeper than the parser's stack
                    raise InputFileError(f"{path}: nested too deeply to parse") from e
                storage.record_fetch(
                    f"file:{path.name}",
                    url=str(path.resolve()),
                    count=report.kept,
                    new=report.new,
                )
                reports.append(report)
        else:
            _progress("Fetching …")
            with HttpClient(contact=config.contact) as client:
                if backfill_days is not None:
                    with progress("arXiv backfill", "days") as advance:
                        one = backfill_arxiv(
                            config, storage, client, backfill_days, progress=advance
                        )
                    reports = [one] if one else []
                elif source == "arxiv":
                    one = fetch_arxiv(config, storage, client)
                    reports = [one] if one else []
                elif source == HF_SOURCE:
                    one = fetch_huggingface(config, storage, client)
                    reports = [one] if one else []
                elif source == "zotero" and source not in feeds:
                    reports = fetch_zotero(config, storage, client)
                elif source == "openreview" and source not in feeds:
                    reports = [fetch_openreview(v, storage, client) for v in config.openreview]
                elif source is not None:
                    reports = [fetch_feed(feeds[source], storage, client)]
                else:
                    reports = fetch_all(config, storage, client)
        changed = any(r.new or r.updated for r in reports)
        if changed:
            _progress("Indexing the stored papers …")
        with progress("Indexing", "steps") as advance:
            built = index_after_fetch(config, storage, changed=changed, progress=advance)
        # issue 11: new papers' vectors, within a budget
        encoded = encode_stored(storage, seconds=encode_seconds)
    rows = [
        {
            "source": r.name,
            "url": r.url,
            "status": r.status,
            "received": r.received,
            "kept": r.kept,
            "new": r.new,
            "updated": r.updated,
            "skipped": r.skipped,
            "cut": r.cut,
            "error": r.error,
        }
        for r in reports
    ]

    def text() -> None:
        if not reports:
            say(
                "No sources configured: add [sources.arxiv], [sources.huggingface] or "
                "[[sources.feeds]] to config.toml."
            )
        for r in reports:
            if r.status == "error":
                say(f"{r.name}: FAILED: {r.error}")
            elif r.status == "unchanged":
                say(f"{r.name}: unchanged since the last fetch")
            elif r.status == "deferred":
                say(f"{r.name}: not synced: {r.error}")
            else:
                skipped = ", ".join(f"{n} {k}" for k, n in sorted(r.skipped.items()))
                say(
                    f"{r.name}: {r.received} received, {r.kept} kept ({r.new} new, "
                    f"{r.updated} updated)"
                    + (f"; skipped {skipped}" if skipped else "")
                    + (f"; {r.cut} cut to the length caps" if r.cut else "")
                    + (f"; {r.error}" if r.error else "")
                )

    if built is not None:
        _progress(f"Indexed {built.papers} papers in {built.seconds:.1f} s: {config.index}")
    if encoded.summary():
        _progress(str(encoded.summary()))
    _emit(fmt, rows, text)
    if any(r.status == "error" for r in reports):
        sys.exit(1)


# --- index -------------------------------------------------------------------------------


@cli.command("index")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def index_command(ctx: click.Context, fmt: str) -> None:
    """Rebuild the ranker's stored features (paperboy.index) from the stored papers now.

    Every fetch that stores papers does this by itself; run it after upgrading Paperboy or
    scikit-learn (which makes the stored file unusable until the next fetch) so that the
    next digest does not fit features user by user. Exit status 1 if it cannot be written.

    \b
    Example:
      paperboy index
    """
    from paperboy.jobs.ranking.corpus import BUILD_STEPS, build_index, publish_index

    config = _config(ctx)
    with _storage(config) as storage:
        if storage.count_papers() == 0:
            _emit(fmt, [], lambda: say("No papers stored yet: nothing to index."))
            return
        _progress("Indexing the stored papers …")
        with progress("Indexing", "steps") as advance:
            index, info = build_index(storage, progress=advance)
            try:
                generation = publish_index(config, storage, index, info)
            except PaperboyError as e:
                say(f"Error: {e}", err=True)
                sys.exit(1)
            advance(BUILD_STEPS, BUILD_STEPS)
        encoded = _encode_all(storage)
    row = {
        "path": str(config.index),
        "generation": generation.generation,
        "in_database": generation.stored,
        **info.as_dict(),
        "embeddings": encoded.as_dict(),
    }

    def text() -> None:
        say(
            f"Indexed {info.papers} papers in {info.seconds:.1f} s: {config.index} "
            f"(generation {generation.generation}"
            + (", also stored in the database)" if generation.stored else ")")
        )
        say(f"Encoded {encoded.encoded} papers with {encoded.model_id}")

    _emit(fmt, [row], text)
    if encoded.error:
        say(f"Error: papers not encoded: {encoded.error}", err=True)
        sys.exit(1)


def _encode_all(storage: Storage) -> Encoded:
    """Every stored paper's missing vector: a progress bar on a terminal, else a line on
    stderr per batch of 256 (none with -q)."""
    from paperboy.jobs.ranking.encoding import encode_stored

    if not sys.stderr.isatty():
        quiet = logging.getLogger().getEffectiveLevel() > logging.WARNING  # -q

        def line(done: int, total: int) -> None:
            if not quiet:
                say(f"encoded {done} of {total} papers", err=True)

        return encode_stored(storage, seconds=None, progress=line)
    with click.progressbar(length=1, label="Encoding papers", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        return encode_stored(storage, seconds=None, progress=progress)
