"""Is this an e-mail address? The RFC 5322 addr-spec, as mail servers take it.

`reader@localhost` and `paperboy@localhost` are what a local MTA (postfix, exim) delivers:
a domain needs no dot. The parsing is the standard library's (email.headerregistry);
on top, a domain is host-name labels (letters, digits, inner hyphens) or an address
literal such as `[127.0.0.1]`.
"""

from __future__ import annotations

import re
from email.errors import MessageError
from email.headerregistry import Address

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
