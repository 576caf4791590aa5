"""`paperboy rank`: one user's ranking, a venue's papers, or paper files, on the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperboy import recommender
from paperboy.jobs.cli.common import EXISTING_FILE, FORMATS, fail, say
from paperboy.jobs.cli.common import emit as _emit
from paperboy.jobs.cli.common import load as _config
from paperboy.jobs.cli.common import open_storage as _storage
from paperboy.jobs.cli.common import progress as _progress
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.fetch.paperfiles import read_jsonl
from paperboy.text import short_title, shorten

if TYPE_CHECKING:
    from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.cli.root import cli

_VENUE_MAX_AGE = timedelta(days=1)  # a cached venue list is refreshed after this


# --- rank --------------------------------------------------------------------------------


@cli.command()
@click.option("--user", "user_name", metavar="NAME", help="Rank stored papers for this user.")
@click.option(
    "--collection",
    metavar="NAME",
    default="",
    help="With --user: rank for one of the user's collections (default: their top-level lists).",
)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only papers announced since.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N papers.")
@click.option(
    "--saved",
    type=EXISTING_FILE,
    help="One-off: the saved papers (JSONL or BibTeX), no config needed.",
)
@click.option(
    "--candidates",
    type=EXISTING_FILE,
    help="One-off: the papers to rank (JSONL).",
)
@click.option(
    "--background",
    type=EXISTING_FILE,
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
    collection: str,
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
      paperboy rank --user ada --collection rl-reasoning --limit 10
      paperboy rank --user ada --venue ICLR.cc/2025/Conference --limit 30
      paperboy rank --saved mine.bib --venue ICLR.cc/2026/Conference --venue-status submitted
      paperboy rank --saved mine.jsonl --candidates today.jsonl --format jsonl
    JSONL lines are {"id","title","abstract","authors","categories"}; with --format jsonl
    each output line is {"id","score","why"}, best first.
    """
    if collection and not user_name:
        raise click.UsageError("--collection needs --user NAME")
    if venue is not None:
        if candidates is not None or since is not None:
            raise click.UsageError(
                "--venue ranks the venue's papers: not with --candidates/--since"
            )
        if (user_name is None) == (saved is None):
            raise click.UsageError("--venue needs --user NAME or --saved FILE")
        ranked = _rank_venue(
            ctx,
            venue,
            venue_status,
            refresh,
            openreview_url,
            user_name,
            saved,
            background,
            collection,
        )
    elif (saved is None) != (candidates is None):
        raise click.UsageError("--saved and --candidates go together")
    elif saved is not None and candidates is not None:
        if user_name:
            raise click.UsageError("use either --user or --saved/--candidates, not both")
        ranked = _rank_files(saved, candidates, background)
    elif user_name:
        ranked = _rank_user(ctx, user_name, since.date() if since else None, collection)
    else:
        raise click.UsageError("give --user NAME, or --saved FILE --candidates FILE")
    if limit:
        ranked = ranked[:limit]
    rows = [{"id": r.paper.id, "score": round(r.score, 6), "why": r.why} for r in ranked]

    def text() -> None:
        if not ranked:
            say("Nothing to rank.")
        for i, r in enumerate(ranked, start=1):
            say(f"{i:3}. {r.score:6.1%}  {r.paper.id:<18} {short_title(r.paper.title, 80)}")
            say(f"      {shorten(r.why, 100)}")

    _emit(fmt, rows, text)


def _rank_files(saved: Path, candidates: Path, background: Path | None) -> list[recommender.Ranked]:
    from paperboy.jobs.fetch.bibtex import is_bibtex, read_bibtex_papers

    mine = _usable(saved, read_bibtex_papers(saved) if is_bibtex(saved) else read_jsonl(saved))
    if not mine:
        fail(f"{saved}: no saved paper with a title or an abstract: nothing to rank against", 2)
    pool = _usable(candidates, read_jsonl(candidates))
    negatives = _usable(background, read_jsonl(background)) if background else pool
    return _rank_one_off(recommender.Profile(saved=tuple(mine)), pool, negatives)


def _usable(path: Path, papers: list[recommender.Paper]) -> list[recommender.Paper]:
    """The papers that have words to rank by; the others are counted on stderr."""
    kept = [p for p in papers if p.title.strip() or p.abstract.strip()]
    if len(kept) < len(papers):
        say(
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
    """Rank papers that are not (all) stored (jobs.ranking.one_off: the one-off cache)."""
    from paperboy.jobs.ranking.one_off import rank_one_off

    return rank_one_off(profile, pool, negatives)


def _rank_venue(
    ctx: click.Context,
    venue: str,
    status: str,
    refresh: bool,
    api: str,
    user_name: str | None,
    saved: Path | None,
    background: Path | None,
    collection: str = "",
) -> list[recommender.Ranked]:
    """Rank a venue's papers (jobs.fetch.venues: fetched once, cached, refreshed when stale or
    asked) for a configured user, or for the papers of a --saved file."""
    from paperboy.jobs.fetch.bibtex import is_bibtex, read_bibtex_papers
    from paperboy.jobs.fetch.http import HttpClient
    from paperboy.jobs.fetch.venues import refresh_venue
    from paperboy.jobs.ranking.candidates import rank_for
    from paperboy.jobs.ranking.corpus import to_paper
    from paperboy.jobs.storage import Storage

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
            user = _with_collection(config, user_name, collection)
            mine = {*user.all_saved(), *storage.zotero_paper_ids(user.name)}
            pool = [stored[i] for i in sorted(set(ids)) if i in stored and i not in mine]
            return rank_for(config, storage, user, pool, collection=collection) if pool else []
    finally:
        storage.close()
    assert saved is not None
    mine_papers = read_bibtex_papers(saved) if is_bibtex(saved) else read_jsonl(saved)
    pool_papers = [to_paper(stored[i]) for i in sorted(set(ids)) if i in stored]
    negatives = read_jsonl(background) if background else pool_papers
    profile = recommender.Profile(saved=tuple(mine_papers))
    return _rank_one_off(profile, pool_papers, negatives)


def _with_collection(config: Config, name: str, collection: str) -> UserConfig:
    """The user, once --collection is known to be theirs (a usage error, exit 2, names
    their collections otherwise)."""
    user = config.user(name)
    try:
        user.collection(collection)
    except ConfigError as e:
        raise click.UsageError(str(e)) from e
    return user


def _rank_user(
    ctx: click.Context, name: str, since: date | None, collection: str = ""
) -> list[recommender.Ranked]:
    """The user's stored candidates ranked by one collection's model ("": the default)."""
    from paperboy.jobs.ranking.candidates import in_categories, rank_for

    config = _config(ctx)
    user = _with_collection(config, name, collection)
    with _storage(config) as storage:
        mine = {*user.all_saved(), *storage.zotero_paper_ids(user.name)}
        pool = [
            p
            for p in storage.listed_papers(since=since)
            if p.id not in mine and in_categories(p, user.categories)
        ]
        return rank_for(config, storage, user, pool, collection=collection) if pool else []
