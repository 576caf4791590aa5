"""Hugging Face daily papers (huggingface.co/api/daily_papers): parse the JSON answer.

The API answers with a JSON array; each item is one paper featured on the day's page::

    {"paper": {"id": "2606.13681", "upvotes": 118, "title": ..., "summary": ...,
               "authors": [{"name": ...}, ...], "publishedAt": "2026-06-11T00:00:00.000Z",
               "submittedOnDailyAt": "2026-06-12T00:00:00.000Z",
               "ai_summary": ..., "ai_keywords": [...]},
     "title": ..., "summary": ..., "publishedAt": ..., "numComments": 3, ...}

``paper.id`` is an arXiv id, so every item becomes an ordinary paper (stored like any
other, and a digest candidate) plus its popularity on that day: upvotes, comments and
its rank on the page. Nothing here does I/O.
"""

from __future__ import annotations

import codecs
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id
from paperboy.jobs.core.records import SourcePaper, storable_fields

__all__ = [
    "HF_DAILY_URL",
    "MAX_COUNT",
    "TrendingPaper",
    "looks_like_hf_daily",
    "parse_hf_daily",
    "read_hf_daily",
]

log = logging.getLogger(__name__)

HF_DAILY_URL = "https://huggingface.co/api/daily_papers"

MAX_COUNT = 2**31 - 1  # the storage's Integer column (32 bits on PostgreSQL)
_WS = re.compile(r"\s+")
_HTML = re.compile(rb"\A\s*<", re.S)


@dataclass(frozen=True, slots=True)
class TrendingPaper:
    """One paper of the daily page: the paper itself and how popular it was that day."""

    paper: SourcePaper
    upvotes: int
    comments: int
    day: date | None  # the day of the daily page that featured it (None: not said)
    rank: int  # 1 = most upvoted on that page (ties: more comments, then page order)
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        storable_fields(self)  # NUL and lone surrogates out (jobs.core.records)


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode a byte that is not UTF-8 as Latin-1 (a stray "é" from a hand-edited file)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("paperboy-latin1-fallback", _latin1_fallback)


def parse_hf_daily(data: bytes, *, url: str = "") -> list[TrendingPaper]:
    """The trending papers of a daily papers response (read_hf_daily, without the count)."""
    return read_hf_daily(data, url=url)[0]


def read_hf_daily(data: bytes, *, url: str = "") -> tuple[list[TrendingPaper], int]:
    """Parse a daily papers response into trending papers with canonical arXiv ids, and
    the number of items skipped as unreadable.

    Raises ParseError (naming ``url``) for an empty body, an HTML page, JSON that is
    cut short or not an array of papers, or the API's ``{"error": ...}`` answer. An
    item without a readable arXiv id, or with a count that is not a number a database
    holds (``1e400``, ``NaN``, 10**21), is skipped with a warning and counted (all of
    them: ParseError, the format has changed); one paper listed twice
    is kept once (its better rank). Bytes that are not UTF-8 are read as Latin-1, one
    byte at a time, rather than losing the item.
    """
    where = f" from {url}" if url else ""
    if not data.strip():
        raise ParseError(f"empty response{where}: expected the daily papers JSON array")
    if _HTML.match(data[:4096]):
        raise ParseError(f"an HTML or XML page{where}, not the daily papers JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("daily papers%s are not valid UTF-8; odd bytes read as Latin-1", where)
        text = data.decode("utf-8", errors="paperboy-latin1-fallback")
    try:
        items = json.loads(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
        raise ParseError(f"the daily papers response{where} is not valid JSON: {e}") from e
    if isinstance(items, dict) and "error" in items:
        raise ParseError(f"Hugging Face API error{where}: {_text(items.get('error'))}")
    if not isinstance(items, list):
        kind = type(items).__name__
        raise ParseError(f"the daily papers response{where} is a JSON {kind}, not an array")

    found: list[tuple[TrendingPaper, int]] = []
    seen: set[str] = set()
    skipped = 0
    for position, item in enumerate(items):
        try:
            trending = _item(item) if isinstance(item, Mapping) else None
        except Exception as e:  # one item's surprise never sinks the day's other papers
            log.warning("daily papers item%s skipped: %r: %.200r", where, e, item)
            trending = None
        if trending is None:
            skipped += 1
            continue
        if trending.paper.id in seen:
            continue
        seen.add(trending.paper.id)
        found.append((trending, position))
    if items and not found:
        # Not one usable item: the API changed shape, or this is not its answer at all.
        raise ParseError(
            f"none of the {len(items)} items{where} is a paper with an arXiv id "
            "(expected objects with paper.id)"
        )
    if skipped:
        log.warning("skipped %d unreadable daily paper item(s)%s", skipped, where)
    ordered = sorted(found, key=lambda f: (-f[0].upvotes, -f[0].comments, f[1]))
    rank = {t.paper.id: n for n, (t, _position) in enumerate(ordered, start=1)}
    return [replace(t, rank=rank[t.paper.id]) for t, _position in found], skipped


def _item(item: Mapping[str, Any]) -> TrendingPaper | None:
    paper = item.get("paper")
    if not isinstance(paper, Mapping):
        log.warning("daily papers item without a 'paper' object: %.200r", item)
        return None
    raw_id = paper.get("id")
    try:
        arxiv_id, version = canonical_arxiv_id(str(raw_id))
    except UnknownPaperError:
        log.warning("daily papers item with an id that is not an arXiv id: %r", raw_id)
        return None
    published = _day(paper.get("publishedAt")) or _day(item.get("publishedAt"))
    featured = _day(paper.get("submittedOnDailyAt")) or _day(item.get("publishedAt"))
    authors = paper.get("authors")
    names = (
        [_text(a.get("name")) for a in authors if isinstance(a, Mapping)]
        if isinstance(authors, list)
        else []
    )
    keywords = paper.get("ai_keywords")
    upvotes, comments = _count(paper.get("upvotes")), _count(item.get("numComments"))
    if upvotes is None or comments is None:
        log.warning(
            "daily papers item %s with a count out of range: upvotes %.40r, comments %.40r",
            arxiv_id,
            paper.get("upvotes"),
            item.get("numComments"),
        )
        return None
    source = SourcePaper(
        id=arxiv_id,
        title=_text(paper.get("title")) or _text(item.get("title")),
        abstract=_text(paper.get("summary")) or _text(item.get("summary")),
        authors=tuple(n for n in names if n),
        categories=(),  # the API does not say; an arXiv listing or lookup adds them
        link=abs_url(arxiv_id),
        version=version,
        # paper.publishedAt is arXiv's date for the paper (00:00 UTC of its listing day);
        # the storage keeps the earliest announced day, so a listing's own date wins.
        announced=published,
        tldr=_text(paper.get("ai_summary")) or None,
        tldr_source="Hugging Face" if _text(paper.get("ai_summary")) else None,
    )
    return TrendingPaper(
        paper=source,
        upvotes=upvotes,
        comments=comments,
        day=featured or published,
        rank=0,
        ai_summary=_text(paper.get("ai_summary")) or None,
        ai_keywords=tuple(k for k in (_text(k) for k in keywords if isinstance(k, str)) if k)
        if isinstance(keywords, list)
        else (),
    )


def looks_like_hf_daily(data: bytes) -> bool:
    """True for a JSON array whose first object has a ``paper`` object (a saved response)."""
    head = data.lstrip()[:1]
    if head != b"[":
        return False
    try:
        items = json.loads(data.decode("utf-8", errors="paperboy-latin1-fallback"))
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(items, list)
        and bool(items)
        and isinstance(items[0], Mapping)
        and isinstance(items[0].get("paper"), Mapping)
    )


def _text(value: Any) -> str:
    return _WS.sub(" ", value).strip() if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    """A non-negative count; null, a string or a bool counts as 0. None for a number no
    database column holds (NaN, infinite, above MAX_COUNT): the item is not believable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value > MAX_COUNT:
        return None
    return max(0, int(value))


def _day(value: Any) -> date | None:
    """The UTC calendar day of an ISO timestamp ("2026-06-12T00:00:00.000Z")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None
