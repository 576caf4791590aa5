"""paperboy.emails.render.build_message: one multipart/alternative message that parses back."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from paperboy.emails.digest import Digest
from paperboy.emails.render import build_message, unsubscribe_uris
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
    assert msg["Subject"] == "Paperboy — 3 papers for Tue 3 Jun: “Attention Is All You Need”"
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


# --- list headers (RFC 2369, 2919, 8058) -------------------------------------------------


def test_list_id_is_derived_from_user_and_sender_domain(make_digest: DigestFactory) -> None:
    msg = roundtrip(make_digest(user_name="ada"))
    assert msg["List-Id"] == "Paperboy digest for ada <ada.digest.paperboy.example.org>"
    # Stable: the same user gets the same List-Id every day, whatever the Message-ID.
    assert roundtrip(make_digest(user_name="ada"))["List-Id"] == msg["List-Id"]
    assert roundtrip(make_digest(user_name="bob"))["List-Id"] != msg["List-Id"]


def test_list_id_domain_follows_the_message_id_domain(make_digest: DigestFactory) -> None:
    msg = roundtrip(make_digest(user_name="ada"), domain="mail.lab.example")
    assert msg["List-Id"].endswith("<ada.digest.paperboy.mail.lab.example>")
    sender = "Paperboy <digest@paperboy.example.net>"
    msg = roundtrip(make_digest(user_name="ada", sender=sender))
    assert msg["List-Id"].endswith("<ada.digest.paperboy.example.net>")


@pytest.mark.parametrize(
    ("user_name", "list_id"),
    [
        (
            "Ada Lovelace",
            "Paperboy digest for Ada Lovelace <ada-lovelace.digest.paperboy.example.org>",
        ),
        (
            "Zoë Ångström",
            "Paperboy digest for zoe-angstrom <zoe-angstrom.digest.paperboy.example.org>",
        ),
        ('Eve "<x>", Jr.', "Paperboy digest for eve-x-jr <eve-x-jr.digest.paperboy.example.org>"),
    ],
)
def test_list_id_is_ascii_and_well_formed(
    make_digest: DigestFactory, user_name: str, list_id: str
) -> None:
    # Long values are folded after "List-Id:" (legal); Python's parser keeps that space.
    assert roundtrip(make_digest(user_name=user_name))["List-Id"].strip() == list_id


def test_list_id_for_a_name_without_latin_letters(make_digest: DigestFactory) -> None:
    value = roundtrip(make_digest(user_name="東京"))["List-Id"]
    label = value[value.index("<") + 1 : value.index(".")]
    assert label.startswith("u-") and len(label) == 12 and label.isascii()


def test_no_unsubscribe_headers_unless_configured(make_digest: DigestFactory) -> None:
    msg = roundtrip(make_digest())
    assert msg["List-Unsubscribe"] is None
    assert msg["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize("value", ["unsubscribe@example.org", "mailto:unsubscribe@example.org"])
def test_mailto_unsubscribe_is_not_one_click(make_digest: DigestFactory, value: str) -> None:
    msg = roundtrip(make_digest(unsubscribe=value))
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>"
    assert msg["List-Unsubscribe-Post"] is None  # RFC 8058 needs an https URI


def test_https_unsubscribe_is_one_click(make_digest: DigestFactory) -> None:
    url = "https://paperboy.example.org/unsubscribe?user=ada&token=0123456789abcdef"
    msg = roundtrip(make_digest(unsubscribe=("mailto:unsubscribe@example.org?subject=ada", url)))
    unsubscribe = msg["List-Unsubscribe"].strip()  # folded: see the List-Id test
    assert unsubscribe == f"<{url}>, <mailto:unsubscribe@example.org?subject=ada>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    "value",
    [
        "http://paperboy.example.org/unsubscribe",  # one-click and privacy need https
        "javascript:alert(1)",
        "https://paperboy.example.org/un subscribe",
        "https://example.org/a,b",
        "mailto:not-an-address",
        "unsubscribe",
        "https://example.org/\r\nBcc: eve@example.org",
    ],
)
def test_bad_unsubscribe_is_refused(make_digest: DigestFactory, value: str) -> None:
    with pytest.raises(ValueError, match="unsubscribe"):
        build_message(make_digest(unsubscribe=value))
    with pytest.raises(ValueError, match="unsubscribe"):
        unsubscribe_uris(value)


def test_unsubscribe_uris_normalises() -> None:
    assert unsubscribe_uris(None) == ()
    assert unsubscribe_uris(("a@example.org", "MAILTO:a@example.org", "HTTPS://x.example/u")) == (
        "https://x.example/u",
        "mailto:a@example.org",
    )


def test_no_precedence_header(make_digest: DigestFactory) -> None:
    # Decided against "Precedence: bulk" (see build_message); an operator can still add it.
    msg = roundtrip(make_digest())
    assert msg["Precedence"] is None
    assert msg["Auto-Submitted"] == "auto-generated"
    added = roundtrip(make_digest(extra_headers={"Precedence": "bulk"}))
    assert added["Precedence"] == "bulk"


def test_extra_headers_may_override_the_list_id(make_digest: DigestFactory) -> None:
    msg = build_message(make_digest(extra_headers={"List-Id": "Lab <lab.example.org>"}))
    assert msg.get_all("List-Id") == ["Lab <lab.example.org>"]


def test_weekly_and_empty_messages_build(make_digest: DigestFactory) -> None:
    week = roundtrip(make_digest(period="week"))
    assert week["Subject"].startswith("Paperboy — 3 papers for the week ending Tue 3 Jun: ")
    empty = roundtrip(make_digest(items=(), considered=0))
    assert empty["Subject"] == "Paperboy — 0 papers for Tue 3 Jun"
    text = empty.get_body(preferencelist=("plain",))
    assert isinstance(text, EmailMessage)
    assert "No new papers were announced" in text.get_content()
