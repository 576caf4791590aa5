"""paperboy.emails.delivery.OutboxTransport and ConsoleTransport: files and streams, no network."""

from __future__ import annotations

import email
import email.policy
import io
import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperboy.emails.delivery import (
    ConsoleTransport,
    OutboxTransport,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    Transport,
)
from paperboy.emails.render import build_message
from tests.emails.conftest import DigestFactory
from tests.emails.html_probe import HtmlProbe


@pytest.fixture
def message(make_digest: DigestFactory) -> EmailMessage:
    return build_message(make_digest(), message_id="<digest-ada-20250603@example.org>")


def test_writes_eml_and_html_preview(tmp_path: Path, message: EmailMessage) -> None:
    outbox = OutboxTransport(tmp_path / "outbox" / "nested")  # created on demand
    assert isinstance(outbox, Transport)
    receipt = outbox.send(message)
    assert outbox.last_paths is not None
    eml, html = outbox.last_paths
    assert receipt == str(eml)
    assert eml.parent == tmp_path / "outbox" / "nested"
    assert eml.name.startswith("20250603-053000-ada-") and eml.suffix == ".eml"
    assert html == eml.with_suffix(".html")
    probe = HtmlProbe(html.read_text(encoding="utf-8"))
    assert "Attention Is All You Need" in probe.text
    assert sorted(p.name for p in eml.parent.iterdir()) == sorted([eml.name, html.name])


def test_eml_parses_back(tmp_path: Path, message: EmailMessage) -> None:
    eml = Path(OutboxTransport(tmp_path).send(message))
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Message-ID"] == "<digest-ada-20250603@example.org>"
    assert parsed["Subject"] == "Paperboy — 3 papers for Tue 3 Jun: “Attention Is All You Need”"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_same_message_id_overwrites_the_same_file(
    tmp_path: Path, make_digest: DigestFactory
) -> None:
    outbox = OutboxTransport(tmp_path)
    first = outbox.send(build_message(make_digest(), message_id="<same@example.org>"))
    again = outbox.send(build_message(make_digest(), message_id="<same@example.org>"))
    other = outbox.send(build_message(make_digest(), message_id="<other@example.org>"))
    assert first == again != other
    assert len(list(tmp_path.glob("*.eml"))) == 2
    assert len(list(tmp_path.glob("*.html"))) == 2


def test_write_is_atomic(
    tmp_path: Path,
    message: EmailMessage,
    make_digest: DigestFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbox = OutboxTransport(tmp_path)
    eml = Path(outbox.send(message))
    before = eml.read_bytes()
    real_replace = os.replace

    def crash_on_eml(src: str, dst: str) -> None:
        if str(dst).endswith(".eml"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_eml)
    retry = build_message(make_digest(items=()), message_id=str(message["Message-ID"]))
    with pytest.raises(TemporaryDeliveryError, match="No space left"):
        outbox.send(retry)
    monkeypatch.undo()
    assert eml.read_bytes() == before  # the old file is whole, not half-overwritten
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".eml", ".html"]  # no temp left
    outbox.send(retry)
    assert b"0 papers picked" in eml.read_bytes()


def test_message_without_message_id_is_refused(tmp_path: Path, message: EmailMessage) -> None:
    del message["Message-ID"]
    with pytest.raises(PermanentDeliveryError, match="Message-ID"):
        OutboxTransport(tmp_path).send(message)


def test_text_only_message_gets_an_escaped_preview(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["Message-ID"] = "<plain@example.org>"
    msg["To"] = "Bob <bob@example.org>"
    msg.set_content("<b>not markup</b>\n")
    outbox = OutboxTransport(tmp_path)
    outbox.send(msg)
    assert outbox.last_paths is not None
    eml, html = outbox.last_paths
    assert "-bob-" in eml.name
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html.read_text(encoding="utf-8")


def test_console_prints_headers_and_text(message: EmailMessage) -> None:
    stream = io.StringIO()
    assert ConsoleTransport(stream).send(message) == "console"
    out = stream.getvalue()
    assert out.startswith(
        "From: Paperboy <paperboy@example.org>\nTo: ada@example.org\n"
        "Subject: Paperboy — 3 papers for Tue 3 Jun: “Attention Is All You Need”\n\n"
    )
    assert "1. Attention Is All You Need" in out
    assert "<html" not in out


def test_console_defaults_to_stdout(
    message: EmailMessage, capsys: pytest.CaptureFixture[str]
) -> None:
    ConsoleTransport().send(message)
    assert "Attention Is All You Need" in capsys.readouterr().out
