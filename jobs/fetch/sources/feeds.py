"""Any RSS or Atom feed named in config.toml (a preprint server, a journal, a blog).

``parse_feed`` turns one response into papers with canonical ids, by the project's rule:
the arXiv id when the item's link or id is an arXiv one, else its DOI (lower-cased),
else a hash of its normalised title (``jobs.core.ids.title_key``). DOIs are read from
``<prism:doi>``, ``<dc:identifier>`` (``doi:10.1101/...``, as bioRxiv writes it), an id
of the form ``doi:...``/``info:doi/...`` (PLOS), doi.org links, and article URLs that
carry the DOI (``.../doi/10.1002/...``, ``?id=10.1371/...``, bioRxiv's
``/content/10.1101/...v2``). Titles, abstracts and author names come as text, HTML
stripped. The parser is pure: bytes in, dataclasses out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id, canonical_doi, title_key
from paperboy.jobs.core.records import ParsedFeed, SourcePaper
from paperboy.jobs.fetch.sources.arxiv_rss import split_creators
from paperboy.jobs.fetch.sources.xmlfeed import check_whole, entry_papers, parse_xml_feed
from paperboy.text import collapse_whitespace

__all__ = ["doi_of", "html_to_text", "parse_feed", "split_authors"]

log = logging.getLogger(__name__)

MAX_ID_LENGTH = 128  # papers.id is VARCHAR(128); a longer DOI falls back to the title key

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_COMPLETE = re.compile(rb"</(?:rss|rdf:RDF|feed|channel)>\s*\Z", re.IGNORECASE)
_HTML_PAGE = re.compile(
    rb"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html)\b", re.I | re.S
)
_LOOKS_HTML = re.compile(r"<[A-Za-z/!]|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")
_DOI_IN_PATH = re.compile(r"/(10\.\d{4,9}/[^?#\s]+)")
_PREPRINT_VERSION = re.compile(r"v\d+(?:\.full(?:\.pdf)?|\.abstract|\.pdf)?/?$", re.IGNORECASE)
_PREPRINT_HOSTS = ("biorxiv.org", "medrxiv.org")
# "D.", "J.-P.", "Th. A.", "JA": what bioRxiv writes after a surname and its comma.
_INITIALS = re.compile(r"^(?:(?:[A-Z\u00c0-\u00de][a-z]?\.[\s-]*){1,4}|[A-Z]{1,3})$")
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"blockquote", "pre", "table", "section", "article", "hr", "figure", "figcaption"}
)


def parse_feed(data: bytes, *, url: str, name: str) -> ParsedFeed:
    """Parse one RSS 0.9x/1.0/2.0 or Atom response of the feed ``name`` into papers.

    Raises ParseError (naming the feed and ``url``) for an empty body, an HTML page, a
    document that is not a feed, a feed that declares XML entities, or XML cut short. A
    complete feed with a recoverable fault (a stray ``&``, a wrong encoding declaration)
    is read leniently. Items with neither a title nor an arXiv id nor a DOI are skipped
    with a warning. ``announced`` of each paper is the item's date as written (its
    calendar day), else the channel's.
    """
    where = f"feed {name!r}" + (f" ({url})" if url else "")
    parsed = parse_xml_feed(data, where, "an RSS or Atom feed")
    version = parsed.get("version") or ""
    if not version:
        fault = parsed.get("bozo_exception")
        raise ParseError(f"{where}: not an RSS or Atom feed ({fault or 'no feed element'})")
    check_whole(parsed, data, where)

    channel = parsed.get("feed", {})
    channel_day = _day(channel, ("published", "updated")) or _day(
        channel, ("prism_publicationdate", "dc_date")
    )
    papers, skipped = entry_papers(parsed, lambda entry: _paper(entry, channel_day))
    if skipped:
        log.warning("%s: skipped %d item(s) with no title, arXiv id or DOI", where, skipped)
    return ParsedFeed(
        papers=tuple(papers),
        announced=channel_day,
        title=_field_text(channel, "title"),
        unreadable=skipped,
    )


def _paper(entry: Any, channel_day: date | None) -> SourcePaper | None:
    title = _field_text(entry, "title")
    link = (entry.get("link") or "").strip()
    arxiv = _arxiv_id(entry)
    if arxiv is not None:
        # No version: a blog post's title about an arXiv paper must never replace the
        # paper's own text from arXiv (storage lets only a newer version overwrite).
        pid = arxiv[0]
    else:
        doi = doi_of(entry)
        if doi is not None and len(doi) > MAX_ID_LENGTH:
            log.warning("DOI longer than %d characters, keyed by title: %s", MAX_ID_LENGTH, doi)
            doi = None
        if doi is not None:
            pid = doi
        elif title:
            pid = title_key(title)
        else:
            log.warning("feed item without title, arXiv id or DOI: id=%r", entry.get("id"))
            return None
        if not link:
            link = f"https://doi.org/{pid}" if doi else ""
    return SourcePaper(
        id=pid,
        title=title,
        abstract=_abstract(entry),
        authors=_authors(entry),
        # Feed tags are free words ("Neuroscience", "News"), not arXiv categories, which
        # users filter on; they are left out rather than mixed in.
        categories=(),
        link=link,
        announced=_day(entry, ("published", "updated"))
        or _day(entry, ("prism_publicationdate", "dc_date"))
        or channel_day,
    )


def _arxiv_id(entry: Any) -> tuple[str, int | None] | None:
    candidates = [entry.get("id"), entry.get("link"), entry.get("dc_identifier")]
    candidates += [link.get("href") for link in entry.get("links", [])]
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        try:
            return canonical_arxiv_id(candidate)
        except UnknownPaperError:
            continue
    return None


def doi_of(entry: Any) -> str | None:
    """The DOI a feedparser entry names, lower-cased, or None (see the module docstring)."""
    for value in _doi_candidates(entry):
        doi = _doi_from_text(value) or _doi_from_url(value)
        if doi:
            return doi
    return None


def _doi_candidates(entry: Any) -> Iterator[str]:
    for key in ("prism_doi", "dc_identifier", "id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            yield value.strip()
    for link in entry.get("links", []):
        href = link.get("href")
        if isinstance(href, str) and href.strip():
            yield href.strip()


def _doi_from_text(value: str) -> str | None:
    text = unquote(value)
    if text[:9].lower() == "info:doi/":
        text = text[9:]
    return canonical_doi(text)


def _doi_from_url(value: str) -> str | None:
    """A DOI inside an article URL, where publishers put it by convention."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    for key in ("doi", "id"):  # journals.plos.org/plosone/article?id=10.1371/...
        for query_value in parse_qs(parts.query).get(key, []):
            doi = canonical_doi(query_value)
            if doi:
                return doi
    path = unquote(parts.path)
    host = (parts.hostname or "").lower()
    if host.endswith(_PREPRINT_HOSTS):
        # biorxiv.org/content/10.1101/2024.01.02.573958v2(.full): the DOI has no version.
        found = _DOI_IN_PATH.search(path)
        return canonical_doi(_PREPRINT_VERSION.sub("", found.group(1))) if found else None
    marker = path.find("/doi/")  # Wiley, ACS, T&F, SAGE: /doi/(abs|full|pdf/)?10.xxx/...
    if marker >= 0:
        found = _DOI_IN_PATH.search(path, marker)
        return canonical_doi(found.group(1)) if found else None
    return None


def _abstract(entry: Any) -> str:
    """The summary as text; the full content only when there is no summary."""
    text = _field_text(entry, "summary")
    if text:
        return text
    for content in entry.get("content", []):
        text = _detail_text(content.get("value", ""), content.get("type", ""))
        if text:
            return text
    return ""


def _authors(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors", []):
        raw = author.get("name") or ""
        names.extend(split_authors(html_to_text(raw) if "<" in raw else unescape(raw)))
    return tuple(dict.fromkeys(names))  # RSS can name one person in two elements


def split_authors(text: str) -> list[str]:
    """Split one author field into names: ``A; B``, ``A, B and C``, or bioRxiv's
    ``Kukla, D., Crampton, A.`` (surname, initials pairs, written back as ``D. Kukla``).

    Affiliations in parentheses are dropped, as in arXiv's ``<dc:creator>``.
    """
    text = collapse_whitespace(text)
    if not text:
        return []
    if ";" in text:
        return [_surname_last(part) for part in map(collapse_whitespace, text.split(";")) if part]
    parts = list(split_creators(text))
    if len(parts) >= 2 and len(parts) % 2 == 0 and all(_INITIALS.match(p) for p in parts[1::2]):
        return [
            f"{initials} {surname}"
            for surname, initials in zip(parts[::2], parts[1::2], strict=True)
        ]
    names: list[str] = []
    for part in parts:
        names.extend(p for p in map(collapse_whitespace, re.split(r"\s+and\s+|\s*&\s*", part)) if p)
    return names


def _surname_last(name: str) -> str:
    """``Doe, Jane`` -> ``Jane Doe``; a name without a comma stays as it is."""
    surname, comma, given = name.partition(",")
    return (
        f"{collapse_whitespace(given)} {collapse_whitespace(surname)}"
        if comma and given.strip()
        else name
    )


def _field_text(obj: Any, key: str) -> str:
    detail = obj.get(f"{key}_detail") or {}
    return _detail_text(obj.get(key) or "", detail.get("type", ""))


def _detail_text(value: str, kind: str) -> str:
    # No type given (feedparser copies Atom <content> into a bare summary): look.
    if "html" in kind or (not kind and _LOOKS_HTML.search(value)):
        return html_to_text(value)
    return collapse_whitespace(value)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The text of an HTML fragment: tags dropped (blocks become spaces), entities
    decoded, scripts and styles left out, whitespace collapsed."""
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return collapse_whitespace("".join(extractor.parts))


def _day(obj: Any, keys: Iterable[str]) -> date | None:
    """The calendar day of the first date found, as written (not moved to UTC)."""
    for key in keys:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        day = _parse_day(value.strip())
        if day is not None:
            return day
        parsed = obj.get(f"{key}_parsed")
        if parsed:  # a format only feedparser reads; its UTC day is the best there is
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None


def _parse_day(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None
