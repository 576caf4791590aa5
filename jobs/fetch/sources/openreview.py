"""OpenReview's public API v2 (api2.openreview.net): a venue's papers, parsed. No I/O.

    GET /notes?content.venueid=ICLR.cc/2025/Conference&offset=0&limit=1000&sort=number:asc
    GET /notes?invitation=ICLR.cc/2025/Conference/-/Submission&offset=0&...  (submitted)
    GET /notes?content.venueid=...&select=id&offset=0&...   (which notes are in it now)
    -> {"notes": [{"id", "forum", "number", "tmdate", "invitations": [...],
                   "content": {"title": {"value"}, "abstract": {"value"},
                               "authors": {"value": [...]}, "keywords": {"value": [...]},
                               "TLDR": {"value"}, "venue": {"value": "ICLR 2025 Poster"},
                               "venueid": {"value": "ICLR.cc/2025/Conference"}, ...}}],
        "count": 3704}

Every content field is ``{"value": ...}`` in API v2 (API v1 had bare values; those are
read too). An error is ``{"name": "...Error", "message": ..., "status": 4xx}``.
Withdrawn and desk-rejected submissions keep their note, with a venueid such as
``ICLR.cc/2025/Conference/Withdrawn_Submission``: they are not papers of the venue.

Paging is by offset over a stable order, ``sort=number:asc`` (a submission's number never
changes; a new one comes last). The API's parameters, as openreview-py documents them
for ``OpenReviewClient.get_notes``/``get_all_notes`` (openreview/api/client.py): ``sort``
"Possible values: number, cdate, ddate, tcdate, tmdate, replyCount"; ``select``, the
fields to include in the response (``id`` alone makes a venue's whole membership a few
kilobytes a page).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id, canonical_doi
from paperboy.jobs.core.records import storable_fields

__all__ = [
    "OPENREVIEW_API",
    "PAGE_SIZE",
    "STATUSES",
    "NotesPage",
    "VenueNote",
    "is_withdrawn",
    "notes_url",
    "parse_note_ids",
    "parse_notes",
]

OPENREVIEW_API = "https://api2.openreview.net"
PAGE_SIZE = 1000  # the API's largest page
SORT = "number:asc"  # a stable order for offset paging (see the module's docstring)
STATUSES = ("accepted", "submitted")
_GONE = re.compile(r"/(Withdrawn|Desk_Rejected)_Submission$", re.IGNORECASE)
_WS = re.compile(r"\s+")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|10\.48550/arxiv\.|arxiv:\s*)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class VenueNote:
    """One submission note: the paper's text and where it stands at the venue."""

    id: str
    forum: str
    number: int | None
    title: str
    abstract: str
    authors: tuple[str, ...]
    keywords: tuple[str, ...]
    tldr: str | None
    venue: str | None  # the venue's words: "ICLR 2025 Poster"
    venueid: str | None  # "ICLR.cc/2025/Conference", ".../Withdrawn_Submission", ...
    arxiv_id: str | None
    doi: str | None
    tmdate: int | None  # last modified, ms since the epoch

    def __post_init__(self) -> None:
        storable_fields(self)  # NUL and lone surrogates out (jobs.core.records)

    @property
    def link(self) -> str:
        return f"https://openreview.net/forum?id={self.forum or self.id}"


@dataclass(frozen=True, slots=True)
class NotesPage:
    notes: tuple[VenueNote, ...]
    count: int | None  # how many notes the whole query has, when the API says


def notes_url(
    base: str,
    venue: str,
    status: str,
    *,
    offset: int,
    limit: int = PAGE_SIZE,
    mintmdate: int | None = None,
    select: str | None = None,
) -> str:
    """One page of a venue's accepted papers (venueid) or of its submissions (invitation).

    ``mintmdate``: only notes modified since then (ms), for a refresh of a cached list;
    ``select="id"``: only the notes' ids (parse_note_ids), for the membership check.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    params: dict[str, str | int] = (
        {"content.venueid": venue}
        if status == "accepted"
        else {"invitation": f"{venue}/-/Submission"}
    )
    if mintmdate is not None:
        params["mintmdate"] = mintmdate
    if select is not None:
        params["select"] = select
    params.update(offset=offset, limit=limit, sort=SORT)
    return f"{base.rstrip('/')}/notes?{urlencode(params, safe='/:,')}"


def is_withdrawn(note: VenueNote) -> bool:
    """Withdrawn or desk-rejected: the venueid (or the venue's words) say so."""
    if note.venueid and _GONE.search(note.venueid):
        return True
    label = (note.venue or "").lower()
    return "withdrawn" in label or "desk rejected" in label or "desk-rejected" in label


def parse_notes(data: bytes, *, url: str = "") -> NotesPage:
    """Parse one page of ``/notes``. ParseError names what is wrong: not JSON (cut short),
    the API's own error, no ``notes`` array, a note without an id or a title."""
    where = f" from {url}" if url else ""
    notes, count = _notes_array(data, where)
    return NotesPage(tuple(_note(n, i, where) for i, n in enumerate(notes)), count)


def parse_note_ids(data: bytes, *, url: str = "") -> tuple[tuple[str, ...], int | None]:
    """The note ids of one page of ``/notes?select=id`` (full notes do as well), and the
    query's ``count``. ParseError as for parse_notes, or for a note without an id."""
    where = f" from {url}" if url else ""
    notes, count = _notes_array(data, where)
    ids = []
    for i, note in enumerate(notes):
        note_id = note.get("id") if isinstance(note, Mapping) else None
        if not isinstance(note_id, str) or not note_id:
            raise ParseError(f"note #{i + 1}{where} has no id")
        ids.append(note_id)
    return tuple(ids), count


def _notes_array(data: bytes, where: str) -> tuple[list[Any], int | None]:
    """The ``notes`` array and ``count`` of a /notes answer (see parse_notes)."""
    if not data.strip():
        raise ParseError(f"empty OpenReview response{where}")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ParseError(
            f"the OpenReview response{where} is not valid JSON (cut short?): {e}"
        ) from e
    if not isinstance(raw, Mapping):
        raise ParseError(
            f"the OpenReview response{where} is a JSON {type(raw).__name__}, not an object"
        )
    if "notes" not in raw and ("message" in raw or "name" in raw):
        raise ParseError(
            f"OpenReview API error{where}: {raw.get('name') or 'error'}: {raw.get('message')}"
        )
    notes = raw.get("notes")
    if not isinstance(notes, list):
        raise ParseError(f"the OpenReview response{where} has no 'notes' array")
    count = raw.get("count")
    return notes, (count if isinstance(count, int) and count >= 0 else None)


def _note(note: Any, index: int, where: str) -> VenueNote:
    if not isinstance(note, Mapping):
        raise ParseError(f"note #{index + 1}{where} is not an object")
    note_id = note.get("id")
    content = note.get("content")
    if not isinstance(note_id, str) or not note_id:
        raise ParseError(f"note #{index + 1}{where} has no id")
    if not isinstance(content, Mapping):
        raise ParseError(f"note {note_id}{where} has no content")
    title = _text(_value(content, "title"))
    if not title:
        raise ParseError(f"note {note_id}{where} has no content.title.value")
    number = note.get("number")
    tmdate = note.get("tmdate") if note.get("tmdate") is not None else note.get("mdate")
    return VenueNote(
        id=note_id,
        forum=str(note.get("forum") or note_id),
        number=number if isinstance(number, int) else None,
        title=title,
        abstract=_text(_value(content, "abstract")),
        authors=_strings(_value(content, "authors")),
        keywords=_strings(_value(content, "keywords")),
        tldr=_text(_value(content, "TLDR")) or _text(_value(content, "TL;DR")) or None,
        venue=_text(_value(content, "venue")) or None,
        venueid=_text(_value(content, "venueid")) or None,
        arxiv_id=_arxiv(content),
        doi=_doi(content),
        tmdate=tmdate if isinstance(tmdate, int) else None,
    )


def _value(content: Mapping[str, Any], key: str) -> Any:
    field = content.get(key)
    if isinstance(field, Mapping):
        return field.get("value")
    return field  # API v1: bare values


def _text(value: Any) -> str:
    return _WS.sub(" ", value).strip() if isinstance(value, str) else ""


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    if not isinstance(value, list):
        return ()
    return tuple(t for t in (_text(v) for v in value) if t)


def _arxiv(content: Mapping[str, Any]) -> str | None:
    for key in ("arxiv", "arXiv", "arxiv_id", "preprint", "html", "_bibtex"):
        value = _value(content, key)
        if not isinstance(value, str):
            continue
        for match in _ARXIV_IN_TEXT.finditer(value):
            try:
                return canonical_arxiv_id(match.group(1))[0]
            except UnknownPaperError:
                continue
        if key in ("arxiv", "arXiv", "arxiv_id"):
            try:
                return canonical_arxiv_id(value)[0]
            except UnknownPaperError:
                continue
    return None


def _doi(content: Mapping[str, Any]) -> str | None:
    value = _value(content, "doi") or _value(content, "DOI")
    return canonical_doi(value) if isinstance(value, str) and value.strip() else None
