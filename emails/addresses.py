"""Is this an e-mail address? The RFC 5322 addr-spec, as mail servers take it. And the
links a message may carry: safe http(s) URLs, the URIs of a List-Unsubscribe header.

`reader@localhost` and `paperboy@localhost` are what a local MTA (postfix, exim) delivers:
a domain needs no dot. The parsing is the standard library's (email.headerregistry);
on top, a domain is host-name labels (letters, digits, inner hyphens) or an address
literal such as `[127.0.0.1]`.

The config check imports this module (every `paperboy` command does), not the renderer.
"""

from __future__ import annotations

import re
from email.errors import MessageError
from email.headerregistry import Address
from urllib.parse import unquote, urlsplit

_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?")  # IDN labels too


def address_problem(text: str) -> str | None:
    """Why `text` is not an e-mail address (an addr-spec like `ada@example.org`); None
    when it is one."""
    if not text or text != text.strip():
        return "empty, or spaces around it"
    local, at, domain = text.rpartition("@")
    if not at:
        return "no @domain"
    if not local or not domain:
        return "nothing before the @" if not local else "nothing after the @"
    if any(c.isspace() for c in domain) or (
        any(c.isspace() for c in local) and not (local.startswith('"') and local.endswith('"'))
    ):
        return "spaces in it"
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, MessageError) as e:
        return str(e) or type(e).__name__
    domain = parsed.domain
    if domain.startswith("[") and domain.endswith("]"):
        return None
    if len(domain) > 253 or not all(_LABEL.fullmatch(label) for label in domain.split(".")):
        return f"{domain!r} is not a host name"
    return None


def is_address(text: str) -> bool:
    """True for an e-mail address a mail server accepts (see :func:`address_problem`)."""
    return address_problem(text) is None


_URL_UNSAFE = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')


def safe_url(url: str | None) -> str | None:
    """Only absolute http(s) links reach a template; anything else (javascript:, relative) is
    dropped, because autoescaping protects the markup but not the meaning of an href."""
    if not url:
        return None
    url = url.strip()
    if _URL_UNSAFE.search(url):  # never valid in a URL (RFC 3986); no arXiv link has them
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        return None
    return url


# A URI inside List-* headers sits between angle brackets, in a header that must stay
# ASCII: no whitespace, no brackets, no commas (RFC 2369 separates URIs with them).
_HEADER_URI = re.compile(r"[!#-+\--;=?-~]+")  # printable ASCII minus space " , < >


def unsubscribe_uris(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """Normalise Digest.unsubscribe into the URIs of a List-Unsubscribe header, https first.

    Accepts "mailto:x@example.org", a bare "x@example.org" and "https://..." URLs; raises
    ValueError for anything else (http, javascript:, spaces), so a config check can call it.
    """
    if value is None:
        return ()
    raw = (value,) if isinstance(value, str) else tuple(value)
    uris: list[str] = []
    for entry in raw:
        uri = entry.strip() if isinstance(entry, str) else ""
        if uri and "@" in uri and ":" not in uri.partition("@")[0]:
            uri = "mailto:" + uri  # a bare address
        lowered = uri.lower()
        if lowered.startswith("mailto:"):
            uri = "mailto:" + uri[len("mailto:") :]
            ok = is_address(unquote(uri[len("mailto:") :].partition("?")[0]))
        elif lowered.startswith("https://"):
            uri = "https://" + uri[len("https://") :]
            ok = safe_url(uri) is not None
        else:
            ok = False
        if not ok or not _HEADER_URI.fullmatch(uri):
            raise ValueError(
                f"unsubscribe: expected a mailto: address or an https:// URL "
                f"(ASCII, no spaces or commas), got {entry!r}"
            )
        if uri not in uris:
            uris.append(uri)
    return tuple(sorted(uris, key=lambda u: not u.startswith("https://")))
