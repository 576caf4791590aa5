"""Render a Digest into a subject, a plain-text part, an HTML part and one MIME message.

The pipeline, per item: LaTeX -> readable text (emails.text) -> a small view object with
everything already formatted -> Jinja2 template (autoescaped for HTML) -> CSS inlined.
Escaping happens last, in the template, so converted LaTeX can never smuggle markup in.
"""

from __future__ import annotations

import email.policy
import logging
import math
import textwrap
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import urlsplit

import jinja2

from emails.digest import Digest, DigestItem
from emails.text import collapse_whitespace, first_sentences, latex_to_text

__all__ = [
    "build_message",
    "format_day",
    "relevance_dots",
    "render_html",
    "render_text",
    "shorten_authors",
    "subject",
]

log = logging.getLogger(__name__)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_WIDTH = 72
_DOTS = 5
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


def _safe_url(url: str | None) -> str | None:
    """Only absolute http(s) links reach a template; anything else (javascript:, relative) is
    dropped, because autoescaping protects the markup but not the meaning of an href."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        return None
    return url


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- view objects: everything the templates show, already formatted ---------------------


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
    why: str
    summary: str


@dataclass(frozen=True, slots=True)
class _DigestView:
    subject: str
    day: str
    headline: str  # "3 papers picked from 120 considered"
    user_name: str
    items: tuple[_ItemView, ...]


def _item_view(rank: int, item: DigestItem) -> _ItemView:
    dots_on, dots_off = relevance_dots(item.score)
    return _ItemView(
        rank=rank,
        title=latex_to_text(item.title) or item.paper_id,
        url=_safe_url(item.abs_url),
        pdf_url=_safe_url(item.pdf_url),
        authors=", ".join(shorten_authors(item.authors)),
        categories=" · ".join(c.strip() for c in item.categories if c.strip()),
        percent=round(_clamp_score(item.score) * 100),
        dots_on=dots_on,
        dots_off=dots_off,
        why=collapse_whitespace(item.why),
        summary=first_sentences(latex_to_text(item.abstract), 2),
    )


def _digest_view(digest: Digest) -> _DigestView:
    picked = len(digest.items)
    return _DigestView(
        subject=subject(digest),
        day=format_day(digest.day),
        headline=f"{_plural(picked, 'paper')} picked from {digest.considered:,} considered",
        user_name=digest.user_name,
        items=tuple(_item_view(i, item) for i, item in enumerate(digest.items, start=1)),
    )


# --- templates --------------------------------------------------------------------------


def _hang(text: str, first: str = "", rest: str = "", width: int = _TEXT_WIDTH) -> str:
    """Wrap `text` to `width`, starting with `first` and indenting later lines by `rest`."""
    return textwrap.fill(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("emails", "templates"),
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


_ENV = _make_environment()


def _inline_css(html: str) -> str:
    """Inline the <style> rules (mail clients drop <style> blocks) and keep @media rules,
    which cannot be inlined, for dark mode and small screens. Without css_inline, or if it
    fails, the un-inlined HTML is still a valid, readable email."""
    try:
        import css_inline
    except ImportError:
        return html
    try:
        return css_inline.inline(html, keep_at_rules=True, load_remote_stylesheets=False)
    except Exception:  # a styling failure must not stop the digest
        log.warning("could not inline the digest's CSS; sending it un-inlined", exc_info=True)
        return html


def render_text(digest: Digest) -> str:
    """The plain-text part: what text-only clients, previews and the console show."""
    return _ENV.get_template("digest.txt.j2").render(d=_digest_view(digest))


def render_html(digest: Digest) -> str:
    """The HTML part: table layout (max 640px), CSS inlined, autoescaped, light/dark safe."""
    html = _ENV.get_template("digest.html.j2").render(d=_digest_view(digest))
    return _inline_css(html)


def subject(digest: Digest) -> str:
    """The subject line, e.g. "Paperboy — 12 papers for Tue 3 Jun"."""
    papers = _plural(len(digest.items), "paper")
    return f"Paperboy — {papers} for {format_day(digest.day, year=False)}"


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

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = digest.sender
    msg["To"] = ", ".join(digest.to)
    if digest.reply_to:
        msg["Reply-To"] = digest.reply_to
    msg["Subject"] = subject(digest)
    msg["Date"] = format_datetime(digest.created_at)
    msg["Message-ID"] = (
        message_id if message_id else make_msgid(domain=domain or _sender_domain(digest.sender))
    )
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange/Outlook
    for name, value in digest.extra_headers.items():
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"extra_headers may not set {name!r}: build_message owns it")
        del msg[name]  # replace, never duplicate, a header we set above
        msg[name] = value

    # Quoted-printable keeps the message 7-bit clean (any relay, no 8BITMIME needed) while
    # the ASCII bulk of it stays legible in a raw .eml.
    msg.set_content(render_text(digest), subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(
        render_html(digest), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    return msg
