"""A venue's papers from OpenReview, cached in the database, as canonical papers (#15).

    state = the venue's cached list (venue, accepted | submitted)
    if cached and fresh (fetched within max_age) and not forced: use it, no request
    else:
        GET /notes (content.venueid = venue | invitation = venue/-/Submission), 1000 a page,
            offset by offset in a stable order (number) until `count`; a refresh asks only
            for notes modified since the newest one cached (mintmdate)
        a refresh also lists the ids the query matches now (select=id): a cached note
            that is no longer among them left the venue -> out of the list (a withdrawal
            changes an accepted paper's venueid, so the modified notes never show it)
        fewer notes than `count`, a page that is not JSON -> ParseError, the cache stays
        withdrawn / desk-rejected notes -> out of the list
        each note -> its canonical paper: arXiv id when the note gives one, else DOI,
            else a stored paper with the same normalised title and first author (the
            arXiv row of the same paper), else the title's key (jobs.core.ids.title_key)
        one transaction: the papers (TL;DR kept) and the venue's list

Plain HTTP through jobs.fetch.http rather than openreview-py: the public API needs no login;
two query forms and offset paging are all Paperboy uses; openreview-py brings a dozen
dependencies (requests, pycryptodome, tld, pylatexenc pinned, tqdm...) and its own retry
and sleep, where jobs.fetch.http already has timeouts, retries, Retry-After, a size cap and an
injectable clock that the tests drive.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from paperboy.jobs.core.errors import ParseError, SourceError
from paperboy.jobs.core.ids import normalised_title, title_key
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.sources.openreview import (
    OPENREVIEW_API,
    PAGE_SIZE,
    VenueNote,
    is_withdrawn,
    notes_url,
    parse_note_ids,
    parse_notes,
)
from paperboy.jobs.storage import Storage, StoredPaper, VenueEntry, utcnow

log = logging.getLogger(__name__)

MAX_PAGES = 200  # 200,000 notes: a loop guard
DEFAULT_MAX_AGE = timedelta(days=1)
TLDR_SOURCE = "OpenReview"


@dataclass(frozen=True, slots=True)
class VenueReport:
    """What getting a venue's papers did: cached (no request), ok (fetched) or error."""

    venue: str
    status: str  # accepted | submitted
    result: str  # cached | ok | error
    papers: int = 0  # in the venue's list now
    received: int = 0
    new: int = 0
    updated: int = 0
    removed: int = 0
    error: str | None = None


def source_name(venue: str) -> str:
    return f"openreview:{venue}"


def refresh_venue(
    storage: Storage,
    client: HttpClient,
    venue: str,
    status: str = "accepted",
    *,
    base: str = OPENREVIEW_API,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    listed: bool = False,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> VenueReport:
    """Bring the cached list of a venue up to date (see the module's docstring).

    ``max_age`` None: always ask (incrementally); ``listed``: the papers are news (a
    configured source), digest candidates. Raises SourceError (recorded on the venue)
    when the list cannot be fetched; the cached list is untouched then.
    """
    now = now or utcnow()
    state = storage.venue_state(venue, status)
    fresh = (
        state is not None
        and state.fetched_at is not None
        and max_age is not None
        and now - state.fetched_at < max_age
    )
    if fresh and state is not None:
        return VenueReport(venue, status, "cached", papers=state.paper_count or 0)
    since = state.max_tmdate if state is not None and state.fetched_at is not None else None
    full = since is None
    try:
        notes = _fetch(client, base, venue, status, since=since, page_size=page_size)
        # Removals: the incremental query cannot show a note that no longer matches it.
        current = None if full else _current_ids(client, base, venue, status, page_size)
    except SourceError as e:
        storage.record_venue_error(venue, status, str(e))
        raise
    kept = [
        n for n in notes if not is_withdrawn(n) and (status == "submitted" or _accepted(n, venue))
    ]
    keep = {n.id for n in kept}
    gone = [n.id for n in notes if n.id not in keep]
    before = {e.note_id for e in storage.venue_entries(venue, status)}
    if current is not None:
        gone += sorted(before - current - keep)
    ids = canonical_ids(storage, kept)
    papers = [_paper(n, ids[n.id]) for n in kept]
    entries = [VenueEntry(n.id, ids[n.id], n.venue, n.tmdate) for n in kept]
    stamps = [n.tmdate for n in notes if n.tmdate is not None]
    newest = max([*stamps, *([since] if since is not None else [])], default=None)
    result = storage.store_venue(
        venue,
        status,
        papers=papers,
        entries=entries,
        removed=gone,
        full=full,
        max_tmdate=newest,
        listed=listed,
    )
    after = {e.note_id for e in storage.venue_entries(venue, status)}
    count = len(after)
    log.info(
        "%s (%s): %d notes received, %d kept (%d new papers), %d left; %d in the list",
        venue,
        status,
        len(notes),
        len(kept),
        result.new,
        len(before - after),
        count,
    )
    return VenueReport(
        venue,
        status,
        "ok",
        papers=count,
        received=len(notes),
        new=result.new,
        updated=result.updated,
        removed=len(before - after),
    )


def _accepted(note: VenueNote, venue: str) -> bool:
    return note.venueid is None or note.venueid == venue


def _fetch(
    client: HttpClient,
    base: str,
    venue: str,
    status: str,
    *,
    since: int | None,
    page_size: int,
) -> list[VenueNote]:
    notes: list[VenueNote] = []
    count: int | None = None
    for page in range(MAX_PAGES):
        url = notes_url(base, venue, status, offset=len(notes), limit=page_size, mintmdate=since)
        response = client.get(url)
        parsed = parse_notes(response.content or b"", url=url)
        if page == 0:
            count = parsed.count
        notes.extend(parsed.notes)
        if not parsed.notes or len(parsed.notes) < page_size:
            break
        if count is not None and len(notes) >= count:
            break
    else:
        raise ParseError(f"{venue}: more than {MAX_PAGES} pages of notes; stopped")
    # A note that left the query while we paged shifts the later ones back by one: one
    # is skipped (the count check below refuses the answer) or one seen twice (kept once).
    notes = list({n.id: n for n in notes}.values())
    if count is not None and len(notes) < count:
        raise ParseError(
            f"{venue}: got {len(notes)} of the {count} notes OpenReview announced: a partial "
            "answer; the cached list is unchanged"
        )
    if page == 0 and not notes and since is None:
        log.warning("%s (%s): OpenReview has no notes; is the venue id right?", venue, status)
    return notes


def _current_ids(
    client: HttpClient, base: str, venue: str, status: str, page_size: int
) -> set[str]:
    """The ids of every note the venue's query matches now (select=id: a few KB a page).

    ParseError for fewer than the announced count (a note left while we paged): the
    cached list is then left as it is, and the next refresh checks again.
    """
    ids: set[str] = set()
    seen = 0
    count: int | None = None
    for page in range(MAX_PAGES):
        url = notes_url(base, venue, status, offset=seen, limit=page_size, select="id")
        got, total = parse_note_ids(client.get(url).content or b"", url=url)
        if page == 0:
            count = total
        ids.update(got)
        seen += len(got)
        if len(got) < page_size or (count is not None and seen >= count):
            break
    else:
        raise ParseError(f"{venue}: more than {MAX_PAGES} pages of note ids; stopped")
    if count is not None and len(ids) < count:
        raise ParseError(
            f"{venue}: got {len(ids)} of the {count} note ids OpenReview announced: the "
            "venue changed while it was read; the cached list is unchanged"
        )
    return ids


def _paper(note: VenueNote, pid: str) -> SourcePaper:
    return SourcePaper(
        id=pid,
        title=note.title,
        abstract=note.abstract,
        authors=note.authors,
        categories=(),
        link=note.link,
        tldr=note.tldr,
        tldr_source=TLDR_SOURCE if note.tldr else None,
    )


def _surname(name: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    words = folded.casefold().replace(",", " ").split()
    return words[-1] if words else ""


def canonical_ids(storage: Storage, notes: Sequence[VenueNote]) -> dict[str, str]:
    """Each note's canonical paper id: its arXiv id, else its DOI, else a stored paper's
    id with the same normalised title and first author (the arXiv row), else the title
    key. So the same paper from arXiv and from OpenReview is one row."""
    out: dict[str, str] = {}
    pending: list[VenueNote] = []
    for n in notes:
        if n.arxiv_id or n.doi:
            out[n.id] = n.arxiv_id or n.doi or ""
        else:
            pending.append(n)
    by_title = storage.papers_by_title(normalised_title(n.title) for n in pending)
    for n in pending:
        key = normalised_title(n.title)
        match = _same_paper(n, by_title.get(key, []))
        out[n.id] = match.id if match is not None else title_key(n.title)
    return out


def _same_paper(note: VenueNote, stored: Sequence[StoredPaper]) -> StoredPaper | None:
    """The stored paper with the note's first author (arXiv ids first); a title alone is
    not enough, unless one side lists no authors."""
    first = _surname(note.authors[0]) if note.authors else ""
    ranked = sorted(stored, key=lambda p: (p.id.startswith("title:"), p.id))
    for paper in ranked:
        theirs = _surname(paper.authors[0]) if paper.authors else ""
        if not first or not theirs or first == theirs:
            return paper
    return None
