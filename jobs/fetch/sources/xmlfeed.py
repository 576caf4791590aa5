"""The safe first step of every RSS/Atom parser: refuse what is not a whole feed, then
hand the bytes to feedparser.

Refused before parsing: an empty body, an HTML page (an error or login page served with
status 200), and any entity declaration (no feed we read declares entities, so an
entity bomb costs nothing whatever the XML parser would do). Refused after parsing: XML
cut short (storing the items before the cut would pass a partial feed off as whole) and
malformed XML without a channel. A complete feed with a recoverable fault (a stray `&`, a
wrong encoding declaration) is read leniently, with a warning.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from typing import Any

import feedparser

from paperboy.jobs.core.errors import ParseError
from paperboy.jobs.core.records import SourcePaper

log = logging.getLogger(__name__)

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_COMPLETE = re.compile(rb"</(?:rss|rdf:RDF|feed|channel)>\s*\Z", re.IGNORECASE)
_HTML_PAGE = re.compile(
    rb"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html)\b", re.I | re.S
)


def refuse_non_feeds(data: bytes, where: str, expected: str) -> None:
    """ParseError (starting with `where`) for an empty body, an HTML page or entities."""
    if not data.strip():
        raise ParseError(f"{where}: empty response, expected {expected}")
    if _HTML_PAGE.match(data[:4096]):
        raise ParseError(f"{where}: an HTML page, not {expected} (an error page served as 200?)")
    if _ENTITY_DECL.search(data):
        raise ParseError(f"{where}: the feed declares XML entities; refused for safety")


def parse_xml_feed(data: bytes, where: str, expected: str) -> Any:
    """feedparser's result, after refusing what is not a feed at all (see module).

    The caller checks the feed's kind (`parsed.version`), then calls `check_whole`.
    """
    refuse_non_feeds(data, where, expected)
    # Bytes go in as a stream: feedparser.parse() would take bare bytes for a file name.
    # No sanitising: it would delete "<script>…" text from abstracts; the e-mail escapes.
    return feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)


def check_whole(parsed: Any, data: bytes, where: str) -> None:
    """ParseError for XML cut short or without a channel; a recoverable fault is logged."""
    if not parsed.get("bozo"):
        return
    fault = parsed.get("bozo_exception")
    if isinstance(fault, feedparser.ThingsNobodyCaresAboutButMe):
        return
    if not _COMPLETE.search(data[-512:]):
        raise ParseError(f"{where}: truncated or malformed XML: {fault}")
    if not parsed.get("entries") and not parsed.get("feed", {}).get("title"):
        raise ParseError(f"{where}: malformed XML with no channel: {fault}")
    log.warning("%s is not well-formed (%s); parsed leniently", where, fault)


def entry_papers(
    parsed: Any, make: Callable[[Any], SourcePaper | None]
) -> tuple[list[SourcePaper], int]:
    """The papers ``make`` reads from a parsed feed's entries, and how many it could not.

    An entry that ``make`` fails on, however, is one unreadable item, never a lost feed.
    """
    papers: list[SourcePaper] = []
    skipped = 0
    for entry in parsed.get("entries", []):
        try:
            paper = make(entry)
        except Exception as e:  # one item's surprise never sinks the feed's other items
            log.warning("feed item %.200r skipped: %r", entry.get("id"), e)
            paper = None
        if paper is None:
            skipped += 1
        else:
            papers.append(paper)
    return papers, skipped
