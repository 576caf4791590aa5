"""The Zotero Web API v3 (api.zotero.org): URLs, and the JSON it answers, parsed. No I/O.

What a sync reads (https://www.zotero.org/support/dev/web_api/v3/syncing):

    GET <lib>/items?since=V&includeTrashed=1&format=json&limit=100
        header If-Modified-Since-Version: V   -> 304 when nothing changed since V
        answer: a JSON array of {"key", "version", "data": {"itemType", "title",
                "abstractNote", "creators", "DOI", "url", "extra", "archiveID",
                "collections": [keys], "tags": [{"tag"}], "deleted": 1 (in the trash)}}
        headers: Last-Modified-Version (the library's version), Total-Results,
                 Link: <...&start=100>; rel="next", <...>; rel="last"
    GET <lib>/deleted?since=V -> {"items": [keys], "collections": [...], ...}
    GET <lib>/collections?limit=100 -> [{"key", "data": {"name", "parentCollection"}}]

``<lib>`` is ``users/<id>`` or ``groups/<id>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id, canonical_doi, title_key
from paperboy.jobs.core.records import SourcePaper, storable_fields

__all__ = [
    "PAGE_SIZE",
    "ZOTERO_API",
    "ZoteroItem",
    "collections_url",
    "deleted_url",
    "items_url",
    "next_link",
    "parse_collections",
    "parse_deleted",
    "parse_items",
]

ZOTERO_API = "https://api.zotero.org"
PAGE_SIZE = 100  # the API's largest page
# Child items and notes are not papers; their parents are.
NOT_PAPERS = frozenset({"attachment", "note", "annotation"})

_WS = re.compile(r"\s+")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|10\.48550/arxiv\.|arxiv:\s*)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";]+)"?')


@dataclass(frozen=True, slots=True)
class ZoteroItem:
    """One item of a Zotero library, as far as Paperboy cares."""

    key: str
    version: int
    item_type: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    arxiv_id: str | None
    doi: str | None
    url: str
    collections: tuple[str, ...]
    tags: tuple[str, ...]
    trashed: bool

    def __post_init__(self) -> None:
        storable_fields(self)  # NUL and lone surrogates out (jobs.core.records)

    @property
    def is_paper(self) -> bool:
        """A top-level item (not an attachment, a note or an annotation)."""
        return self.item_type not in NOT_PAPERS

    @property
    def paper_id(self) -> str | None:
        """The canonical id: arXiv id, else DOI, else title key (None: nothing to go by)."""
        if self.arxiv_id:
            return self.arxiv_id
        if self.doi:
            return self.doi
        return title_key(self.title) if self.title else None

    def to_source_paper(self) -> SourcePaper | None:
        """The paper to store, or None when there is no text to rank it by."""
        pid = self.paper_id
        if pid is None or not self.title:
            return None
        link = abs_url(self.arxiv_id) if self.arxiv_id else self.url
        if not link and self.doi:
            link = f"https://doi.org/{self.doi}"
        return SourcePaper(
            id=pid,
            title=self.title,
            abstract=self.abstract,
            authors=self.authors,
            categories=(),
            link=link,
        )


def items_url(base: str, library: str, *, since: int, start: int = 0) -> str:
    """One page of the items changed since library version ``since`` (0: all of them)."""
    params = {
        "since": since,
        "includeTrashed": 1,  # an item moved to the trash leaves the profile too
        "format": "json",
        "limit": PAGE_SIZE,
        "start": start,
    }
    return f"{base.rstrip('/')}/{library}/items?{urlencode(params)}"


def deleted_url(base: str, library: str, *, since: int) -> str:
    return f"{base.rstrip('/')}/{library}/deleted?{urlencode({'since': since})}"


def collections_url(base: str, library: str, *, start: int = 0) -> str:
    params = {"format": "json", "limit": PAGE_SIZE, "start": start}
    return f"{base.rstrip('/')}/{library}/collections?{urlencode(params)}"


def next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header, if any."""
    for match in _LINK.finditer(header or ""):
        if "next" in match.group(2).split():
            return match.group(1)
    return None


def _json(data: bytes, what: str, url: str) -> Any:
    where = f" from {url}" if url else ""
    if not data.strip():
        raise ParseError(f"empty Zotero {what} response{where}")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ParseError(
            f"the Zotero {what} response{where} is not valid JSON (cut short?): {e}"
        ) from e


def parse_items(data: bytes, *, url: str = "") -> list[ZoteroItem]:
    """Parse one page of ``/items``; ParseError for anything but an array of items."""
    raw = _json(data, "items", url)
    if not isinstance(raw, list):
        raise ParseError(
            f"the Zotero items response{' from ' + url if url else ''} is a JSON "
            f"{type(raw).__name__}, not an array of items"
        )
    items = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("data"), Mapping):
            raise ParseError(f"Zotero item #{n + 1}{' from ' + url if url else ''} has no data")
        items.append(_item(entry))
    return items


def _item(entry: Mapping[str, Any]) -> ZoteroItem:
    data: Mapping[str, Any] = entry["data"]
    key = str(entry.get("key") or data.get("key") or "")
    if not key:
        raise ParseError(f"a Zotero item without a key: {str(entry)[:200]}")
    title = _text(data.get("title"))
    return ZoteroItem(
        key=key,
        version=_int(entry.get("version") if "version" in entry else data.get("version")),
        item_type=_text(data.get("itemType")),
        title=title,
        abstract=_text(data.get("abstractNote")),
        authors=_authors(data.get("creators")),
        arxiv_id=_arxiv_id(data),
        doi=_doi(data),
        url=_text(data.get("url")),
        collections=tuple(str(c) for c in data.get("collections") or () if isinstance(c, str)),
        tags=tuple(_text(t.get("tag")) for t in data.get("tags") or () if isinstance(t, Mapping)),
        trashed=bool(data.get("deleted")) or bool(entry.get("deleted")),
    )


def parse_deleted(data: bytes, *, url: str = "") -> list[str]:
    """The item keys deleted since the version asked about."""
    raw = _json(data, "deleted", url)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("items", []), list):
        raise ParseError(f"the Zotero deleted response{' from ' + url if url else ''} has no items")
    return [str(k) for k in raw.get("items", []) if isinstance(k, str)]


def parse_collections(data: bytes, *, url: str = "") -> dict[str, str]:
    """One page of ``/collections``: collection key -> name."""
    raw = _json(data, "collections", url)
    if not isinstance(raw, list):
        where = f" from {url}" if url else ""
        raise ParseError(f"the Zotero collections response{where} is not a list")
    found: dict[str, str] = {}
    for entry in raw:
        if isinstance(entry, Mapping) and isinstance(entry.get("data"), Mapping):
            key = str(entry.get("key") or entry["data"].get("key") or "")
            if key:
                found[key] = _text(entry["data"].get("name"))
    return found


def _arxiv_id(data: Mapping[str, Any]) -> str | None:
    """arXiv id from archiveID ("arXiv:2401.01234", Zotero's preprint type), the DOI, the
    URL or the Extra field ("arXiv: 2401.01234")."""
    for name in ("archiveID", "DOI", "url", "extra", "publicationTitle", "number"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        candidates = [m.group(1) for m in _ARXIV_IN_TEXT.finditer(value)]
        if name == "number" and str(data.get("repository", "")).lower() == "arxiv":
            candidates.append(value)
        for candidate in candidates:
            try:
                return canonical_arxiv_id(candidate)[0]
            except UnknownPaperError:
                continue
    return None


def _doi(data: Mapping[str, Any]) -> str | None:
    value = data.get("DOI")
    if isinstance(value, str) and value.strip():
        return canonical_doi(value)
    extra = data.get("extra")
    if isinstance(extra, str):
        for line in extra.splitlines():
            name, _, rest = line.partition(":")
            if name.strip().lower() == "doi":
                return canonical_doi(rest.strip())
    return None


def _authors(creators: Any) -> tuple[str, ...]:
    if not isinstance(creators, list):
        return ()
    names = []
    for c in creators:
        if not isinstance(c, Mapping) or c.get("creatorType", "author") != "author":
            continue
        name = _text(c.get("name")) or " ".join(
            p for p in (_text(c.get("firstName")), _text(c.get("lastName"))) if p
        )
        if name:
            names.append(name)
    return tuple(names)


def _text(value: Any) -> str:
    return _WS.sub(" ", value).strip() if isinstance(value, str) else ""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
