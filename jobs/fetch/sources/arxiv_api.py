"""The arXiv API (export.arxiv.org/api/query): look papers up by id, parse the Atom reply.

The response format is documented at https://info.arxiv.org/help/api/user-manual.html.
The API reports a bad request as a feed holding one entry whose id is
``http://arxiv.org/api/errors#...`` with the message in ``<summary>``; an id it does not
know gives an empty feed.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import feedparser

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id
from paperboy.jobs.core.records import SourcePaper
from paperboy.text import collapse_whitespace

__all__ = [
    "API_URL",
    "MAX_IDS",
    "SearchPage",
    "category_search_url",
    "id_list_url",
    "parse_arxiv_api",
    "parse_arxiv_search",
]

log = logging.getLogger(__name__)

API_URL = "https://export.arxiv.org/api/query"
MAX_IDS = 100  # ids per request: one lookup stays one page of results

_ERROR_ID = re.compile(r"^https?://arxiv\.org/api/errors", re.IGNORECASE)
_COMPLETE = re.compile(rb"</feed>\s*\Z")


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of an API search: its papers, dated, and where it sits in the results."""

    papers: tuple[SourcePaper, ...]
    total: int | None  # opensearch:totalResults
    start: int | None  # opensearch:startIndex


def parse_arxiv_api(data: bytes) -> list[SourcePaper]:
    """Parse an arXiv API Atom response into papers with canonical ids.

    Raises ParseError with the API's own message for an error entry, for a body that
    is not an Atom feed, and for one cut short (its entries would otherwise pass for the
    whole answer, and the ids after the cut for unknown). An unknown id yields an empty
    list. ``announced`` stays None: ``<published>`` is when v1 was submitted, not the
    day arXiv announced it.
    """
    return [paper for paper, _published in _parse_entries(_parse(data))]


def parse_arxiv_search(data: bytes) -> SearchPage:
    """Parse one page of an API search (``search_query=...``), for the first-run backfill.

    As parse_arxiv_api, but each paper's ``announced`` is the UTC day of its
    ``<published>`` (the submission of v1): an approximation of the announcement day,
    which is usually that day or one to three days later (weekends, holidays).
    """
    parsed = _parse(data)
    feed = parsed.get("feed", {})
    papers = tuple(
        replace(paper, announced=published) if published else paper
        for paper, published in _parse_entries(parsed)
    )
    return SearchPage(
        papers=papers,
        total=_int(feed.get("opensearch_totalresults")),
        start=_int(feed.get("opensearch_startindex")),
    )


def _parse(data: bytes) -> Any:
    if not data.strip():
        raise ParseError("empty arXiv API response: expected an Atom feed")
    parsed: Any = feedparser.parse(
        io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False
    )
    if not (parsed.get("version") or "").startswith("atom"):
        fault = parsed.get("bozo_exception")
        raise ParseError(
            f"the arXiv API response is not an Atom feed ({fault or 'no feed element'})"
        )
    if parsed.get("bozo"):
        fault = parsed.get("bozo_exception")
        if not isinstance(fault, feedparser.ThingsNobodyCaresAboutButMe):
            if not _COMPLETE.search(data[-512:]):
                raise ParseError(f"the arXiv API response is truncated or malformed XML: {fault}")
            log.warning("arXiv API response is not well-formed (%s); parsed leniently", fault)
    return parsed


def _parse_entries(parsed: Any) -> list[tuple[SourcePaper, date | None]]:
    papers: list[tuple[SourcePaper, date | None]] = []
    for entry in parsed.get("entries", []):
        entry_id = entry.get("id", "")
        if _ERROR_ID.match(entry_id):
            message = collapse_whitespace(entry.get("summary", "")) or entry_id
            raise ParseError(f"arXiv API error: {message}")
        try:
            arxiv_id, version = canonical_arxiv_id(entry_id)
        except UnknownPaperError as e:
            raise ParseError(f"arXiv API entry with an unreadable id {entry_id!r}") from e
        primary = (entry.get("arxiv_primary_category") or {}).get("term")
        categories = [primary] if primary else []
        categories += [t["term"] for t in entry.get("tags", []) if t.get("term")]
        comment = collapse_whitespace(entry.get("arxiv_comment", "")) or None
        paper = SourcePaper(
            id=arxiv_id,
            title=collapse_whitespace(entry.get("title", "")),
            abstract=collapse_whitespace(entry.get("summary", "")),
            authors=tuple(
                collapse_whitespace(a["name"]) for a in entry.get("authors", []) if a.get("name")
            ),
            categories=tuple(dict.fromkeys(categories)),  # primary first, no repeats
            link=abs_url(arxiv_id),
            version=version,
            comment=comment,
        )
        papers.append((paper, _utc_day(entry.get("published"))))
    return papers


def id_list_url(ids: Sequence[str]) -> str:
    """The API URL that looks up ``ids`` (any form canonical_arxiv_id accepts; <= 100).

    A version given in an id is kept (the API then returns that version). Raises
    ValueError for no ids or more than MAX_IDS, UnknownPaperError for an invalid one.
    """
    if isinstance(ids, str):
        raise TypeError("id_list_url() takes a sequence of ids, not one string")
    wanted: list[str] = []
    for text in ids:
        arxiv_id, version = canonical_arxiv_id(text)
        wanted.append(arxiv_id if version is None else f"{arxiv_id}v{version}")
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        raise ValueError("id_list_url() needs at least one id")
    if len(wanted) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} ids per request, got {len(wanted)}: split the list")
    query = urlencode({"id_list": ",".join(wanted), "max_results": len(wanted)}, safe=",/")
    return f"{API_URL}?{query}"


def category_search_url(categories: Sequence[str], *, start: int, max_results: int) -> str:
    """The API URL of one page of the newest submissions to ``categories``.

    ``search_query=cat:cs.LG+OR+cat:cs.CL&sortBy=submittedDate&sortOrder=descending``:
    cross-lists match too, as in the RSS listing of those categories.
    """
    if not categories:
        raise ValueError("category_search_url() needs at least one category")
    query = " OR ".join(f"cat:{c}" for c in categories)
    params = {
        "search_query": query,
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": start,
        "max_results": max_results,
    }
    return f"{API_URL}?{urlencode(params, safe=':')}"


def _utc_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
