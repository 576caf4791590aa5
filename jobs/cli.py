"""The `paperboy` command: a thin click layer over jobs/, recommender/ and emails/.

Exit status: 0 success, 1 failure, 2 usage or config error. Output for people by default,
`--format json|jsonl` for scripts; logs and progress go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

import recommender
from jobs.config import Config, config_path, load_config
from jobs.errors import ConfigError, PaperboyError
from jobs.logs import configure_logging
from jobs.paperfiles import read_jsonl
from jobs.storage import Storage

log = logging.getLogger("paperboy")

FORMATS = click.Choice(["text", "json", "jsonl"])


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


class PaperboyGroup(click.Group):
    """Turns the project's errors into exit statuses: ConfigError 2, other errors 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            _fail(str(e), 2)
        except PaperboyError as e:
            _fail(f"error: {e}", 1)
        except SQLAlchemyError as e:  # a database problem storage did not foresee
            _fail(f"database error: {getattr(e, 'orig', None) or e}", 1)


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
@click.version_option(package_name="paperboy")
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


def _config(ctx: click.Context) -> Config:
    return load_config(ctx.obj["config_path"])


@contextmanager
def _storage(config: Config) -> Iterator[Storage]:
    storage = Storage.open(config.database)
    try:
        yield storage
    finally:
        storage.close()


def _progress(message: str) -> None:
    """A progress line on a terminal; nothing when stderr is not one (cron, pipes)."""
    if sys.stderr.isatty():
        click.echo(click.style(message, dim=True), err=True)


def _emit(fmt: str, rows: Sequence[dict[str, Any]], text: Callable[[], None]) -> None:
    if fmt == "json":
        click.echo(json.dumps(list(rows), indent=2, default=str))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, default=str))
    else:
        text()


# --- init --------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml.")
def init(directory: Path, force: bool) -> None:
    """Write a commented starter config.toml into DIRECTORY.

    \b
    Example:
      paperboy init ~/paperboy && $EDITOR ~/paperboy/config.toml
    """
    from jobs.demo import starter_config

    target = directory / "config.toml"
    if target.exists() and not force:
        _fail(f"{target} already exists (use --force to overwrite it)", 1)
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(starter_config(), encoding="utf-8")
    click.echo(
        f"Wrote {target}. Edit the [[users]] section, then run: paperboy --config "
        f"{target} fetch && paperboy --config {target} digest"
    )


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
    from jobs.demo import run_demo

    _progress(f"Running the demo in {directory}/ …")
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
        for d in result.digests:
            click.echo(
                f"Digest for {d.user}: {len(d.picked)} papers picked from {d.considered} "
                f"considered ({d.status})."
            )
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
        else:
            click.echo("\nNo digest was written (nothing picked).")

    _emit(fmt, rows, text)
    if not result.eml:
        sys.exit(1)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _digest_row(d: Any) -> dict[str, Any]:
    return {
        "user": d.user,
        "status": d.status,
        "considered": d.considered,
        "picked": len(d.picked),
        "receipt": d.receipt,
        "error": d.error,
        "resent": d.resent,
        "papers": [{"id": r.paper.id, "score": round(r.score, 4), "why": r.why} for r in d.picked],
    }


# --- fetch -------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--source",
    metavar="NAME",
    help="Only this source: arxiv, huggingface or a [[sources.feeds]] name. With "
    "--from-file: whose response the file is.",
)
@click.option(
    "--from-file",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ingest a saved response instead of the network (repeatable): an arXiv RSS "
    "listing or API response, a Hugging Face daily papers JSON, or a feed (--source NAME).",
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
    A failing source is reported (and shown by `paperboy status`); the others go on.
    The first fetch into an empty database also backfills [sources.arxiv] backfill_days.
    Exit status 1 if any source failed.
    """
    from jobs.features import index_after_fetch
    from jobs.fetch import (
        HF_SOURCE,
        backfill_arxiv,
        fetch_all,
        fetch_arxiv,
        fetch_feed,
        fetch_huggingface,
        ingest_file,
    )
    from jobs.http import HttpClient

    config = _config(ctx)
    feeds = {f.name: f for f in config.feeds}
    if source is not None and source not in ("arxiv", HF_SOURCE, *feeds):
        known = ", ".join(["arxiv", HF_SOURCE, *feeds])
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
                reports.append(ingest_file(storage, path, announce_types=types, source=source))
        else:
            _progress("Fetching …")
            with HttpClient(contact=config.contact) as client:
                if backfill_days is not None:
                    one = backfill_arxiv(config, storage, client, backfill_days)
                    reports = [one] if one else []
                elif source == "arxiv":
                    one = fetch_arxiv(config, storage, client)
                    reports = [one] if one else []
                elif source == HF_SOURCE:
                    one = fetch_huggingface(config, storage, client)
                    reports = [one] if one else []
                elif source is not None:
                    reports = [fetch_feed(feeds[source], storage, client)]
                else:
                    reports = fetch_all(config, storage, client)
        changed = any(r.new or r.updated for r in reports)
        if changed:
            _progress("Indexing the stored papers …")
        built = index_after_fetch(config, storage, changed=changed)
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
    fmt: str,
) -> None:
    """Rank papers with scores and reasons: stored ones for a user, or files.

    \b
    Examples:
      paperboy rank --user ada --since 2025-06-01 --limit 20
      paperboy rank --saved mine.jsonl --candidates today.jsonl --format jsonl
    JSONL lines are {"id","title","abstract","authors","categories"}; with --format jsonl
    each output line is {"id","score","why"}, best first.
    """
    if (saved is None) != (candidates is None):
        raise click.UsageError("--saved and --candidates go together")
    if saved is not None and candidates is not None:
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
    from jobs.library import is_bibtex, read_bibtex_papers

    mine = read_bibtex_papers(saved) if is_bibtex(saved) else read_jsonl(saved)
    profile = recommender.Profile(saved=tuple(mine))
    pool = read_jsonl(candidates)
    negatives = read_jsonl(background) if background else pool
    return recommender.rank(profile, pool, negatives)


def _rank_user(ctx: click.Context, name: str, since: date | None) -> list[recommender.Ranked]:
    from jobs.digest import in_categories, rank_for

    config = _config(ctx)
    user = config.user(name)
    with _storage(config) as storage:
        pool = [
            p
            for p in storage.listed_papers(since=since)
            if p.id not in user.saved and in_categories(p, user.categories)
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
    from jobs.digest import run_digests

    config = _config(ctx)
    with _storage(config) as storage:
        results = run_digests(
            config, storage, users=list(users), force=force, dry_run=dry_run, preview=preview
        )
    rows = [_digest_row(d) for d in results]

    def text() -> None:
        for d in results:
            line = {
                "sent": f"sent {len(d.picked)} papers (from {d.considered}) -> {d.receipt}",
                "dry-run": f"would send {len(d.picked)} papers (from {d.considered}) to "
                + ", ".join(config.user(d.user).email),
                "empty": f"nothing worth sending ({d.considered} considered)",
                "not-due": "not due yet",
                "elsewhere": "being built or sent by another runner",
                "retry-later": f"sending failed, will retry on the next run: {d.error}",
                "failed": f"FAILED: {d.error}",
            }.get(d.status, d.status)
            click.echo(f"{d.user}: {line}" + (f" (re-sent {d.resent} pending)" if d.resent else ""))
            if d.status == "dry-run":
                for i, r in enumerate(d.picked, start=1):
                    click.echo(f"  {i}. [{r.score:.0%}] {_short(r.paper.title, 90)}")
        if preview:
            click.echo(f"Preview: {preview}")

    _emit(fmt, rows, text)
    if any(d.status in ("failed", "retry-later") for d in results):
        sys.exit(1)


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
    from jobs.scheduler import run_forever

    config = _config(ctx)
    with _storage(config) as storage:
        run_forever(config, storage)


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
    from jobs.queue.app import make_app

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
    from jobs.features import build_index, write_index

    config = _config(ctx)
    with _storage(config) as storage:
        if storage.count_papers() == 0:
            _emit(fmt, [], lambda: click.echo("No papers stored yet: nothing to index."))
            return
        _progress("Indexing the stored papers …")
        index, info = build_index(storage)
    try:
        write_index(config.index, index, info)
    except PaperboyError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    row = {"path": str(config.index), **info.as_dict()}
    _emit(
        fmt,
        [row],
        lambda: click.echo(f"Indexed {info.papers} papers in {info.seconds:.1f} s: {config.index}"),
    )


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
    from jobs.digest import is_due
    from jobs.features import read_info
    from jobs.scheduler import fetch_trigger, wants_fetch

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
        for user in config.users:
            state = storage.user_state(user.name)
            pending = storage.deliveries(user_name=user.name, status="pending")
            failed = storage.deliveries(user_name=user.name, status="failed")
            sent = storage.deliveries(user_name=user.name, status="sent")
            user_rows.append(
                {
                    "user": user.name,
                    "last_digest": state.last_digest_at,
                    "last_sent": sent[-1].sent_at if sent else None,
                    "next_digest": user.trigger().get_next_fire_time(None, now),
                    "due_now": is_due(user, state.last_digest_at, now),
                    "pending": len(pending),
                    "failed": len(failed),
                }
            )
        papers = storage.count_papers()
    next_fetch = None
    if wants_fetch(config):
        next_fetch = fetch_trigger(config).get_next_fire_time(None, now)
    rows = [
        {
            "papers": papers,
            "next_fetch": next_fetch,
            "index": index_row,
            "sources": source_rows,
            "users": user_rows,
        }
    ]

    def text() -> None:
        click.echo(f"Database: {papers} papers; next fetch {_when(next_fetch)}")
        if "error" in index_row:
            click.echo(f"Index: none usable ({index_row['error']}); `paperboy index` builds it")
        else:
            click.echo(
                f"Index: {index_row['papers']} papers, built {index_row['built_at']} "
                f"in {index_row['seconds']} s ({index_row['path']})"
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
            click.echo(f"  {s['source']}: last attempt {_when(s['last_attempt'])}, {state}")
        for u in user_rows:
            click.echo(
                f"  {u['user']}: last digest {_when(u['last_digest'])}, next "
                f"{_when(u['next_digest'])}"
                + (f", {u['pending']} pending" if u["pending"] else "")
                + (f", {u['failed']} FAILED" if u["failed"] else "")
            )

    _emit(fmt, rows, text)
    if any(s["error"] for s in source_rows) or any(u["pending"] or u["failed"] for u in user_rows):
        sys.exit(1)


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z") if isinstance(value, datetime) else "never"


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="paperboy")


# Command groups that live in their own modules (they import helpers from this one).
from jobs.cli_profile import profile  # noqa: E402
from jobs.evaluate import eval_command  # noqa: E402

cli.add_command(profile)
cli.add_command(eval_command, name="eval")
