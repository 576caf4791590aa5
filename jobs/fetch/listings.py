"""The fetch job: bring every configured source's new papers into storage.

    for each source (arXiv RSS, Hugging Face daily papers, each [[sources.feeds]]):
        response = conditional GET (304 -> "unchanged")
        feed     = parse(response)                 # pure; ParseError on bad input
        keep     = the announce types the config asks for (arXiv)
        storage.upsert(keep, listed=True)          # one transaction per source
        storage.record_trending(popularity)        # Hugging Face: upvotes, comments, rank
        an item the parser cannot read is skipped and counted ("unreadable")
        record the source's result (its error, if any) and go on with the next source:
            any exception of one source, expected (SourceError) or not, is its failure
    on the first fetch into a database without listed papers: backfill the last
        `backfill_days` days of the arXiv categories from the API, page by page
    then look up, by the arXiv API, the users' saved papers that are not stored yet

A failing source never stops the others and never touches what was stored before.
Only a failure to record a source's result (the database itself is gone) ends the run,
or a stop (the client's Stop, set by the daemon on SIGTERM): Stopped leaves fetch_all at
its next wait or between sources; the sources already fetched stay recorded, the others
are fetched by the next run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from paperboy.jobs.config.model import Config, FeedConfig, OpenReviewConfig
from paperboy.jobs.core.errors import SourceError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id, is_arxiv_id
from paperboy.jobs.core.records import ParsedFeed, SourcePaper, cut_count
from paperboy.jobs.fetch.http import HttpClient, Response
from paperboy.jobs.fetch.sources.arxiv_api import (
    category_search_url,
    id_list_url,
    parse_arxiv_api,
    parse_arxiv_search,
)
from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
from paperboy.jobs.fetch.sources.feeds import parse_feed
from paperboy.jobs.fetch.sources.huggingface import (
    TrendingPaper,
    read_hf_daily,
)
from paperboy.jobs.storage import Storage, TrendingEntry, UpsertResult

log = logging.getLogger(__name__)

ARXIV_SOURCE = "arxiv"
LOOKUP_SOURCE = "arxiv-api"
BACKFILL_SOURCE = "arxiv-backfill"
HF_SOURCE = "huggingface"
API_BATCH = 100  # arXiv's API takes up to 100 ids per id_list request, politely
BACKFILL_PAGE = 500  # results per backfill request (the API allows up to 2000)
BACKFILL_MAX_RESULTS = 30_000  # the API serves no more results than this for one query
UNREADABLE = "unreadable"  # the `skipped` count of items a parser could not read


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The outcome of one source in one run: ok, unchanged (304) or error."""

    name: str
    url: str
    status: str
    received: int = 0
    kept: int = 0
    new: int = 0
    updated: int = 0
    # why -> count: an announce type not asked for, or UNREADABLE (a bad item)
    skipped: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    cut: int = 0  # papers with a field longer than its cap (paperboy.text), stored cut

    @classmethod
    def stored(
        cls,
        name: str,
        url: str,
        result: UpsertResult,
        *,
        received: int,
        kept: int | None = None,
        skipped: dict[str, int] | None = None,
        cut: int = 0,
    ) -> SourceReport:
        """The report of a source whose papers were stored (`kept` defaults to all)."""
        return cls(
            name=name,
            url=url,
            status="ok",
            received=received,
            kept=received if kept is None else kept,
            new=result.new,
            updated=result.updated,
            skipped=skipped or {},
            cut=cut,
        )


def select_announcements(
    feed: ParsedFeed, announce_types: Sequence[str]
) -> tuple[list[SourcePaper], Counter[str]]:
    """Keep the announcement types asked for; count the others by type.

    The channel's date is the announcement day of every item that carries none.
    """
    kept: list[SourcePaper] = []
    skipped: Counter[str] = Counter()
    for paper in feed.papers:
        kind = paper.announce_type or "new"
        if kind not in announce_types:
            skipped[kind] += 1
            continue
        if paper.announced is None and feed.announced is not None:
            paper = _with_announced(paper, feed)
        kept.append(paper)
    return kept, skipped


def _with_announced(paper: SourcePaper, feed: ParsedFeed) -> SourcePaper:
    from dataclasses import replace

    return replace(paper, announced=feed.announced)


def ingest_feed(
    storage: Storage,
    feed: ParsedFeed,
    *,
    source: str,
    url: str,
    announce_types: Sequence[str],
) -> SourceReport:
    """Store a parsed arXiv listing and return what happened."""
    kept, skipped = select_announcements(feed, announce_types)
    if feed.unreadable:
        skipped[UNREADABLE] += feed.unreadable
    log.debug("%s: storing %d papers", source, len(kept))
    result = storage.upsert_papers(kept, source=source, listed=True)
    log.info(
        "%s: %d items, kept %d (%d new, %d updated), skipped %s",
        source,
        len(feed.papers),
        len(kept),
        result.new,
        result.updated,
        dict(skipped) or "none",
    )
    return SourceReport.stored(
        source,
        url,
        result,
        received=len(feed.papers) + feed.unreadable,
        kept=len(kept),
        skipped=dict(skipped),
        cut=cut_count(kept),
    )


def fetch_arxiv(config: Config, storage: Storage, client: HttpClient) -> SourceReport | None:
    """Fetch the configured arXiv categories' RSS feed (one request for all of them)."""
    arxiv = config.arxiv
    if arxiv is None:
        return None

    def ingest(data: bytes) -> SourceReport:
        feed = parse_arxiv_rss(data, url=arxiv.url)
        return ingest_feed(
            storage, feed, source=ARXIV_SOURCE, url=arxiv.url, announce_types=arxiv.announce_types
        )

    return _fetch_source(storage, client, ARXIV_SOURCE, arxiv.url, ingest)


def _today() -> date:
    return datetime.now(UTC).date()


def _conditional_get(storage: Storage, client: HttpClient, name: str, url: str) -> Response:
    """GET url with the validators of the source's last response, if it was this URL."""
    state = storage.source_state(name)
    same = state is not None and state.url == url
    return client.get(
        url,
        etag=state.etag if same and state else None,
        last_modified=state.last_modified if same and state else None,
    )


def _record_unchanged(storage: Storage, name: str, response: Response) -> SourceReport:
    storage.record_fetch(
        name,
        url=response.url,
        etag=response.etag,
        last_modified=response.last_modified,
        count=0,
        new=0,
    )
    log.info("%s: unchanged since the last fetch (HTTP 304)", name)
    return SourceReport(name, response.url, "unchanged")


def _record_failure(storage: Storage, name: str, url: str | None, error: Exception) -> SourceReport:
    """Record a source's failure as its last error (`paperboy status` shows it).

    A SourceError is expected (HTTP, parse) and says what happened; anything else is a
    defect met on this source's data: logged with its traceback, and named by its type.
    """
    if isinstance(error, SourceError):
        message = str(error)
        log.error("%s: %s", name, message)
    else:
        message = f"unexpected error: {type(error).__name__}: {error}"
        log.error("%s: %s", name, message, exc_info=error)
    storage.record_fetch(name, url=url, error=message)
    return SourceReport(name, url or "", "error", error=message)


def _fetch_source(
    storage: Storage,
    client: HttpClient,
    name: str,
    url: str,
    ingest: Callable[[bytes], SourceReport],
) -> SourceReport:
    """One source's run: conditional GET -> parse and store (`ingest`) -> record the result.

    A 304 is "unchanged"; any exception (a SourceError for HTTP and parse failures, or
    anything the data provoked: a StorageError, a ValueError) becomes the source's last
    error and leaves everything stored before untouched (ingest stores in one
    transaction). BaseExceptions (KeyboardInterrupt, SystemExit) go through.
    """
    try:
        response = _conditional_get(storage, client, name, url)
        if response.not_modified or response.content is None:
            return _record_unchanged(storage, name, response)
        report = ingest(response.content)
    except Exception as e:  # one source's failure never stops the others
        return _record_failure(storage, name, url, e)
    storage.record_fetch(
        name,
        url=url,
        etag=response.etag,
        last_modified=response.last_modified,
        count=report.received,
        new=report.new,
    )
    return report


def ingest_trending(
    storage: Storage,
    items: Sequence[TrendingPaper],
    *,
    source: str,
    url: str,
    today: date | None = None,
    unreadable: int = 0,
) -> SourceReport:
    """Store trending papers as listed papers, and their popularity on their day, in one
    transaction.

    An item whose day the source did not say counts for ``today`` (UTC). ``unreadable``:
    the items the parser skipped, for the report.
    """
    day = today or _today()
    result = storage.store_trending(
        (t.paper for t in items),
        (
            TrendingEntry(t.paper.id, t.day or day, source, t.upvotes, t.comments, t.rank)
            for t in items
        ),
        source=source,
    )
    log.info(
        "%s: %d trending papers (%d new, %d updated)",
        source,
        len(items),
        result.new,
        result.updated,
    )
    return SourceReport.stored(
        source,
        url,
        result,
        received=len(items) + unreadable,
        kept=len(items),
        skipped={UNREADABLE: unreadable} if unreadable else None,
        cut=cut_count(t.paper for t in items),
    )


def fetch_huggingface(
    config: Config, storage: Storage, client: HttpClient, *, today: date | None = None
) -> SourceReport | None:
    """Fetch the Hugging Face daily papers: each a listed paper, plus its popularity."""
    if config.huggingface is None or not config.huggingface.enabled:
        return None
    url = config.huggingface.url

    def ingest(data: bytes) -> SourceReport:
        items, unreadable = read_hf_daily(data, url=url)
        return ingest_trending(
            storage, items, source=HF_SOURCE, url=url, today=today, unreadable=unreadable
        )

    return _fetch_source(storage, client, HF_SOURCE, url, ingest)


def ingest_generic_feed(
    storage: Storage, feed: ParsedFeed, *, source: str, url: str, today: date | None = None
) -> SourceReport:
    """Store a parsed RSS/Atom feed's papers as listed; undated items count for today.

    An item that is an arXiv paper already stored only adds the sighting: a blog's post
    title is not the paper's title, and arXiv's (or Hugging Face's) text stays.
    """
    day = today or _today()
    papers = [p if p.announced else replace(p, announced=day) for p in feed.papers]
    known = storage.get_papers([p.id for p in papers if is_arxiv_id(p.id)])
    papers = [replace(p, title="", abstract="", authors=()) if p.id in known else p for p in papers]
    result = storage.upsert_papers(papers, source=source, listed=True)
    log.info("%s: %d items (%d new, %d updated)", source, len(papers), result.new, result.updated)
    return SourceReport.stored(
        source,
        url,
        result,
        received=len(papers) + feed.unreadable,
        kept=len(papers),
        skipped={UNREADABLE: feed.unreadable} if feed.unreadable else None,
        cut=cut_count(papers),
    )


def fetch_feed(
    feed: FeedConfig, storage: Storage, client: HttpClient, *, today: date | None = None
) -> SourceReport:
    """Fetch one [[sources.feeds]] feed; its config name is its source name."""

    def ingest(data: bytes) -> SourceReport:
        parsed = parse_feed(data, url=feed.url, name=feed.name)
        return ingest_generic_feed(storage, parsed, source=feed.name, url=feed.url, today=today)

    return _fetch_source(storage, client, feed.name, feed.url, ingest)


def backfill_arxiv(
    config: Config,
    storage: Storage,
    client: HttpClient,
    days: int,
    *,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SourceReport | None:
    """Fetch the last ``days`` days of the configured categories from the arXiv API.

    For a first run, so a new user's first digest is not empty. The API is searched
    newest submission first, BACKFILL_PAGE results a request (HttpClient keeps arXiv's
    3 s between requests), until a paper older than ``today - days`` shows up. Each
    paper's ``announced`` is the day of its ``<published>`` (the submission of v1): an
    approximation, as arXiv announces a paper that evening or up to three days later.
    A paper whose primary category is configured counts as ``new``, else ``cross``;
    the config's announce_types apply. Papers a listing already brought are left as
    they are (their announcement day is exact). A failure keeps the pages before it.
    ``progress(days covered, days)`` is called after each page.
    """
    if config.arxiv is None or days < 1:
        return None
    categories = config.arxiv.categories
    since = (today or _today()) - timedelta(days=days)
    first_url = category_search_url(categories, start=0, max_results=BACKFILL_PAGE)
    found: list[SourcePaper] = []
    error: SourceError | None = None
    start = 0
    try:
        while start < BACKFILL_MAX_RESULTS:
            url = category_search_url(categories, start=start, max_results=BACKFILL_PAGE)
            response = client.get(url)
            page = parse_arxiv_search(response.content or b"")
            if not page.papers:
                break
            fresh = [p for p in page.papers if p.announced is None or p.announced >= since]
            found.extend(fresh)
            start += len(page.papers)
            if progress is not None:
                dated = [p.announced for p in page.papers if p.announced is not None]
                covered = (since + timedelta(days=days) - min(dated)).days if dated else 0
                progress(min(max(covered, 0), days), days)
            if len(fresh) < len(page.papers):
                break  # sorted newest first: the rest is older still
            if page.total is not None and start >= page.total:
                break
    except SourceError as e:
        error = e
    if progress is not None and error is None:
        progress(days, days)
    typed = tuple(
        replace(
            p,
            announce_type="new" if p.categories[:1] and p.categories[0] in categories else "cross",
        )
        for p in found
    )
    kept, skipped = select_announcements(ParsedFeed(papers=typed), config.arxiv.announce_types)
    stored = storage.get_papers([p.id for p in kept])
    kept = [p for p in kept if p.id not in stored or stored[p.id].listed_at is None]
    result = storage.upsert_papers(kept, source=BACKFILL_SOURCE, listed=True)
    log.info(
        "%s: %d papers since %s, kept %d (%d new, %d updated)",
        BACKFILL_SOURCE,
        len(found),
        since,
        len(kept),
        result.new,
        result.updated,
    )
    if error is not None:
        log.error("%s: %s", BACKFILL_SOURCE, error)
        storage.record_fetch(BACKFILL_SOURCE, url=first_url, error=str(error))
        return SourceReport(
            BACKFILL_SOURCE,
            first_url,
            "error",
            received=len(found),
            kept=len(kept),
            new=result.new,
            updated=result.updated,
            skipped=dict(skipped),
            error=str(error),
        )
    storage.record_fetch(BACKFILL_SOURCE, url=first_url, count=len(found), new=result.new)
    return SourceReport.stored(
        BACKFILL_SOURCE,
        first_url,
        result,
        received=len(found),
        kept=len(kept),
        skipped=dict(skipped),
        cut=cut_count(kept),
    )


def lookup_papers(
    storage: Storage, ids: Iterable[str], client: HttpClient
) -> tuple[UpsertResult, list[str]]:
    """Fetch metadata for ids not stored yet from the arXiv API, 100 per request.

    Returns what was stored and the ids arXiv did not know. Such papers are not listed
    (they are a user's library, not news).
    """
    wanted: list[str] = []
    invalid: list[str] = []
    for text in ids:
        try:
            canonical, _version = canonical_arxiv_id(text)
        except UnknownPaperError:
            invalid.append(text)
            continue
        wanted.append(canonical)
    wanted = sorted(set(wanted))
    stored = storage.get_papers(wanted)  # once: not one query per id
    missing = [i for i in wanted if i not in stored]
    found: list[SourcePaper] = []
    try:
        for start in range(0, len(missing), API_BATCH):
            batch = missing[start : start + API_BATCH]
            response = client.get(id_list_url(batch))
            if response.content is None:
                continue
            found.extend(parse_arxiv_api(response.content))
    except SourceError:
        # Keep what the earlier batches brought; the failure is still reported.
        if found:
            storage.upsert_papers(found, source=LOOKUP_SOURCE, listed=False)
        raise
    result = storage.upsert_papers(found, source=LOOKUP_SOURCE, listed=False)
    known = {p.id for p in found}
    unknown = invalid + [i for i in missing if i not in known]
    for pid in unknown:
        log.warning("arXiv does not know the saved paper %s", pid)
    return result, unknown


def fetch_all(
    config: Config, storage: Storage, client: HttpClient, *, today: date | None = None
) -> list[SourceReport]:
    """Run every configured source, then look up users' saved papers not yet stored.

    The first fetch into a database holding no listed papers also backfills the last
    ``[sources.arxiv] backfill_days`` days from the arXiv API (after the RSS listing).
    Raises Stopped (jobs.core.stopping) between sources once the client's Stop is set.
    """
    reports: list[SourceReport] = []
    first_run = (
        config.arxiv is not None
        and config.arxiv.backfill_days > 0
        and storage.newest_listing() is None
    )
    arxiv = fetch_arxiv(config, storage, client)
    if arxiv is not None:
        reports.append(arxiv)
    client.check_stop()
    if first_run and config.arxiv is not None:
        log.info("first fetch: backfilling %d days from the arXiv API", config.arxiv.backfill_days)
        try:
            backfill = backfill_arxiv(
                config, storage, client, config.arxiv.backfill_days, today=today
            )
        except Exception as e:  # its own SourceErrors it reports itself
            backfill = _record_failure(storage, BACKFILL_SOURCE, None, e)
        if backfill is not None:
            reports.append(backfill)
    client.check_stop()
    trending = fetch_huggingface(config, storage, client, today=today)
    if trending is not None:
        reports.append(trending)
    for feed in config.feeds:
        client.check_stop()
        reports.append(fetch_feed(feed, storage, client, today=today))
    for venue in config.openreview:
        client.check_stop()
        reports.append(fetch_openreview(venue, storage, client))
    client.check_stop()
    reports.extend(fetch_zotero(config, storage, client))
    client.check_stop()
    saved = [pid for user in config.users for pid in user.saved_everywhere()]
    # Zotero items with an arXiv id but no abstract in Zotero: arXiv has it.
    saved += [
        pid
        for user in config.users
        if user.zotero
        for pid in storage.zotero_paper_ids(user.name)
        if is_arxiv_id(pid)
    ]
    if saved:
        try:
            result, unknown = lookup_papers(storage, saved, client)
        except Exception as e:
            reports.append(_record_failure(storage, LOOKUP_SOURCE, None, e))
        else:
            storage.record_fetch(LOOKUP_SOURCE, url=None, count=result.total, new=result.new)
            reports.append(
                SourceReport(
                    LOOKUP_SOURCE,
                    "",
                    "ok",
                    received=result.total,
                    kept=result.total,
                    new=result.new,
                    updated=result.updated,
                    error=f"unknown ids: {', '.join(unknown)}" if unknown else None,
                )
            )
    return reports


def fetch_openreview(venue: OpenReviewConfig, storage: Storage, client: HttpClient) -> SourceReport:
    """A [[sources.openreview]] venue: its new and changed papers, as news (listed)."""
    from paperboy.jobs.fetch.venues import refresh_venue

    name = venue.name
    try:
        r = refresh_venue(
            storage,
            client,
            venue.venue,
            venue.status,
            base=venue.api_url,
            max_age=None,
            listed=True,
        )
    except Exception as e:  # one venue's failure never stops the other sources
        return _record_failure(storage, name, venue.api_url, e)
    storage.record_fetch(name, url=venue.api_url, count=r.received, new=r.new)
    return SourceReport(
        name,
        venue.api_url,
        "ok",
        received=r.received,
        kept=r.papers,
        new=r.new,
        updated=r.updated,
    )


def fetch_zotero(
    config: Config, storage: Storage, client: HttpClient, *, user: str | None = None
) -> list[SourceReport]:
    """Sync the users' Zotero libraries (fetch.zotero_sync), as source reports ``zotero:NAME``."""
    from paperboy.jobs.fetch.zotero_sync import source_name, sync_user

    reports = []
    for u in config.users:
        if u.zotero is None or (user is not None and u.name != user):
            continue
        r = sync_user(u, storage, client)  # never raises: a failure is its report
        reports.append(
            SourceReport(
                source_name(r.user),
                r.library,
                r.status,
                received=r.received,
                kept=r.total,
                new=r.added,
                updated=r.removed,
                error=r.error,
            )
        )
    return reports
