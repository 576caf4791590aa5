"""arXiv's daily RSS listing (rss.arxiv.org/rss/CATS): parse it, and write one.

The layout is documented at https://info.arxiv.org/help/rss_specifications.html: the
channel's ``<pubDate>`` is the announcement day and ``<skipDays>`` names the weekdays
with an empty feed; each ``<item>`` carries ``<guid>oai:arXiv.org:IDvN</guid>``, one
``<category>`` per category (primary first), ``<arxiv:announce_type>``, the authors in one
comma-separated ``<dc:creator>`` and a ``<description>`` of the form
``arXiv:IDvN Announce Type: new \\nAbstract: ...``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date, datetime, time
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from paperboy.jobs.core.errors import ParseError, UnknownPaperError
from paperboy.jobs.core.ids import abs_url, canonical_arxiv_id
from paperboy.jobs.core.records import ParsedFeed, SourcePaper
from paperboy.jobs.fetch.sources.xmlfeed import check_whole, entry_papers, parse_xml_feed
from paperboy.text import collapse_whitespace

__all__ = ["parse_arxiv_rss", "render_arxiv_rss", "split_creators"]

log = logging.getLogger(__name__)

_ANNOUNCE = re.compile(r"Announce Type:\s*([A-Za-z-]+)")
_ABSTRACT = re.compile(r"Abstract:\s*")
_PREAMBLE = re.compile(r"\s*arXiv:\S+(?:\s+Announce Type:\s*[A-Za-z-]*)?\s*")
_SKIP_DAYS = re.compile(rb"<skipDays\b[^>]*>(.{0,2000}?)</skipDays>", re.IGNORECASE | re.DOTALL)
_DAY = re.compile(rb"<day>\s*([A-Za-z]+)\s*</day>", re.IGNORECASE)
# arXiv never declares entities. A feed that does is refused before parsing, so an
# entity bomb ("billion laughs") cannot cost anything whatever the XML parser does.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_COMPLETE = re.compile(rb"</(?:rss|rdf:RDF|feed)>\s*\Z", re.IGNORECASE)
_HTML = re.compile(rb"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html)\b", re.I | re.S)
# Characters XML 1.0 cannot carry at all (escaping does not help); dropped when writing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EASTERN = ZoneInfo("America/New_York")  # arXiv announces at midnight Eastern time


def parse_arxiv_rss(data: bytes, *, url: str = "") -> ParsedFeed:
    """Parse one arXiv RSS response into papers with canonical ids.

    Raises ParseError (naming ``url``) for something that is not an RSS feed (an HTML
    error page, an empty body), a feed that declares entities, or XML cut short. A
    complete feed with a recoverable XML fault (a stray ``&``) is parsed leniently. An
    empty channel (weekend, holiday) is a feed with no papers. Items whose id cannot be
    read are skipped with a warning; items without abstract or authors are kept.
    """
    where = "the arXiv feed" + (f" from {url}" if url else "")
    parsed = parse_xml_feed(data, where, "an arXiv RSS feed")
    version = parsed.get("version") or ""
    if not version.startswith("rss"):
        kind = f"a {version} feed" if version else "not a feed"
        raise ParseError(f"{where} is {kind}: expected an arXiv RSS feed")
    check_whole(parsed, data, where)

    channel = parsed.get("feed", {})
    announced = _rfc822_day(channel.get("published"))
    papers, skipped = entry_papers(parsed, lambda entry: _paper(entry, announced))
    if skipped:
        source = f" from {url}" if url else ""
        log.warning("skipped %d item(s)%s without a readable arXiv id", skipped, source)
    return ParsedFeed(
        papers=tuple(papers),
        announced=announced,
        skip_days=tuple(d.decode("ascii").capitalize() for d in _skip_days(data)),
        title=collapse_whitespace(channel.get("title", "")),
        unreadable=skipped,
    )


def _paper(entry: Any, announced: date | None) -> SourcePaper | None:
    ident: tuple[str, int | None] | None = None
    for candidate in (entry.get("id"), entry.get("link")):
        if candidate:
            try:
                ident = canonical_arxiv_id(candidate)
                break
            except UnknownPaperError:
                continue
    if ident is None:
        log.warning("item without an arXiv id: guid=%r link=%r", entry.get("id"), entry.get("link"))
        return None
    arxiv_id, version = ident
    description = entry.get("summary", "")
    announce_type = entry.get("arxiv_announce_type") or None
    if announce_type is None:
        found = _ANNOUNCE.search(description)
        announce_type = found.group(1) if found else None
    creators = ", ".join(a.get("name", "") for a in entry.get("authors", []) if a.get("name"))
    return SourcePaper(
        id=arxiv_id,
        title=collapse_whitespace(entry.get("title", "")),
        abstract=_abstract(description),
        authors=split_creators(creators),
        categories=tuple(t["term"] for t in entry.get("tags", []) if t.get("term")),
        link=entry.get("link") or abs_url(arxiv_id),
        version=version,
        announce_type=announce_type.strip().lower() if announce_type else None,
        announced=announced or _rfc822_day(entry.get("published")),
    )


def _abstract(description: str) -> str:
    marker = _ABSTRACT.search(description)
    if marker is not None:
        return collapse_whitespace(description[marker.end() :])
    # No "Abstract:" marker: drop an "arXiv:ID Announce Type: x" preamble if present.
    preamble = _PREAMBLE.match(description)
    return collapse_whitespace(description[preamble.end() :] if preamble else description)


def split_creators(text: str) -> tuple[str, ...]:
    """Split a ``<dc:creator>`` value into author names, dropping affiliations.

    Commas separate authors only outside parentheses: ``A (Univ. X, Berlin), B`` is two
    authors, ``A`` and ``B``.
    """
    authors: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            if char == ",":
                authors.append("".join(current))
                current = []
            else:
                current.append(char)
    authors.append("".join(current))
    return tuple(name for name in map(collapse_whitespace, authors) if name)


def _rfc822_day(value: str | None) -> date | None:
    """The calendar day as written ("Wed, 06 Aug 2025 00:00:00 -0400" -> 2025-08-06)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None


def _skip_days(data: bytes) -> list[bytes]:
    # feedparser keeps only the last <day>, so read the short <skipDays> block directly.
    block = _SKIP_DAYS.search(data)
    return _DAY.findall(block.group(1)) if block else []


def render_arxiv_rss(papers: Iterable[SourcePaper], *, categories: str, announced: date) -> bytes:
    """Write papers as arXiv's RSS feed for ``categories`` (``"cs.CL+cs.LG"``) on one day.

    Every text is escaped. Used to build the bundled demo data and test fixtures;
    ``parse_arxiv_rss(render_arxiv_rss(ps, ...)).papers == ps`` for papers whose titles and
    abstracts have no runs of whitespace, whose author names hold no commas or
    parentheses, whose link is their abs page and whose ``announced`` is the day.
    ``<dc:rights>`` is left out: SourcePaper does not carry the paper's licence.
    """
    midnight = datetime.combine(announced, time(0), tzinfo=_EASTERN)
    day = format_datetime(midnight)
    feed_url = f"http://rss.arxiv.org/rss/{categories}"
    names = ", ".join(categories.split("+"))
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">',
        "  <channel>",
        _element("title", f"{names} updates on arXiv.org", 4),
        _element("link", feed_url, 4),
        _element("description", f"{names} updates on the arXiv.org e-print archive.", 4),
        f'    <atom:link href={quoteattr(feed_url)} rel="self" type="application/rss+xml"/>',
        _element("docs", "http://www.rssboard.org/rss-specification", 4),
        _element("language", "en-us", 4),
        _element("lastBuildDate", format_datetime(midnight.astimezone(ZoneInfo("UTC"))), 4),
        _element("managingEditor", "rss-help@arxiv.org", 4),
        _element("pubDate", day, 4),
        "    <skipDays>",
        _element("day", "Saturday", 6),
        _element("day", "Sunday", 6),
        "    </skipDays>",
    ]
    for paper in papers:
        versioned = paper.id if paper.version is None else f"{paper.id}v{paper.version}"
        announce = f" Announce Type: {paper.announce_type}" if paper.announce_type else ""
        out.append("    <item>")
        out.append(_element("title", paper.title, 6))
        out.append(_element("link", paper.link or abs_url(paper.id), 6))
        out.append(
            _element("description", f"arXiv:{versioned}{announce} \nAbstract: {paper.abstract}", 6)
        )
        out.append(f'      <guid isPermaLink="false">{escape(f"oai:arXiv.org:{versioned}")}</guid>')
        out.extend(_element("category", category, 6) for category in paper.categories)
        out.append(_element("pubDate", day, 6))
        if paper.announce_type:
            out.append(_element("arxiv:announce_type", paper.announce_type, 6))
        if paper.authors:
            out.append(_element("dc:creator", ", ".join(paper.authors), 6))
        out.append("    </item>")
    out += ["  </channel>", "</rss>", ""]
    return "\n".join(out).encode("utf-8")


def _element(tag: str, text: str, indent: int) -> str:
    return f"{' ' * indent}<{tag}>{escape(_NOT_XML.sub('', text))}</{tag}>"
