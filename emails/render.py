"""Render a Digest into a subject, a plain-text part, an HTML part and one MIME message.

The pipeline, per item: LaTeX -> readable text (emails.text) -> a small view object with
everything already formatted -> Jinja2 template (autoescaped for HTML) -> CSS inlined.
Escaping happens last, in the template, so converted LaTeX can never smuggle markup in.

Both parts show the same things in the same order: a header (day, counts, the user), the
picks (a weekly digest grouped under announcement days), a "nothing new" note on an empty
day, the papers trending on Hugging Face, and a footer with the unsubscribe link.
"""

from __future__ import annotations

import email.policy
import functools
import hashlib
import logging
import math
import re
import textwrap
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING

from paperboy.emails.addresses import safe_url, unsubscribe_uris
from paperboy.emails.digest import Digest, DigestItem, TrendingItem, section_heading
from paperboy.emails.text import first_sentences
from paperboy.text import collapse_whitespace, latex_to_text, shorten

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "build_message",
    "format_day",
    "list_id",
    "relevance_dots",
    "render_html",
    "render_text",
    "shorten_authors",
    "subject",
    "unsubscribe_uris",
]

log = logging.getLogger(__name__)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_WIDTH = 72
_DOTS = 5
_SUBJECT_TITLE_CHARS = 50
# Headers build_message owns: extra_headers may replace these, but not the MIME structure.
_RESERVED_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


# --- formatting helpers (pure) ---------------------------------------------------------


def format_day(day: date, *, year: bool = True) -> str:
    """Format a day as "Tue 3 Jun 2025", independent of the process locale."""
    text = f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def shorten_authors(authors: tuple[str, ...] | list[str], limit: int = 5) -> tuple[str, ...]:
    """More than `limit` authors become the first three, "…", and the last one."""
    names = tuple(latex_to_text(a) for a in authors if a and a.strip())
    if len(names) <= limit:
        return names
    return (*names[:3], "…", names[-1])


def _clamp_score(score: float) -> float:
    if not isinstance(score, (int, float)) or math.isnan(score):
        return 0.0
    return min(1.0, max(0.0, float(score)))


def relevance_dots(score: float, dots: int = _DOTS) -> tuple[str, str]:
    """The relevance as (filled, empty) dots, e.g. ("●●●●", "○") for 0.8: readable at a glance."""
    clamped = _clamp_score(score)
    filled = round(clamped * dots)
    if clamped > 0 and filled == 0:  # a picked paper never shows as "no relevance at all"
        filled = 1
    return "●" * filled, "○" * (dots - filled)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# Characters a phrase may hold unquoted (RFC 5322 atext, plus spaces between words).
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


def _list_label(user_name: str) -> str:
    """A DNS-label-like slug of the user's name: "Zoë Ångström" -> "zoe-angstrom"."""
    folded = unicodedata.normalize("NFKD", user_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:40].strip("-")
    if slug:
        return slug
    return "u-" + hashlib.sha256(user_name.encode("utf-8")).hexdigest()[:10]


def list_id(user_name: str, domain: str) -> str:
    """The List-Id (RFC 2919) of one user's digests: stable, so mail filters can match it.

    `list_id("ada", "example.org")` is "Paperboy digest for ada <ada.digest.paperboy.example.org>".
    """
    label = _list_label(user_name)
    domain = domain.strip().strip(".").lower() or "paperboy.invalid"
    namespace = (
        f"digest.{domain}" if domain.startswith("paperboy.") else f"digest.paperboy.{domain}"
    )
    name = collapse_whitespace(user_name)
    phrase_name = name if _PLAIN_PHRASE.fullmatch(name) else label
    return f"Paperboy digest for {phrase_name} <{label}.{namespace}>"


# --- view objects: everything the templates show, already formatted ---------------------


@dataclass(frozen=True, slots=True)
class _LinkView:
    label: str  # "Hugging Face"
    url: str
    text_label: str  # "Hugging Face: ", padded so the URLs of one paper line up


@dataclass(frozen=True, slots=True)
class _ItemView:
    rank: int
    title: str
    url: str | None
    pdf_url: str | None
    authors: str
    categories: str
    percent: int
    dots_on: str
    dots_off: str
    upvotes: str  # "42 upvotes", or "" when unknown
    why: str
    summary: str
    links: tuple[_LinkView, ...]
    tldr: str = ""  # the source's one-sentence summary, "" when it gave none
    tldr_label: str = ""  # "TL;DR (OpenReview):"
    feedback: tuple[_LinkView, ...] = ()  # "More like this", "Less like this"


@dataclass(frozen=True, slots=True)
class _GroupView:
    heading: str  # "Mon 2 Jun 2025 · 2 papers"; "" for a daily digest's single group
    items: tuple[_ItemView, ...]
    section: str = ""  # "rl-reasoning · 3 papers": the first group of a collection's section


@dataclass(frozen=True, slots=True)
class _TrendingView:
    title: str
    url: str | None
    hf_url: str | None
    upvotes: str  # "1,234"
    upvotes_label: str  # "1,234 upvotes"
    matched: bool


@dataclass(frozen=True, slots=True)
class _DigestView:
    subject: str
    day: str  # "Tue 3 Jun 2025" or "Week ending Tue 3 Jun 2025"
    headline: str  # "3 papers picked from 120 considered, for Ada"
    preheader: str  # the hidden line inbox lists show after the subject
    weekly: bool
    groups: tuple[_GroupView, ...]
    empty_note: str  # "" unless there are no items
    trending_heading: str
    trending: tuple[_TrendingView, ...]
    footer: str
    unsubscribe_url: str | None  # the footer's link: https if given, else mailto
    unsubscribe_text: str  # the same for the text part
    actions: tuple[_LinkView, ...] = ()  # the footer's feedback links: unsubscribe, pause, profile
    note: str = ""  # how it was ranked (keywords only, weak matches), under the headline
    sectioned: bool = False  # one section per collection (issue #23)


_LINK_LABELS = ("Abstract", "PDF", "Hugging Face", "Code")


def _links(urls: tuple[str | None, ...]) -> tuple[_LinkView, ...]:
    """The abstract, PDF, Hugging Face and code links of a paper, the unsafe ones left out."""
    pairs = [
        (label, safe)
        for label, url in zip(_LINK_LABELS, urls, strict=True)
        if (safe := safe_url(url))
    ]
    width = max((len(label) for label, _ in pairs), default=0) + 2
    return tuple(_LinkView(label, url, f"{label}:".ljust(width)) for label, url in pairs)


def _labelled(pairs: list[tuple[str, str | None]]) -> tuple[_LinkView, ...]:
    """Links with a label, the unsafe and missing ones left out, text labels lined up."""
    safe = [(label, url) for label, u in pairs if (url := safe_url(u))]
    width = max((len(label) for label, _ in safe), default=0) + 2
    return tuple(_LinkView(label, url, f"{label}:".ljust(width)) for label, url in safe)


def _upvotes(n: int | None) -> str:
    if n is None or not isinstance(n, int) or n < 0:
        return ""
    return f"{n:,} upvote" if n == 1 else f"{n:,} upvotes"


@dataclass(frozen=True, slots=True)
class _PaperBlock:
    """What a paper's card shows that is the same for every reader of a run: its text
    converted from LaTeX, cut and lined up, and its links (none of them a reader's)."""

    title: str
    url: str | None
    pdf_url: str | None
    authors: str
    categories: str
    summary: str
    links: tuple[_LinkView, ...]
    tldr: str
    tldr_label: str


# Papers' blocks of the run: a morning's digests show the same few hundred papers to
# thousands of readers, and converting their LaTeX and cutting their abstracts was a
# third of building a message (issue #22). Keyed by everything a block is made of.
PAPER_BLOCKS = 4096


@functools.lru_cache(maxsize=PAPER_BLOCKS)
def _paper_block(
    paper_id: str,
    title: str,
    abstract: str,
    authors: tuple[str, ...],
    categories: tuple[str, ...],
    urls: tuple[str | None, str | None, str | None, str | None],
    tldr: str | None,
    tldr_source: str | None,
) -> _PaperBlock:
    abs_url, pdf_url, _hf_url, _code_url = urls
    return _PaperBlock(
        title=latex_to_text(title) or paper_id,
        url=safe_url(abs_url),
        pdf_url=safe_url(pdf_url),
        authors=", ".join(shorten_authors(authors)),
        categories=" · ".join(c.strip() for c in categories if c.strip()),
        summary=first_sentences(latex_to_text(abstract), 2),
        links=_links(urls),
        tldr=latex_to_text(tldr or ""),
        tldr_label=_tldr_label(tldr_source),
    )


def _block(item: DigestItem) -> _PaperBlock:
    """The item's paper block, made once per run for each paper (and its links)."""
    urls = (item.abs_url, item.pdf_url, item.hf_url, item.code_url)
    fields = (item.paper_id, item.title, item.abstract, item.authors, item.categories)
    try:
        return _paper_block(*fields, urls, item.tldr, item.tldr_source)
    except TypeError:  # an unhashable field (a list of authors): made for this item alone
        return _paper_block.__wrapped__(*fields, urls, item.tldr, item.tldr_source)


def _item_view(rank: int, item: DigestItem) -> _ItemView:
    """One card: the paper's block (_block) and what is this reader's own: the rank, the
    score, the reason, the upvotes and the feedback links."""
    block = _block(item)
    dots_on, dots_off = relevance_dots(item.score)
    return _ItemView(
        rank=rank,
        title=block.title,
        url=block.url,
        pdf_url=block.pdf_url,
        authors=block.authors,
        categories=block.categories,
        percent=round(_clamp_score(item.score) * 100),
        dots_on=dots_on,
        dots_off=dots_off,
        upvotes=_upvotes(item.upvotes),
        why=collapse_whitespace(item.why),
        summary=block.summary,
        links=block.links,
        tldr=block.tldr,
        tldr_label=block.tldr_label,
        feedback=_labelled([("More like this", item.more_url), ("Less like this", item.less_url)]),
    )


def _tldr_label(source: str | None) -> str:
    """ "TL;DR (OpenReview):", or "TL;DR:" when the source is not named."""
    name = collapse_whitespace(source or "")
    return f"TL;DR ({name}):" if name else "TL;DR:"


def _trending_view(item: TrendingItem) -> _TrendingView:
    upvotes = max(0, item.upvotes) if isinstance(item.upvotes, int) else 0
    return _TrendingView(
        title=latex_to_text(item.title) or item.paper_id,
        url=safe_url(item.abs_url),
        hf_url=safe_url(item.hf_url),
        upvotes=f"{upvotes:,}",
        upvotes_label=_upvotes(upvotes),
        matched=bool(item.matched),
    )


def _ordered_groups(digest: Digest) -> list[tuple[date | None, list[DigestItem]]]:
    """The items as shown: one group for a day; for a week, one per announcement day in
    calendar order, best first within a day, undated items last. Days read like the week
    went; the ranker's order survives where it is meaningful (papers of the same day)."""
    if digest.period != "week":
        return [(None, list(digest.items))]
    by_day: dict[date | None, list[DigestItem]] = {}
    for item in digest.items:
        by_day.setdefault(item.announced, []).append(item)
    days = sorted(d for d in by_day if d is not None)
    keys: list[date | None] = [*days, *([None] if None in by_day else [])]
    # sorted() is stable: equal scores keep the ranker's order.
    return [(d, sorted(by_day[d], key=lambda i: -_clamp_score(i.score))) for d in keys]


def _top_item(digest: Digest) -> DigestItem | None:
    """The best paper: the highest score, the first one on a tie."""
    best: DigestItem | None = None
    for item in digest.items:
        if best is None or _clamp_score(item.score) > _clamp_score(best.score):
            best = item
    return best


def _when(digest: Digest) -> str:
    return "this week" if digest.period == "week" else "today"


def _empty_note(digest: Digest) -> str:
    if digest.items:
        return ""
    when = _when(digest)
    if digest.considered <= 0:
        return f"No new papers were announced in your categories {when}."
    papers = "the one paper" if digest.considered == 1 else f"the {digest.considered:,} papers"
    return f"Nothing new for you {when}: none of {papers} considered cleared your threshold."


def _footer(digest: Digest) -> str:
    """What the digest was ranked against; never claims saved papers it did not have."""
    if digest.keywords_only:
        return (
            "Paperboy ranked these on your keywords and followed authors: none of your "
            "saved papers had its text stored yet."
            if digest.items
            else "Paperboy ranks the new papers on your keywords and followed authors "
            "until your saved papers have their text stored."
        )
    if digest.items:
        return "Paperboy ranked these against the papers you saved."
    return "Paperboy ranks the new papers against the papers you saved."


def _counts(digest: Digest) -> str:
    week = " this week" if digest.period == "week" else ""
    picked = _plural(len(digest.items), "paper")
    return f"{picked} picked from {digest.considered:,} considered{week}"


def _headline(digest: Digest) -> str:
    user = collapse_whitespace(digest.user_name)
    if not digest.items and digest.considered <= 0:
        return f"Nothing new for {user} {_when(digest)}"
    return f"{_counts(digest)}, for {user}"


def _unsubscribe_link(uris: tuple[str, ...]) -> tuple[str | None, str]:
    """The footer's unsubscribe link (https preferred) and its plain-text wording."""
    https = [u for u in uris if u.startswith("https://")]
    if https:
        return https[0], f"Unsubscribe: {https[0]}"
    if uris:
        address = uris[0].removeprefix("mailto:").partition("?")[0]
        return uris[0], f"To unsubscribe, write to {address}."
    return None, ""


def _sections(digest: Digest) -> list[tuple[str, Digest]]:
    """The digest's sections as (heading, the digest of that section's items): one
    without a heading when the digest has no sections; sections without papers left out."""
    if not digest.sections:
        return [("", digest)]
    out = []
    for name in digest.sections:
        part = replace(digest, items=tuple(i for i in digest.items if i.collection == name))
        if part.items:
            heading = f"{section_heading(name)} · {_plural(len(part.items), 'paper')}"
            out.append((heading, part))
    return out


def _digest_view(digest: Digest) -> _DigestView:
    weekly = digest.period == "week"
    groups: list[_GroupView] = []
    rank = 0
    for section, part in _sections(digest):
        for n, (day, items) in enumerate(_ordered_groups(part)):
            views = []
            for item in items:
                rank += 1
                views.append(_item_view(rank, item))
            heading = ""
            if weekly:
                label = format_day(day) if day is not None else "Earlier"
                heading = f"{label} · {_plural(len(views), 'paper')}"
            groups.append(_GroupView(heading, tuple(views), section if n == 0 else ""))
    headline = _headline(digest)
    trending = tuple(_trending_view(t) for t in digest.trending)
    # Inbox lists show this after the subject, which already names the best paper.
    preheader = _empty_note(digest) or _counts(digest)
    if trending:
        preheader += f" · {len(trending)} trending on Hugging Face"
    unsubscribe_url, unsubscribe_text = _unsubscribe_link(unsubscribe_uris(digest.unsubscribe))
    actions = _labelled(
        [
            ("Unsubscribe", digest.unsubscribe_url),
            ("Pause for a week", digest.pause_url),
            ("Your profile", digest.profile_url),
        ]
    )
    if any(a.label == "Unsubscribe" for a in actions):  # one "Unsubscribe": the page's
        unsubscribe_url, unsubscribe_text = None, ""
    return _DigestView(
        subject=subject(digest),
        day=f"Week ending {format_day(digest.day)}" if weekly else format_day(digest.day),
        headline=headline,
        preheader=preheader,
        weekly=weekly,
        groups=tuple(groups) if digest.items else (),
        empty_note=_empty_note(digest),
        trending_heading=f"Trending on Hugging Face {_when(digest)}",
        trending=trending,
        footer=_footer(digest),
        note=digest.note,
        sectioned=bool(digest.sections),
        unsubscribe_url=unsubscribe_url,
        unsubscribe_text=unsubscribe_text,
        actions=actions,
    )


# --- templates --------------------------------------------------------------------------


@functools.lru_cache(maxsize=PAPER_BLOCKS)
def _hang(text: str, first: str = "", rest: str | None = None, width: int = _TEXT_WIDTH) -> str:
    """Wrap `text` to `width`, starting with `first` and indenting later lines by `rest`
    (default: as wide as `first`, so "10. " hangs its lines under the text, not the dot).
    Memoised: a paper's authors and abstract are wrapped alike for every reader."""
    return textwrap.fill(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=" " * len(first) if rest is None else rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates' environment, made on the first render: Jinja2 is imported then, not
    with this module, so a process that imports the package but renders nothing (a
    `paperboy` command that sends no mail) never loads it."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("paperboy.emails", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2", "htm", "xml"),
            disabled_extensions=("txt", "txt.j2"),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["hang"] = _hang
    return env


def _inline_css(html: str) -> str:
    """Inline the <style> rules (mail clients drop <style> blocks) and keep @media rules,
    which cannot be inlined, for dark mode and small screens. If inlining fails, the
    un-inlined HTML is still a valid, readable email."""
    import css_inline  # a dependency; imported on first use, not at every start-up

    try:
        return css_inline.inline(html, keep_at_rules=True, load_remote_stylesheets=False)
    except Exception:  # a styling failure must not stop the digest
        log.warning("could not inline the digest's CSS; sending it un-inlined", exc_info=True)
        return html


def render_text(digest: Digest) -> str:
    """The plain-text part: what text-only clients, previews and the console show.

    Raises ValueError if `digest.unsubscribe` is not a mailto: address or https URL.
    """
    return _text_part(_digest_view(digest))


def render_html(digest: Digest) -> str:
    """The HTML part: table layout (max 640px), CSS inlined, autoescaped, light/dark safe.

    Raises ValueError like render_text.
    """
    return _html_part(_digest_view(digest))


def _text_part(view: _DigestView) -> str:
    return _environment().get_template("digest.txt.j2").render(d=view)


def _html_part(view: _DigestView) -> str:
    return _inline_css(_environment().get_template("digest.html.j2").render(d=view))


def subject(digest: Digest) -> str:
    """The subject line: how many papers, for when, and the best paper's title, e.g.
    `Paperboy — 12 papers for Tue 3 Jun: “Attention Is All You Need”`.

    The title tells at a glance whether today's digest is worth opening; it is cut at
    about 50 characters so that the count and the day stay visible on a phone.
    """
    papers = _plural(len(digest.items), "paper")
    day = format_day(digest.day, year=False)
    when = f"the week ending {day}" if digest.period == "week" else day
    line = f"Paperboy — {papers} for {when}"
    top = _top_item(digest)
    if top is not None:
        title = latex_to_text(top.title) or top.paper_id
        line += f": “{shorten(title, _SUBJECT_TITLE_CHARS)}”"
    return line


# --- the message ------------------------------------------------------------------------


def _sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2].strip().strip(">")
    # make_msgid would otherwise call socket.getfqdn(), which can block on DNS.
    return domain or "paperboy.invalid"


def build_message(
    digest: Digest, *, message_id: str | None = None, domain: str | None = None
) -> EmailMessage:
    """Build the multipart/alternative message (text first, then HTML) ready for any Transport.

    Pass the `message_id` stored in the delivery ledger on a retry, so the resent message
    carries the same Message-ID and recipients' clients can de-duplicate it.
    """
    if digest.created_at.tzinfo is None or digest.created_at.utcoffset() is None:
        raise ValueError(f"Digest.created_at must be timezone-aware, got {digest.created_at!r}")
    if not digest.to:
        raise ValueError("Digest.to is empty: a digest needs at least one recipient")
    unsubscribe = unsubscribe_uris(digest.unsubscribe)  # validated before anything is built

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = digest.sender
    msg["To"] = ", ".join(digest.to)
    if digest.reply_to:
        msg["Reply-To"] = digest.reply_to
    msg["Subject"] = subject(digest)
    msg["Date"] = format_datetime(digest.created_at)
    msg_domain = domain or _sender_domain(digest.sender)
    msg["Message-ID"] = message_id if message_id else make_msgid(domain=msg_domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange/Outlook
    # A stable List-Id lets people filter their digests; with List-Unsubscribe it also
    # keeps Sieve vacation responders quiet (RFC 5230 4.5). No "Precedence: bulk": it is
    # non-standard (RFC 2076: "discouraged"), everything it would suppress the headers
    # above already suppress, and Gmail files it as bulk: a digest someone asked for
    # belongs in their inbox. An operator who wants it can add it via extra_headers.
    msg["List-Id"] = list_id(digest.user_name, msg_domain)
    if unsubscribe:
        msg["List-Unsubscribe"] = ", ".join(f"<{uri}>" for uri in unsubscribe)
        if any(uri.startswith("https://") for uri in unsubscribe):
            # RFC 8058 one-click: the client POSTs "List-Unsubscribe=One-Click" to the https
            # URI. It requires https (a mailto cannot be one-click) and a DKIM signature
            # covering both headers, which is the sending server's job.
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in digest.extra_headers.items():
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"extra_headers may not set {name!r}: build_message owns it")
        del msg[name]  # replace, never duplicate, a header we set above
        msg[name] = value

    # Quoted-printable keeps the message 7-bit clean (any relay, no 8BITMIME needed) while
    # the ASCII bulk of it stays legible in a raw .eml.
    view = _digest_view(digest)  # one view for both parts
    msg.set_content(_text_part(view), subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(_html_part(view), subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
