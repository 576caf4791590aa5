"""The `paperboy` command: a thin click layer over jobs/, recommender/ and emails/.

Exit status: 0 success, 1 failure, 2 usage or config error. Output for people by default,
`--format json|jsonl` for scripts; logs and progress go to stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paperboy import __version__, recommender
from paperboy.jobs.cli_common import FORMATS, emit_one, fail
from paperboy.jobs.cli_common import emit as _emit
from paperboy.jobs.cli_common import load as _config
from paperboy.jobs.cli_common import open_storage as _storage
from paperboy.jobs.cli_common import progress as _progress
from paperboy.jobs.config import config_path
from paperboy.jobs.errors import ConfigError, PaperboyError
from paperboy.jobs.logs import configure_logging
from paperboy.jobs.paperfiles import read_jsonl
from paperboy.jobs.progress import progress
from paperboy.text import shorten as _short

if TYPE_CHECKING:
    from paperboy.jobs.config import Config
    from paperboy.jobs.embeddings import Encoded
    from paperboy.jobs.storage import Storage

log = logging.getLogger("paperboy")

_VENUE_MAX_AGE = timedelta(days=1)  # a cached venue list is refreshed after this
_fail = fail


class PaperboyGroup(click.Group):
    """Turns the project's errors into exit statuses: ConfigError 2, other errors 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            _fail(str(e), 2)
        except PaperboyError as e:
            _fail(f"error: {e}", 1)
        except Exception as e:
            # A database problem storage did not foresee. SQLAlchemy is imported only by
            # the commands that open the database: if it is not loaded, this is not one.
            exc = sys.modules.get("sqlalchemy.exc")
            if exc is not None and isinstance(e, exc.SQLAlchemyError):
                _fail(f"database error: {getattr(e, 'orig', None) or e}", 1)
            raise


@click.group(cls=PaperboyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    metavar="PATH",
    help="config.toml to use (default: $PAPERBOY_CONFIG, else ./config.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for people, or one JSON object per line.",
)
@click.version_option(version=__version__, prog_name="paperboy")
@click.pass_context
def cli(
    ctx: click.Context, config_option: str | None, verbose: int, quiet: bool, log_format: str
) -> None:
    """Paperboy: a ranked digest of new research papers, mailed to each user.

    \b
    Try it offline, on data bundled with Paperboy:
      paperboy demo
    Then make your own:
      paperboy init && $EDITOR config.toml && paperboy fetch && paperboy digest
    """
    levels = [logging.WARNING, logging.INFO, logging.DEBUG]
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    configure_logging(level, log_format)
    ctx.obj = {"config_path": config_path(config_option)}


# --- init --------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml.")
@click.option(
    "--users-dir",
    "users_dir",
    is_flag=True,
    help="One file per user: the sample user goes into users.d/ada.toml.",
)
def init(directory: Path, force: bool, users_dir: bool) -> None:
    """Write a commented starter config.toml into DIRECTORY.

    \b
    Example:
      paperboy init ~/paperboy && $EDITOR ~/paperboy/config.toml
      paperboy init --users-dir ~/paperboy && $EDITOR ~/paperboy/users.d/ada.toml
    """
    from paperboy.jobs.demo import starter_config, starter_users_dir

    target = directory / "config.toml"
    user_file = directory / "users.d" / "ada.toml"
    for path in (target, *([user_file] if users_dir else [])):
        if path.exists() and not force:
            _fail(f"{path} already exists (use --force to overwrite it)", 1)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if users_dir:
            config_text, user_text = starter_users_dir()
            user_file.parent.mkdir(exist_ok=True)
            user_file.write_text(user_text, encoding="utf-8")
            target.write_text(config_text, encoding="utf-8")
        else:
            target.write_text(starter_config(), encoding="utf-8")
    except OSError as e:
        _fail(f"cannot write {e.filename or target}: {e.strerror or e}", 1)
    if users_dir:
        click.echo(
            f"Wrote {target} and {user_file}. Edit them (one file per user in "
            f"{user_file.parent}), then run: paperboy --config {target} fetch && "
            f"paperboy --config {target} digest"
        )
        return
    click.echo(
        f"Wrote {target}. Edit the [[users]] section, then run: paperboy --config "
        f"{target} fetch && paperboy --config {target} digest"
    )
    _write_web_key(target)


def _write_web_key(config_file: Path) -> None:
    """The key that signs the feedback links ([web] secret_file, default web.key beside
    config.toml), mode 0600; an existing key is kept (links already mailed stay valid)."""
    from paperboy.jobs.config import load_config
    from paperboy.jobs.web.links import write_key_file

    key = load_config(config_file).web.secret_file
    if write_key_file(key):
        click.echo(f"Wrote {key} (the key that signs the links in digests; keep it private).")


# --- demo --------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--dir",
    "directory",
    default="paperboy-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo's config, database and outbox go.",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def demo(directory: Path, fmt: str) -> None:
    """Run the whole pipeline offline on the bundled sample listing.

    Fetches four days of real arXiv listings (bundled) into a fresh SQLite database, ranks
    them for the sample user of config.toml, renders the digest and writes it to the outbox
    as an .eml file plus an .html preview.

    \b
    Example:
      paperboy demo && xdg-open paperboy-demo/outbox/*.html
    """
    from paperboy.jobs.demo import run_demo

    _progress(f"Running the demo in {directory}/ …")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.toml").touch()
    except OSError as e:
        _fail(f"cannot write the demo into {directory}/: {e.strerror or e}", 1)
    result = run_demo(directory)
    fetched = sum(r.received for r in result.fetched)
    kept = sum(r.kept for r in result.fetched)
    skipped: dict[str, int] = {}
    for r in result.fetched:
        for kind, n in r.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + n
    rows = [
        {
            "directory": str(result.directory),
            "days": len(result.fetched),
            "fetched": fetched,
            "kept": kept,
            "skipped": skipped,
            "saved": result.saved,
            "trending": result.trending.received if result.trending else 0,
            "eml": str(result.eml) if result.eml else None,
            "html": str(result.html) if result.html else None,
            "digests": [_digest_row(d) for d in result.digests],
        }
    ]

    def text() -> None:
        skipped_text = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())) or "none"
        click.echo(
            f"Fetched {fetched} announcements from {len(result.fetched)} bundled arXiv days; "
            f"kept {kept} (skipped: {skipped_text})."
        )
        if result.trending is not None:
            click.echo(
                f"Trending on Hugging Face: {result.trending.received} papers of a bundled "
                "real Hugging Face day (2026-06-12), filed as today's."
            )
        for d in result.digests:
            click.echo(
                f"Digest for {d.user}: {len(d.picked)} papers picked from {d.considered} "
                f"considered ({d.status})."
            )
            if d.note:
                click.echo(f"  {d.note}")
            for i, r in enumerate(d.picked[:5], start=1):
                click.echo(f"  {i}. [{r.score:.0%}] {_short(r.paper.title, 90)}")
                click.echo(f"      {_short(r.why, 96)}")
            if len(d.picked) > 5:
                click.echo(f"  … and {len(d.picked) - 5} more")
        if result.eml:
            click.echo(
                f"\nThe digest is in the outbox:\n  {result.eml}\n  {result.html}  "
                "(open in a browser)"
            )
            if result.config.web.base_url:
                click.echo(
                    f"Its buttons (More like this, Less like this, …) go to "
                    f"{result.config.web.base_url}: start it with\n  paperboy --config "
                    f"{result.directory / 'config.toml'} serve"
                )
        else:
            click.echo("\nNo digest was written (nothing picked).")

    _emit(fmt, rows, text)
    if not result.eml:
        sys.exit(1)


def _digest_row(d: Any) -> dict[str, Any]:
    return {
        "user": d.user,
        "status": d.status,
        "considered": d.considered,
        "picked": len(d.picked),
        "receipt": d.receipt,
        "error": d.error,
        "resent": d.resent,
        "note": d.note,
        "papers": [{"id": r.paper.id, "score": round(r.score, 4), "why": r.why} for r in d.picked],
    }


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
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
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
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def fetch(
    ctx: click.Context,
    source: str | None,
    files: tuple[Path, ...],
    backfill_days: int | None,
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
    A failing source is reported (and shown by `paperboy status`); the others go on.
    The first fetch into an empty database also backfills [sources.arxiv] backfill_days.
    Exit status 1 if any source failed.
    """
    from paperboy.jobs.embeddings import encode_stored
    from paperboy.jobs.features import index_after_fetch
    from paperboy.jobs.fetch import (
        HF_SOURCE,
        backfill_arxiv,
        fetch_all,
        fetch_arxiv,
        fetch_feed,
        fetch_huggingface,
        fetch_openreview,
        fetch_zotero,
        ingest_file,
        ingest_paper_file,
        is_paper_file,
    )
    from paperboy.jobs.http import HttpClient

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
    with _storage(config) as storage:
        if files:
            types = config.arxiv.announce_types if config.arxiv else ("new", "cross")
            reports = []
            for path in files:
                _progress(f"Reading {path} …")
                if source is None and is_paper_file(path):  # what `rank --saved` reads
                    reports.append(ingest_paper_file(storage, path))
                    continue
                report = ingest_file(storage, path, announce_types=types, source=source)
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
        encoded = encode_stored(storage)  # issue 11: new papers' vectors, within a budget
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
            "error": r.error,
        }
        for r in reports
    ]

    def text() -> None:
        if not reports:
            click.echo(
                "No sources configured: add [sources.arxiv], [sources.huggingface] or "
                "[[sources.feeds]] to config.toml."
            )
        for r in reports:
            if r.status == "error":
                click.echo(f"{r.name}: FAILED: {r.error}")
            elif r.status == "unchanged":
                click.echo(f"{r.name}: unchanged since the last fetch")
            elif r.status == "deferred":
                click.echo(f"{r.name}: not synced: {r.error}")
            else:
                skipped = ", ".join(f"{n} {k}" for k, n in sorted(r.skipped.items()))
                click.echo(
                    f"{r.name}: {r.received} received, {r.kept} kept ({r.new} new, "
                    f"{r.updated} updated)"
                    + (f"; skipped {skipped}" if skipped else "")
                    + (f"; {r.error}" if r.error else "")
                )

    if built is not None:
        _progress(f"Indexed {built.papers} papers in {built.seconds:.1f} s: {config.index}")
    if encoded.summary():
        _progress(str(encoded.summary()))
    _emit(fmt, rows, text)
    if any(r.status == "error" for r in reports):
        sys.exit(1)


# --- rank --------------------------------------------------------------------------------


@cli.command()
@click.option("--user", "user_name", metavar="NAME", help="Rank stored papers for this user.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only papers announced since.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N papers.")
@click.option(
    "--saved",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One-off: the saved papers (JSONL or BibTeX), no config needed.",
)
@click.option(
    "--candidates",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One-off: the papers to rank (JSONL).",
)
@click.option(
    "--background",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One-off: negatives for the model (JSONL; default: the candidates).",
)
@click.option(
    "--venue",
    metavar="VENUE_ID",
    help="Rank a venue's papers from OpenReview (e.g. ICLR.cc/2025/Conference), fetched "
    "once and cached in the database.",
)
@click.option(
    "--venue-status",
    type=click.Choice(["accepted", "submitted"]),
    default="accepted",
    show_default=True,
    help="With --venue: the accepted papers, or the open submissions.",
)
@click.option("--refresh", is_flag=True, help="With --venue: ask OpenReview for changes now.")
@click.option(
    "--openreview-url",
    metavar="URL",
    envvar="PAPERBOY_OPENREVIEW_URL",
    default="https://api2.openreview.net",
    show_default=True,
    help="OpenReview's API v2 (or a mirror); also $PAPERBOY_OPENREVIEW_URL.",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def rank(
    ctx: click.Context,
    user_name: str | None,
    since: datetime | None,
    limit: int | None,
    saved: Path | None,
    candidates: Path | None,
    background: Path | None,
    venue: str | None,
    venue_status: str,
    refresh: bool,
    openreview_url: str,
    fmt: str,
) -> None:
    """Rank papers with scores and reasons: stored ones for a user, a venue, or files.

    \b
    Examples:
      paperboy rank --user ada --since 2025-06-01 --limit 20
      paperboy rank --user ada --venue ICLR.cc/2025/Conference --limit 30
      paperboy rank --saved mine.bib --venue ICLR.cc/2026/Conference --venue-status submitted
      paperboy rank --saved mine.jsonl --candidates today.jsonl --format jsonl
    JSONL lines are {"id","title","abstract","authors","categories"}; with --format jsonl
    each output line is {"id","score","why"}, best first.
    """
    if venue is not None:
        if candidates is not None or since is not None:
            raise click.UsageError(
                "--venue ranks the venue's papers: not with --candidates/--since"
            )
        if (user_name is None) == (saved is None):
            raise click.UsageError("--venue needs --user NAME or --saved FILE")
        ranked = _rank_venue(
            ctx, venue, venue_status, refresh, openreview_url, user_name, saved, background
        )
    elif (saved is None) != (candidates is None):
        raise click.UsageError("--saved and --candidates go together")
    elif saved is not None and candidates is not None:
        if user_name:
            raise click.UsageError("use either --user or --saved/--candidates, not both")
        ranked = _rank_files(saved, candidates, background)
    elif user_name:
        ranked = _rank_user(ctx, user_name, since.date() if since else None)
    else:
        raise click.UsageError("give --user NAME, or --saved FILE --candidates FILE")
    if limit:
        ranked = ranked[:limit]
    rows = [{"id": r.paper.id, "score": round(r.score, 6), "why": r.why} for r in ranked]

    def text() -> None:
        if not ranked:
            click.echo("Nothing to rank.")
        for i, r in enumerate(ranked, start=1):
            click.echo(f"{i:3}. {r.score:6.1%}  {r.paper.id:<18} {_short(r.paper.title, 80)}")
            click.echo(f"      {_short(r.why, 100)}")

    _emit(fmt, rows, text)


def _rank_files(saved: Path, candidates: Path, background: Path | None) -> list[recommender.Ranked]:
    from paperboy.jobs.library import is_bibtex, read_bibtex_papers

    mine = _usable(saved, read_bibtex_papers(saved) if is_bibtex(saved) else read_jsonl(saved))
    if not mine:
        _fail(f"{saved}: no saved paper with a title or an abstract: nothing to rank against", 2)
    pool = _usable(candidates, read_jsonl(candidates))
    negatives = _usable(background, read_jsonl(background)) if background else pool
    return _rank_one_off(recommender.Profile(saved=tuple(mine)), pool, negatives)


def _usable(path: Path, papers: list[recommender.Paper]) -> list[recommender.Paper]:
    """The papers that have words to rank by; the others are counted on stderr."""
    kept = [p for p in papers if p.title.strip() or p.abstract.strip()]
    if len(kept) < len(papers):
        click.echo(
            f"paperboy: {path}: skipped {len(papers) - len(kept)} of {len(papers)} papers "
            "with neither a title nor an abstract",
            err=True,
        )
    return kept


def _rank_one_off(
    profile: recommender.Profile,
    pool: Sequence[recommender.Paper],
    negatives: Sequence[recommender.Paper],
) -> list[recommender.Ranked]:
    """Rank papers that are not (all) stored: their embeddings come from the one-off cache."""
    from paperboy.jobs.embedding_cache import cached_embeddings

    if not pool:
        return []
    vectors = cached_embeddings([*profile.saved, *pool, *negatives])
    return recommender.rank(profile, pool, negatives, embeddings=vectors)


def _rank_venue(
    ctx: click.Context,
    venue: str,
    status: str,
    refresh: bool,
    api: str,
    user_name: str | None,
    saved: Path | None,
    background: Path | None,
) -> list[recommender.Ranked]:
    """Rank a venue's papers (jobs.venues: fetched once, cached, refreshed when stale or
    asked) for a configured user, or for the papers of a --saved file."""
    from paperboy.jobs.digest import rank_for
    from paperboy.jobs.features import to_paper
    from paperboy.jobs.http import HttpClient
    from paperboy.jobs.library import is_bibtex, read_bibtex_papers
    from paperboy.jobs.storage import Storage
    from paperboy.jobs.venues import refresh_venue

    config: Config | None = None
    if user_name is not None or ctx.obj["config_path"].exists():
        config = _config(ctx)
    database = config.database if config is not None else "sqlite://"
    if config is None:
        _progress("No config.toml: the venue is fetched without a cache.")
    storage = Storage.open(database)
    try:
        _progress(f"Getting the papers of {venue} ({status}) …")
        with HttpClient(contact=config.contact if config else None) as client:
            report = refresh_venue(
                storage,
                client,
                venue,
                status,
                base=api,
                max_age=None if refresh else _VENUE_MAX_AGE,
            )
        if report.result == "cached":
            _progress(f"{venue}: {report.papers} papers from the cache")
        ids = [e.paper_id for e in storage.venue_entries(venue, status)]
        stored = storage.get_papers(ids)
        if user_name is not None and config is not None:
            user = config.user(user_name)
            mine = {*user.saved, *storage.zotero_paper_ids(user.name)}
            pool = [stored[i] for i in sorted(set(ids)) if i in stored and i not in mine]
            return rank_for(config, storage, user, pool) if pool else []
    finally:
        storage.close()
    assert saved is not None
    mine_papers = read_bibtex_papers(saved) if is_bibtex(saved) else read_jsonl(saved)
    pool_papers = [to_paper(stored[i]) for i in sorted(set(ids)) if i in stored]
    negatives = read_jsonl(background) if background else pool_papers
    profile = recommender.Profile(saved=tuple(mine_papers))
    return _rank_one_off(profile, pool_papers, negatives)


def _rank_user(ctx: click.Context, name: str, since: date | None) -> list[recommender.Ranked]:
    from paperboy.jobs.digest import in_categories, rank_for

    config = _config(ctx)
    user = config.user(name)
    with _storage(config) as storage:
        mine = {*user.saved, *storage.zotero_paper_ids(user.name)}
        pool = [
            p
            for p in storage.listed_papers(since=since)
            if p.id not in mine and in_categories(p, user.categories)
        ]
        return rank_for(config, storage, user, pool) if pool else []


# --- digest ------------------------------------------------------------------------------


@cli.command()
@click.option("--user", "users", multiple=True, metavar="NAME", help="Only this user (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the digest's HTML to this file, for a browser.",
)
@click.option("--force", is_flag=True, help="Build digests even if not due by their schedule.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def digest(
    ctx: click.Context,
    users: tuple[str, ...],
    dry_run: bool,
    preview: Path | None,
    force: bool,
    fmt: str,
) -> None:
    """Build and send the digests that are due now.

    A paper is mailed to a user at most once: running this twice sends nothing new the
    second time. Digests whose sending failed temporarily are retried first.

    \b
    Examples:
      paperboy digest
      paperboy digest --user ada --dry-run --preview /tmp/ada.html
    """
    from paperboy.jobs.digest import run_digests

    config = _config(ctx)
    before = _stamp(preview)
    if preview is not None:
        _check_writable(preview, "--preview")
    with _storage(config) as storage:
        many = len(users or config.users) > 1  # a bar for one user is noise
        with progress("Digests", "users", tty=None if many else False) as advance:
            results = run_digests(
                config,
                storage,
                users=list(users),
                force=force,
                dry_run=dry_run,
                preview=preview,
                progress=advance,
            )
        retries = {d.user: _next_retry(storage, d.user) for d in results}
    wrote_preview = preview is not None and _stamp(preview) not in (None, before)
    rows = [{**_digest_row(d), "next_retry": retries[d.user]} for d in results]

    def retry_text(user: str) -> str:
        when = retries[user]
        if when is None:
            return ""
        minutes = max(0, round((when - datetime.now(UTC)).total_seconds() / 60))
        return (
            f"the digest stays pending and is retried at {_when(when)} (in {minutes} min), "
            "by the daemon or by `paperboy digest` from then on"
        )

    def text() -> None:
        for d in results:
            line = {
                "sent": f"sent {len(d.picked)} papers (from {d.considered}) -> {d.receipt}",
                "dry-run": f"would send {len(d.picked)} papers (from {d.considered}) to "
                + ", ".join(config.user(d.user).email),
                "empty": f"nothing worth sending ({d.considered} considered)",
                "not-due": "not due yet"
                + (f"; a pending digest: {retry_text(d.user)}" if retries[d.user] else ""),
                "unsubscribed": "unsubscribed (`paperboy profile subscribe` re-enables)",
                "paused": "paused (`paperboy profile subscribe` resumes now)",
                "elsewhere": "being built or sent by another runner",
                "retry-later": f"sending failed ({d.error}); {retry_text(d.user)}",
                "failed": f"FAILED: {d.error}",
            }.get(d.status, d.status)
            click.echo(f"{d.user}: {line}" + (f" (re-sent {d.resent} pending)" if d.resent else ""))
            if d.note:
                click.echo(f"  {d.note}")
            if d.status == "dry-run":
                for i, r in enumerate(d.picked, start=1):
                    click.echo(f"  {i}. [{r.score:.0%}] {_short(r.paper.title, 90)}")
        if wrote_preview:
            click.echo(f"Preview: {preview}")
        elif preview is not None:
            click.echo(f"No preview written to {preview}: no digest was built.")

    _emit(fmt, rows, text)
    if any(d.status in ("failed", "retry-later") for d in results):
        sys.exit(1)


def _next_retry(storage: Storage, user: str) -> datetime | None:
    """When this user's earliest pending delivery is retried (None: nothing pending)."""
    from paperboy.jobs.digest import retry_delay

    times = [
        d.last_attempt_at + retry_delay(d.attempts)
        if d.attempts and d.last_attempt_at is not None
        else d.created_at
        for d in storage.deliveries(user_name=user, status="pending")
    ]
    return min(times) if times else None


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """(modification time, size) of `path`, None when it does not exist: tells whether a
    command wrote it."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st is not None else None


def _check_writable(path: Path, option: str) -> None:
    """Exit 1 before any work when `path` cannot be written (its folder is made if needed);
    an existing file is left as it is."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as e:
        _fail(f"{option} {path}: cannot write it: {e.strerror or e}", 1)
    if not existed:
        path.unlink(missing_ok=True)


# --- run ---------------------------------------------------------------------------------


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: fetch on arXiv's schedule, mail each digest at its time.

    Stops cleanly on Ctrl-C or SIGTERM.

    \b
    Example:
      PAPERBOY_SMTP_PASSWORD=... paperboy --config ~/paperboy/config.toml run -v
    """
    from paperboy.jobs.stopping import stop_cleanly_until_started

    stop_cleanly_until_started()  # exit 0 on SIGTERM while starting (python -m jobs.cli run)
    from paperboy.jobs.scheduler import run_forever

    config = _config(ctx)
    with _storage(config) as storage:
        run_forever(config, storage)


# --- serve -------------------------------------------------------------------------------


@cli.command()
@click.option("--listen", metavar="HOST:PORT", help="Where to listen (default: [web] listen).")
@click.pass_context
def serve(ctx: click.Context, listen: str | None) -> None:
    """Serve the pages behind the links in digests: more/less like this, pause,
    unsubscribe, the profile page. Stops cleanly on Ctrl-C or SIGTERM.

    Listens on [web] listen (default 127.0.0.1:8080, this machine only); put it behind
    your reverse proxy at [web] base_url. `paperboy run` serves it too with [web] serve =
    true. The links are signed with $PAPERBOY_WEB_SECRET or [web] secret_file (web.key).

    \b
    Example:
      paperboy serve
      paperboy serve --listen 127.0.0.1:9000
    """
    from paperboy.jobs.config import parse_listen
    from paperboy.jobs.web.server import make_server

    config = _config(ctx)
    host = port = None
    if listen is not None:
        try:
            host, port = parse_listen(listen)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--listen") from e
    if not config.web.base_url:
        log.warning("[web] base_url is not set: digests carry no links to these pages")
    with _storage(config) as storage:
        server = make_server(config, storage, host=host, port=port)
        click.echo(
            f"Serving Paperboy's feedback pages on http://{server.config.host}:"
            f"{server.config.port} (Ctrl-C stops)",
            err=True,
        )
        # uvicorn catches SIGINT/SIGTERM to shut down gracefully, then raises the signal
        # again for the handler that was there before: make that one a clean exit 0.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: None)
        server.run()
    log.info("stopped")


# --- worker ------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Worker processes on this machine (default: one per core).",
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int | None) -> None:
    """Run a queue worker: fetch, rank, render and send what `paperboy run` enqueues.

    Needs a [queue] table with a broker in config.toml; start as many workers as you
    like, on any machine that reaches the broker and the database.

    \b
    Example:
      paperboy --config /etc/paperboy/config.toml worker --concurrency 2
    """
    from paperboy.jobs.queue.app import make_app

    config = _config(ctx)
    app = make_app(config)
    assert config.queue is not None
    with _storage(config):
        pass  # the database is reachable and its schema current before any task runs
    argv = [
        "worker",
        "--loglevel",
        "INFO",
        "--queues",
        config.queue.name,
        "--hostname",
        f"paperboy-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


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
    from paperboy.jobs.features import BUILD_STEPS, build_index, write_index

    config = _config(ctx)
    with _storage(config) as storage:
        if storage.count_papers() == 0:
            _emit(fmt, [], lambda: click.echo("No papers stored yet: nothing to index."))
            return
        _progress("Indexing the stored papers …")
        with progress("Indexing", "steps") as advance:
            index, info = build_index(storage, progress=advance)
            try:
                write_index(config.index, index, info)
            except PaperboyError as e:
                click.echo(f"Error: {e}", err=True)
                sys.exit(1)
            advance(BUILD_STEPS, BUILD_STEPS)
        encoded = _encode_all(storage)
    row = {"path": str(config.index), **info.as_dict(), "embeddings": encoded.as_dict()}

    def text() -> None:
        click.echo(f"Indexed {info.papers} papers in {info.seconds:.1f} s: {config.index}")
        click.echo(f"Encoded {encoded.encoded} papers with {encoded.model_id}")

    _emit(fmt, [row], text)
    if encoded.error:
        click.echo(f"Error: papers not encoded: {encoded.error}", err=True)
        sys.exit(1)


def _encode_all(storage: Storage) -> Encoded:
    """Every stored paper's missing vector: a progress bar on a terminal, else a line on
    stderr per batch of 256 (none with -q)."""
    from paperboy.jobs.embeddings import encode_stored

    if not sys.stderr.isatty():
        quiet = logging.getLogger().getEffectiveLevel() > logging.WARNING  # -q

        def line(done: int, total: int) -> None:
            if not quiet:
                click.echo(f"encoded {done} of {total} papers", err=True)

        return encode_stored(storage, seconds=None, progress=line)
    with click.progressbar(length=1, label="Encoding papers", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        return encode_stored(storage, seconds=None, progress=progress)


# --- status ------------------------------------------------------------------------------


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Show the last fetch per source, the last and next digest per user, pending mail.

    Exit status 1 when something needs attention (a failing source, a failed or pending
    delivery), so monitoring can run it.

    \b
    Example:
      paperboy status --format json
    """
    from paperboy.jobs.features import read_info
    from paperboy.jobs.schedule import fetch_trigger, is_due, wants_fetch
    from paperboy.jobs.storage import DeliverySummary, UserState
    from paperboy.recommender.encoder import MODEL_ID

    config = _config(ctx)
    now = datetime.now(UTC)
    index_row: dict[str, Any] = {"path": str(config.index)}
    try:
        index_row.update(read_info(config.index).as_dict())
    except PaperboyError as e:
        index_row["error"] = str(e)
    with _storage(config) as storage:
        source_rows = [
            {
                "source": s.name,
                "url": s.url,
                "last_attempt": s.last_attempt_at,
                "last_success": s.last_success_at,
                "last_count": s.last_count,
                "last_new": s.last_new,
                "error": s.last_error,
            }
            for s in storage.all_sources()
        ]
        configured = [
            *(["arxiv"] if config.arxiv else []),
            *(["huggingface"] if config.huggingface and config.huggingface.enabled else []),
            *(f.name for f in config.feeds),
            *(v.name for v in config.openreview),
        ]
        seen = {row["source"] for row in source_rows}
        source_rows += [
            {
                "source": name,
                "url": None,
                "last_attempt": None,
                "last_success": None,
                "last_count": None,
                "last_new": None,
                "error": None,
            }
            for name in configured
            if name not in seen
        ]
        user_rows = []
        summaries = storage.delivery_summaries()  # counts only: no message is read
        states = storage.user_states()  # one query, not one per user
        for user in config.users:
            state = states.get(user.name, UserState(user.name, None, None))
            summary = summaries.get(user.name, DeliverySummary(user.name))
            user_rows.append(
                {
                    "user": user.name,
                    "last_digest": state.last_digest_at,
                    "last_sent": summary.last_sent_at,
                    "next_digest": user.trigger().get_next_fire_time(None, now),
                    "due_now": is_due(user, state.last_digest_at, now),
                    "pending": summary.pending,
                    "failed": summary.failed,
                    "unsubscribed_at": state.unsubscribed_at,
                    "paused_until": state.paused_until if state.paused(now) else None,
                    **_zotero_row(storage, user),
                }
            )
        papers = storage.count_papers()
        embedding_row = {"model": MODEL_ID, "encoded": storage.count_embeddings(MODEL_ID)}
    next_fetch = None
    if wants_fetch(config):
        next_fetch = fetch_trigger(config).get_next_fire_time(None, now)
    row = {
        "papers": papers,
        "next_fetch": next_fetch,
        "index": index_row,
        "embeddings": embedding_row,
        "sources": source_rows,
        "users": user_rows,
    }

    def text() -> None:
        click.echo(f"Database: {papers} papers; next fetch {_when(next_fetch)}")
        if "error" in index_row:
            click.echo(f"Index: none usable ({index_row['error']}); `paperboy index` builds it")
        else:
            click.echo(
                f"Index: {index_row['papers']} papers, built {index_row['built_at']} "
                f"in {index_row['seconds']} s ({index_row['path']})"
            )
        click.echo(
            f"Embeddings: {embedding_row['encoded']} of {papers} papers encoded ({MODEL_ID})"
        )
        if not source_rows:
            click.echo("Sources: never fetched")
        for s in source_rows:
            if s["error"]:
                state = f"FAILING: {s['error']}"
            elif s["last_attempt"] is None:
                state = "not fetched yet"
            else:
                state = f"ok, {s['last_count']} items"
                if str(s["source"]).startswith("file:") and s["url"]:
                    state += f" from {s['url']}"
            label = "ingested" if str(s["source"]).startswith("file:") else "last attempt"
            click.echo(f"  {s['source']}: {label} {_when(s['last_attempt'])}, {state}")
        for u in user_rows:
            click.echo(
                f"  {u['user']}: last digest {_when(u['last_digest'])}, next "
                f"{_when(u['next_digest'])}"
                + (f", {u['pending']} pending" if u["pending"] else "")
                + (f", {u['failed']} FAILED" if u["failed"] else "")
                + (
                    f", UNSUBSCRIBED since {_when(u['unsubscribed_at'])}"
                    if u["unsubscribed_at"]
                    else ""
                )
                + (f", paused until {_when(u['paused_until'])}" if u["paused_until"] else "")
            )
            z = u.get("zotero")
            if z:
                state = f"FAILING: {z['error']}" if z["error"] else f"{z['items']} papers"
                click.echo(
                    f"    zotero {z['library']}: last sync {_when(z['last_sync'])} "
                    f"(version {z['version'] if z['version'] is not None else '-'}), {state}"
                )

    emit_one(fmt, row, text)  # one object: {"papers", "next_fetch", "index", "sources", "users"}
    if any(s["error"] for s in source_rows) or any(u["pending"] or u["failed"] for u in user_rows):
        sys.exit(1)
    if any(u.get("zotero") and u["zotero"]["error"] for u in user_rows):
        sys.exit(1)


def _zotero_row(storage: Storage, user: Any) -> dict[str, Any]:
    """A user's Zotero sync for `paperboy status`: {} when they follow no library."""
    if user.zotero is None:
        return {}
    state = storage.zotero_state(user.name)
    return {
        "zotero": {
            "library": user.zotero.library,
            "last_sync": state.last_success_at if state else None,
            "last_attempt": state.last_attempt_at if state else None,
            "version": state.version if state else None,
            "items": len(storage.zotero_paper_ids(user.name)),
            "error": state.last_error if state else None,
            "retry_after": state.retry_after if state else None,
        }
    }


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z") if isinstance(value, datetime) else "never"


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="paperboy")


# Command groups that live in their own modules (their shared helpers: jobs.cli_common).
from paperboy.jobs.cli_profile import profile  # noqa: E402
from paperboy.jobs.evaluate import eval_command  # noqa: E402

cli.add_command(profile)
cli.add_command(eval_command, name="eval")

if __name__ == "__main__":  # python -m jobs.cli (benchmarks/startup.py measures it so)
    main()
