"""Paperboy's e-mail: render a Digest (HTML + plain text, one MIME message) and deliver it.

    message = build_message(digest)            # emails.render
    receipt = transport.send(message)          # emails.delivery: SMTP, outbox folder, console

Plain data in, a stdlib EmailMessage out; this package never imports `jobs` or `recommender`.

The renderer and the transports (Jinja2, smtplib, ssl) are imported when one of their names
is first asked for: the config check imports `paperboy.emails.addresses`, and with it this
package, in every `paperboy` command, most of which send no mail.
"""

from __future__ import annotations

import importlib
import typing  # the module, not its names: this package's public names are its own

from paperboy.emails.digest import Digest, DigestItem, TrendingItem
from paperboy.text import latex_to_text

if typing.TYPE_CHECKING:
    from paperboy.emails.delivery import (
        ConsoleTransport,
        DeliveryError,
        OutboxTransport,
        PermanentDeliveryError,
        SmtpTransport,
        TemporaryDeliveryError,
        Transport,
    )
    from paperboy.emails.render import (
        build_message,
        list_id,
        render_html,
        render_text,
        subject,
        unsubscribe_uris,
    )

__all__ = [
    "ConsoleTransport",
    "DeliveryError",
    "Digest",
    "DigestItem",
    "OutboxTransport",
    "PermanentDeliveryError",
    "SmtpTransport",
    "TemporaryDeliveryError",
    "Transport",
    "TrendingItem",
    "build_message",
    "latex_to_text",
    "list_id",
    "render_html",
    "render_text",
    "subject",
    "unsubscribe_uris",
]

_DELIVERY = (
    "ConsoleTransport",
    "DeliveryError",
    "OutboxTransport",
    "PermanentDeliveryError",
    "SmtpTransport",
    "TemporaryDeliveryError",
    "Transport",
)
_RENDER = ("build_message", "list_id", "render_html", "render_text", "subject", "unsubscribe_uris")
_LAZY = {
    **dict.fromkeys(_DELIVERY, "paperboy.emails.delivery"),
    **dict.fromkeys(_RENDER, "paperboy.emails.render"),
}


def __getattr__(name: str) -> typing.Any:
    """Import the renderer's and the transports' names when they are first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paperboy.emails' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
