"""The fetch job: bring every configured source's new papers into storage.

    for each source:
        response = conditional GET (304 -> "unchanged")
        feed     = parse(response)                 # pure; ParseError on bad input
        keep     = the announce types the config asks for
        storage.upsert(keep, listed=True)          # one transaction per source
        record the source's result (its error, if any) and go on with the next source
    then look up, by the arXiv API, the users' saved papers that are not stored yet

A failing source never stops the others and never touches what was stored before.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jobs.config import Config
from jobs.errors import ParseError, SourceError, UnknownPaperError
from jobs.http import HttpClient
from jobs.ids import canonical_arxiv_id
from jobs.sources.arxiv_api import id_list_url, parse_arxiv_api
from jobs.sources.arxiv_rss import parse_arxiv_rss
from jobs.sources.base import ParsedFeed, SourcePaper
from jobs.storage import Storage, UpsertResult

log = logging.getLogger(__name__)

ARXIV_SOURCE = "arxiv"
LOOKUP_SOURCE = "arxiv-api"
API_BATCH = 100  # arXiv's API takes up to 100 ids per id_list request, politely


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
    skipped: dict[str, int] = field(default_factory=dict)  # announce type -> count
    error: str | None = None


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
    return SourceReport(
        name=source,
        url=url,
        status="ok",
        received=len(feed.papers),
        kept=len(kept),
        new=result.new,
        updated=result.updated,
        skipped=dict(skipped),
    )


def fetch_arxiv(config: Config, storage: Storage, client: HttpClient) -> SourceReport | None:
    """Fetch the configured arXiv categories' RSS feed (one request for all of them)."""
    if config.arxiv is None:
        return None
    url = config.arxiv.url
    state = storage.source_state(ARXIV_SOURCE)
    same_url = state is not None and state.url == url
    try:
        response = client.get(
            url,
            etag=state.etag if same_url and state else None,
            last_modified=state.last_modified if same_url and state else None,
        )
        if response.not_modified or response.content is None:
            storage.record_fetch(
                ARXIV_SOURCE,
                url=url,
                etag=response.etag,
                last_modified=response.last_modified,
                count=0,
                new=0,
            )
            log.info("%s: unchanged since the last fetch (HTTP 304)", ARXIV_SOURCE)
            return SourceReport(ARXIV_SOURCE, url, "unchanged")
        feed = parse_arxiv_rss(response.content, url=url)
        report = ingest_feed(
            storage,
            feed,
            source=ARXIV_SOURCE,
            url=url,
            announce_types=config.arxiv.announce_types,
        )
    except SourceError as e:
        log.error("%s: %s", ARXIV_SOURCE, e)
        storage.record_fetch(ARXIV_SOURCE, url=url, error=str(e))
        return SourceReport(ARXIV_SOURCE, url, "error", error=str(e))
    storage.record_fetch(
        ARXIV_SOURCE,
        url=url,
        etag=response.etag,
        last_modified=response.last_modified,
        count=report.received,
        new=report.new,
    )
    return report


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


def fetch_all(config: Config, storage: Storage, client: HttpClient) -> list[SourceReport]:
    """Run every configured source, then look up users' saved papers not yet stored."""
    reports: list[SourceReport] = []
    arxiv = fetch_arxiv(config, storage, client)
    if arxiv is not None:
        reports.append(arxiv)
    saved = [pid for user in config.users for pid in user.saved]
    if saved:
        try:
            result, unknown = lookup_papers(storage, saved, client)
        except SourceError as e:
            log.error("%s: %s", LOOKUP_SOURCE, e)
            storage.record_fetch(LOOKUP_SOURCE, url=None, error=str(e))
            reports.append(SourceReport(LOOKUP_SOURCE, "", "error", error=str(e)))
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


def read_saved_response(path: Path) -> tuple[bytes, str]:
    """Read a saved response: raw bytes, or a `{"url","status_code","body"}` capture."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e}") from e
    if path.suffix == ".json":
        try:
            capture = json.loads(data)
            body = capture["body"]
            url = str(capture.get("url") or path)
        except (ValueError, KeyError, TypeError) as e:
            raise ParseError(
                f"{path}: expected a capture {{'url', 'status_code', 'body'}}: {e!r}"
            ) from e
        if not isinstance(body, str):
            raise ParseError(
                f"{path}: the capture's body must be a string, not {type(body).__name__}"
            )
        return body.encode("utf-8"), url
    return data, str(path)


def looks_like_arxiv_api(data: bytes) -> bool:
    """An arXiv API answer is Atom with OpenSearch counts; a listing is RSS."""
    head = data[:4000]
    return b"opensearch" in head.lower() or b"export.arxiv.org/api" in head


def ingest_file(
    storage: Storage, path: Path, *, announce_types: Sequence[str] = ("new", "cross")
) -> SourceReport:
    """`paperboy fetch --from-file`: ingest a saved arXiv RSS listing or API response."""
    data, url = read_saved_response(path)
    source = f"file:{path.name}"
    if looks_like_arxiv_api(data):
        try:
            found = parse_arxiv_api(data)
        except ParseError as e:
            raise ParseError(f"{path}: {e}") from e
        result = storage.upsert_papers(found, source=LOOKUP_SOURCE, listed=False)
        return SourceReport(
            source,
            url,
            "ok",
            received=len(found),
            kept=len(found),
            new=result.new,
            updated=result.updated,
        )
    try:
        feed = parse_arxiv_rss(data, url=url)
    except ParseError as e:
        if str(path) in str(e):
            raise
        raise ParseError(f"{path}: {e}") from e
    return ingest_feed(storage, feed, source=ARXIV_SOURCE, url=url, announce_types=announce_types)
