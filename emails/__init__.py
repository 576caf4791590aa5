"""Paperboy's e-mail: render a Digest (HTML + plain text, one MIME message) and deliver it.

    message = build_message(digest)            # emails.render
    receipt = transport.send(message)          # emails.delivery: SMTP, outbox folder, console

Plain data in, a stdlib EmailMessage out; this package never imports `jobs` or `recommender`.
"""

from __future__ import annotations

from paperboy.emails.delivery import (
    ConsoleTransport,
    DeliveryError,
    OutboxTransport,
    PermanentDeliveryError,
    SmtpTransport,
    TemporaryDeliveryError,
    Transport,
)
from paperboy.emails.digest import Digest, DigestItem, TrendingItem
from paperboy.emails.render import (
    build_message,
    list_id,
    render_html,
    render_text,
    subject,
    unsubscribe_uris,
)
from paperboy.text import latex_to_text

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
