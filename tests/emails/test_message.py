"""emails.render.build_message: one multipart/alternative message that parses back."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from emails.digest import Digest
from emails.render import build_message
from tests.emails.conftest import DigestFactory, ItemFactory


def roundtrip(digest: Digest, **kwargs: str) -> EmailMessage:
    raw = build_message(digest, **kwargs).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_multipart_alternative_text_then_html(make_digest: DigestFactory) -> None:
    msg = roundtrip(make_digest())
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert "Attention Is All You Need" in parts[0].get_content()
    assert "<html" in parts[1].get_content()


def test_headers(make_digest: DigestFactory) -> None:
    digest = make_digest(
        to=("ada@example.org", "Ada at work <ada@work.example>"),
        reply_to="lab-admin@example.org",
        extra_headers={"X-Paperboy-Digest": "ada/2025-06-03"},
    )
    msg = roundtrip(digest)
    assert msg["From"] == "Paperboy <paperboy@example.org>"
    assert msg["To"] == "ada@example.org, Ada at work <ada@work.example>"
    assert msg["Reply-To"] == "lab-admin@example.org"
    assert msg["Subject"] == "Paperboy — 3 papers for Tue 3 Jun"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Paperboy-Digest"] == "ada/2025-06-03"
    assert msg["Date"].datetime == datetime(2025, 6, 3, 5, 30, tzinfo=UTC)
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.org>")
    assert msg["MIME-Version"] == "1.0"


def test_no_reply_to_unless_set(make_digest: DigestFactory) -> None:
    assert roundtrip(make_digest())["Reply-To"] is None


def test_given_message_id_is_used_verbatim(make_digest: DigestFactory) -> None:
    msg_id = "<20250603.ada.1@example.org>"
    assert roundtrip(make_digest(), message_id=msg_id)["Message-ID"] == msg_id
    fresh = {roundtrip(make_digest())["Message-ID"] for _ in range(3)}
    assert len(fresh) == 3


def test_message_id_domain_override(make_digest: DigestFactory) -> None:
    assert roundtrip(make_digest(), domain="mail.lab.example")["Message-ID"].endswith(
        "@mail.lab.example>"
    )


def test_date_keeps_the_offset(make_digest: DigestFactory) -> None:
    berlin = timezone(timedelta(hours=2))
    msg = roundtrip(make_digest(created_at=datetime(2025, 6, 3, 7, 30, tzinfo=berlin)))
    assert msg["Date"].datetime == datetime(2025, 6, 3, 5, 30, tzinfo=UTC)
    assert "+0200" in str(msg["Date"])


def test_naive_created_at_is_rejected(make_digest: DigestFactory) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message(make_digest(created_at=datetime(2025, 6, 3, 5, 30)))


def test_extra_headers_cannot_break_the_mime_structure(make_digest: DigestFactory) -> None:
    with pytest.raises(ValueError, match="Content-Type"):
        build_message(make_digest(extra_headers={"Content-Type": "text/plain"}))


def test_extra_headers_replace_rather_than_duplicate(make_digest: DigestFactory) -> None:
    msg = build_message(make_digest(extra_headers={"Auto-Submitted": "auto-replied"}))
    assert msg.get_all("Auto-Submitted") == ["auto-replied"]


def test_header_injection_is_refused(make_digest: DigestFactory) -> None:
    with pytest.raises(ValueError):
        build_message(make_digest(extra_headers={"X-Note": "hi\r\nBcc: eve@example.org"}))


def test_non_ascii_names_and_titles_survive(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    item = make_item(title="Über Kähler-Mannigfaltigkeiten — 東京", authors=("Zoë Ångström",))
    digest = make_digest(
        user_name="Zoë",
        to=("Zoë Ångström <zoe@example.org>",),
        sender="Paperboy Zürich <paperboy@example.org>",
        items=(item,),
    )
    raw = build_message(digest).as_bytes()
    raw.decode("ascii")  # 7-bit clean on the wire: encoded words and QP/base64 bodies
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["To"] == "Zoë Ångström <zoe@example.org>"
    assert msg["From"].addresses[0].display_name == "Paperboy Zürich"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    for part in (text.get_content(), html.get_content()):
        assert "Über Kähler-Mannigfaltigkeiten — 東京" in part
        assert "Zoë Ångström" in part
        assert "Zoë" in part


def test_empty_recipient_list_is_rejected(make_digest: DigestFactory) -> None:
    with pytest.raises(ValueError, match="recipient"):
        build_message(make_digest(to=()))
