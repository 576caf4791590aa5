"""The arXiv API (export.arxiv.org/api/query): look papers up by id, parse the Atom reply.

The response format is documented at https://info.arxiv.org/help/api/user-manual.html.
The API reports a bad request as a feed holding one entry whose id is
``http://arxiv.org/api/errors#...`` with the message in ``<summary>``; an id it does not
know gives an empty feed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import feedparser

from jobs.errors import ParseError, UnknownPaperError
from jobs.ids import abs_url, canonical_arxiv_id
from jobs.sources.base import SourcePaper

__all__ = ["API_URL", "MAX_IDS", "id_list_url", "parse_arxiv_api"]

API_URL = "https://export.arxiv.org/api/query"
MAX_IDS = 100  # ids per request: one lookup stays one page of results

_WS = re.compile(r"\s+")
_ERROR_ID = re.compile(r"^https?://arxiv\.org/api/errors", re.IGNORECASE)


def parse_arxiv_api(data: bytes) -> list[SourcePaper]:
    """Parse an arXiv API Atom response into papers with canonical ids.

    Raises ParseError with the API's own message for an error entry, and for a body
    that is not an Atom feed. An unknown id yields an empty list. ``announced`` stays
    None: ``<published>`` is when v1 was submitted, not the day arXiv announced it.
    """
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
    papers: list[SourcePaper] = []
    for entry in parsed.get("entries", []):
        entry_id = entry.get("id", "")
        if _ERROR_ID.match(entry_id):
            message = _collapse(entry.get("summary", "")) or entry_id
            raise ParseError(f"arXiv API error: {message}")
        try:
            arxiv_id, version = canonical_arxiv_id(entry_id)
        except UnknownPaperError as e:
            raise ParseError(f"arXiv API entry with an unreadable id {entry_id!r}") from e
        primary = (entry.get("arxiv_primary_category") or {}).get("term")
        categories = [primary] if primary else []
        categories += [t["term"] for t in entry.get("tags", []) if t.get("term")]
        comment = _collapse(entry.get("arxiv_comment", "")) or None
        papers.append(
            SourcePaper(
                id=arxiv_id,
                title=_collapse(entry.get("title", "")),
                abstract=_collapse(entry.get("summary", "")),
                authors=tuple(
                    _collapse(a["name"]) for a in entry.get("authors", []) if a.get("name")
                ),
                categories=tuple(dict.fromkeys(categories)),  # primary first, no repeats
                link=abs_url(arxiv_id),
                version=version,
                comment=comment,
            )
        )
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


def _collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()
