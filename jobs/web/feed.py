"""A user's Atom feed of their recent digests (issue #23), served by `paperboy serve`.

    GET /feed/T    (T: the user's feed token, jobs.web.tokens.Signer.make_feed)
        token forged, tampered, signed out, or its user gone   -> 403 (jobs.web.app)
        digests = the user's FEED_DIGESTS latest *sent* digests (jobs.storage.sent)
        body    = Atom (feedgen): one entry per paper of each digest, in the digest's order
        ETag    = a hash of the body; Last-Modified = when the latest of them was sent
        If-None-Match matches (or, without one, If-Modified-Since is not older) -> 304

What an entry holds is what the digest showed: the paper's title (LaTeX turned into text,
as in the mail), the reason it was picked and its score (kept in the ledger since
migration 0008), the source's TL;DR or else the abstract's first sentences, its authors,
and links to the abstract page (the entry's link) and the PDF (in its content: feedgen
1.0.0 writes an entry link without its rel, so an entry has one link). Its id is a tag:
URI made of the digest's Message-ID and the paper id, so it is the same on every poll and
unique per (user, digest, paper); its date is the digest's (when it was built, as the
mail's Date header). A paper shown in a collection's section (issue #23) says so in its
reason ("for your collection rl-reasoning: ...", as the mail), and carries a second
category, ``collection:NAME``, which feed readers can filter on.

The feed is read-only: it carries no feedback link (More/Less like this, unsubscribe,
profile), so a feed URL that leaks (a shared reader, a proxy log) shows what was sent and
nothing more, and can change nothing. Only sent digests count: a pending one can still
fail for good, and its papers then come again in a later digest.

Every string is hostile (titles come from feeds and BibTeX): feedgen (lxml) escapes
markup, and the characters XML cannot hold, or that reorder text, are removed first.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr, parsedate_to_datetime
from urllib.parse import quote, urlsplit

from feedgen.feed import FeedGenerator
from starlette.responses import Response

from paperboy.emails.text import first_sentences
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.ids import abs_url, is_arxiv_id, pdf_url
from paperboy.jobs.core.text_safety import for_terminal
from paperboy.jobs.ranking.pick import collection_of_reason
from paperboy.jobs.storage import SentDigest, SentPaper, Storage
from paperboy.jobs.web.tokens import Signer
from paperboy.text import collapse_whitespace, latex_to_text

__all__ = ["FEED_DIGESTS", "MEDIA_TYPE", "build_feed", "feed_response", "feed_url"]

log = logging.getLogger(__name__)

FEED_DIGESTS = 10  # the feed shows the papers of this many latest sent digests
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
# Readers revalidate on every poll (ETag); no shared cache keeps a feed behind a secret URL.
CACHE_CONTROL = "private, no-cache"
# The <updated> of a feed with no digest yet: fixed, so that its ETag holds until one comes.
NOTHING_YET = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 cannot hold (lxml refuses them) beyond those for_terminal removes.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def feed_url(base_url: str, signer: Signer, user: str, *, epoch: int) -> str:
    """The address of `user`'s feed at link `epoch` (Storage.link_epoch): the same for as
    long as the user does not sign out all links."""
    return f"{base_url.rstrip('/')}/feed/{signer.make_feed(user, epoch=epoch)}"


def _clean(text: str | None) -> str:
    """Text fit for XML and for reading: no control or bidi characters, whitespace joined."""
    return collapse_whitespace(_NOT_XML.sub("", for_terminal(text or "")))


def _links(item: SentPaper) -> list[tuple[str, str]]:
    """(label, URL): the abstract page and PDF of an arXiv paper, else the source's link
    if it is http(s) (a stored link is hostile input too)."""
    if is_arxiv_id(item.paper_id):
        return [("Abstract", abs_url(item.paper_id)), ("PDF", pdf_url(item.paper_id))]
    link = (item.paper.link or "").strip() if item.paper is not None else ""
    if urlsplit(link).scheme in ("http", "https") and _clean(link) == link:
        return [("Link", link)]
    return []


def _tag(authority: str, day: str, *parts: str) -> str:
    """A tag: URI (RFC 4151), each part percent-encoded."""
    return f"tag:{authority},{day}:" + "/".join(quote(p, safe="") for p in parts)


def _message_parts(message_id: str) -> tuple[str, str]:
    """(local part, domain) of a Message-ID "<local@domain>"."""
    local, _, domain = message_id.strip().strip("<>").rpartition("@")
    domain = domain.lower() if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else ""
    return (local or message_id), (domain or "paperboy.invalid")


def _texts(item: SentPaper) -> tuple[str, str, str, str]:
    """(title, reason, TL;DR with its label, excerpt of the abstract) as plain text."""
    paper = item.paper
    if paper is None:
        return item.paper_id, _clean(item.reason), "", ""
    tldr = ""
    if paper.tldr:
        source = _clean(paper.tldr_source)
        tldr = f"TL;DR ({source}): " if source else "TL;DR: "
        tldr += _clean(latex_to_text(paper.tldr))
    excerpt = _clean(first_sentences(latex_to_text(paper.abstract), 2)) if paper.abstract else ""
    title = _clean(latex_to_text(paper.title))
    return title or item.paper_id, _clean(item.reason), tldr, excerpt


def _content(item: SentPaper, texts: Sequence[str], links: Sequence[tuple[str, str]]) -> str:
    """The entry's HTML: what the mail shows of the paper, every value escaped."""
    e = html.escape
    _title, reason, tldr, excerpt = texts
    parts = []
    if reason:
        score = f" ({round(item.score * 100)}%)" if item.score is not None else ""
        parts.append(f"<p><strong>Why:</strong> {e(reason)}{e(score)}</p>")
    parts += [f"<p>{e(text)}</p>" for text in (tldr, excerpt) if text]
    authors = [_clean(latex_to_text(a)) for a in (item.paper.authors if item.paper else ())]
    if any(authors):
        shown = ", ".join(a for a in authors[:8] if a) + (" et al." if len(authors) > 8 else "")
        parts.append(f"<p>{e(shown)}</p>")
    if links:
        anchors = " · ".join(f'<a href="{e(url)}">{e(label)}</a>' for label, url in links)
        parts.append(f"<p>{anchors}</p>")
    return "\n".join(parts)


def build_feed(
    config: Config, user: str, digests: Sequence[SentDigest], self_url: str
) -> tuple[bytes, datetime]:
    """The Atom document of `user`'s `digests` (newest first) and when it last changed
    (the latest digest's sending; NOTHING_YET when there is none)."""
    updated = max((d.sent_at for d in digests), default=NOTHING_YET).replace(microsecond=0)
    sender_domain = parseaddr(config.email.sender)[1].rpartition("@")[2].lower()
    fg = FeedGenerator()
    fg.id(_tag(sender_domain or "paperboy.invalid", "2026", "paperboy", "feed", user))
    fg.title(f"Paperboy: papers for {_clean(user)}")
    fg.subtitle(f"The papers of the latest digests sent to {_clean(user)} (up to {FEED_DIGESTS})")
    fg.author({"name": "Paperboy"})
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.generator("Paperboy")
    fg.updated(updated)
    for digest in digests:
        local, domain = _message_parts(digest.message_id)
        day = digest.digest_day.isoformat()
        when = digest.created_at.replace(microsecond=0)
        for item in digest.papers:
            texts = _texts(item)
            title, reason, tldr, excerpt = texts
            links = _links(item)
            entry = fg.add_entry(order="append")
            entry.id(_tag(domain, day, "paperboy", user, local, item.paper_id))
            entry.title(title)
            entry.updated(when)
            entry.published(when)
            if links:  # one link: feedgen 1.0.0 drops an entry link's rel (its issue #135)
                entry.link(href=links[0][1])  # so a second would read as "alternate" too
            # The summary: why it was picked, and the TL;DR, else the abstract's first lines.
            why = f"Why: {reason}" if reason else ""
            entry.summary(" ".join(t for t in (why, tldr or excerpt) if t) or title)
            entry.content(_content(item, texts, links), type="html")
            entry.category(term=day, label=f"Digest of {day}")
            collection = collection_of_reason(item.reason or "")
            if collection:  # the section it was shown in (issue #23)
                entry.category(term=f"collection:{collection}", label=f"Collection {collection}")
    body: bytes = fg.atom_str(pretty=True, encoding="UTF-8")
    return body, updated


def _not_modified(headers: Mapping[str, str], etag: str, updated: datetime) -> bool:
    """RFC 9110 13.1: If-None-Match (weak comparison) decides when present; else
    If-Modified-Since, to the second."""
    given = headers.get("if-none-match")
    if given is not None:
        tags = [t.strip().removeprefix("W/") for t in given.split(",")]
        return "*" in tags or etag in tags
    since = headers.get("if-modified-since")
    if since is None or updated == NOTHING_YET:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return updated <= when


def feed_response(
    config: Config,
    storage: Storage,
    user: str,
    self_url: str,
    headers: Mapping[str, str],
) -> Response:
    """The feed of `user` (whose token the caller has checked), or 304 if the reader's
    copy is current."""
    digests = storage.sent_digests(user, limit=FEED_DIGESTS)
    body, updated = build_feed(config, user, digests, self_url)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    meta = {"etag": etag, "cache-control": CACHE_CONTROL}
    if updated != NOTHING_YET:
        meta["last-modified"] = format_datetime(updated, usegmt=True)
    if _not_modified(headers, etag, updated):
        return Response(status_code=304, headers=meta)
    return Response(body, media_type=MEDIA_TYPE, headers=meta)
