"""paperboy.emails.delivery.SmtpTransport against real SMTP servers on 127.0.0.1 (no network)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import traceback
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperboy.emails.delivery import (
    DeliveryError,
    PermanentDeliveryError,
    SmtpTransport,
    TemporaryDeliveryError,
    Transport,
)
from paperboy.emails.render import build_message
from tests.emails.conftest import DigestFactory, ServerFactory
from tests.smtp_server import DroppingSMTPServer, LocalSMTPServer, free_port


@pytest.fixture
def message(make_digest: DigestFactory) -> EmailMessage:
    return build_message(
        make_digest(to=("ada@example.org", "Zoë <zoe@example.org>")),
        message_id="<test-1@example.org>",
    )


def plain(server: LocalSMTPServer | DroppingSMTPServer) -> SmtpTransport:
    """A transport speaking plain SMTP (allowed: loopback) to a test server."""
    return SmtpTransport(server.host, server.port, "none", None, None, timeout=5)


def test_is_a_transport(smtp_server: LocalSMTPServer) -> None:
    assert isinstance(plain(smtp_server), Transport)


def test_send_arrives_with_both_parts(smtp_server: LocalSMTPServer, message: EmailMessage) -> None:
    receipt = plain(smtp_server).send(message)
    assert receipt == f"127.0.0.1:{smtp_server.port}"
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.mail_from == "paperboy@example.org"
    assert envelope.rcpt_tos == ("ada@example.org", "zoe@example.org")
    received = smtp_server.messages[0]
    assert received["Message-ID"] == "<test-1@example.org>"
    assert received["Subject"] == "Paperboy — 3 papers for Tue 3 Jun: “Attention Is All You Need”"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    assert "α-divergence for robust inference" in text.get_content()
    assert "α-divergence for robust inference" in html.get_content()


def test_rejected_mailbox_is_permanent(
    smtp_server_factory: ServerFactory, message: EmailMessage
) -> None:
    server = smtp_server_factory(reply="550 5.1.1 mailbox unavailable", stage="RCPT")
    with pytest.raises(PermanentDeliveryError, match="550"):
        plain(server).send(message)
    assert server.messages == []


def test_rejected_data_is_permanent(
    smtp_server_factory: ServerFactory, message: EmailMessage
) -> None:
    server = smtp_server_factory(reply="550 5.1.1 mailbox unavailable")
    with pytest.raises(PermanentDeliveryError, match="mailbox unavailable"):
        plain(server).send(message)


def test_try_later_is_temporary(smtp_server_factory: ServerFactory, message: EmailMessage) -> None:
    server = smtp_server_factory(reply="451 4.3.0 try later")
    with pytest.raises(TemporaryDeliveryError, match="451"):
        plain(server).send(message)


def test_greylisted_recipients_are_temporary(
    smtp_server_factory: ServerFactory, message: EmailMessage
) -> None:
    server = smtp_server_factory(reply="450 4.2.0 greylisted", stage="RCPT")
    with pytest.raises(TemporaryDeliveryError, match="greylisted"):
        plain(server).send(message)


def test_dropped_connection_is_temporary(
    dropping_smtp_server: DroppingSMTPServer, message: EmailMessage
) -> None:
    with pytest.raises(TemporaryDeliveryError, match="closed the connection"):
        plain(dropping_smtp_server).send(message)
    assert dropping_smtp_server.connections == 1


def test_nothing_listening_is_temporary(message: EmailMessage) -> None:
    transport = SmtpTransport("127.0.0.1", free_port(), "none", None, None, timeout=5)
    with pytest.raises(TemporaryDeliveryError, match="could not talk to"):
        transport.send(message)


def test_starttls_to_a_server_without_it_is_permanent(
    smtp_server: LocalSMTPServer, message: EmailMessage
) -> None:
    transport = SmtpTransport(smtp_server.host, smtp_server.port, "starttls", None, None, 5)
    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        transport.send(message)


@pytest.mark.parametrize("host", ["smtp.example.org", "10.0.0.1", "192.168.1.5", "::2"])
def test_plain_smtp_to_a_remote_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="only allowed to localhost"):
        SmtpTransport(host, 25, "none", None, None)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"])
def test_plain_smtp_to_loopback_is_allowed(host: str) -> None:
    assert SmtpTransport(host, 25, "none", None, None).security == "none"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"security": "tls"}, "starttls, ssl or none"),
        ({"port": 0}, "port"),
        ({"username": "ada", "password": None}, "no password"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, object], match: str) -> None:
    settings: dict[str, object] = {
        "host": "smtp.example.org",
        "port": 587,
        "security": "starttls",
        "username": None,
        "password": None,
    }
    settings.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SmtpTransport(**settings)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_works_and_wrong_password_is_permanent_and_never_shown(
    smtp_server_factory: ServerFactory, message: EmailMessage, caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server_factory(auth=("ada", "correct horse"))
    good = SmtpTransport(server.host, server.port, "none", "ada", "correct horse", timeout=5)
    assert good.send(message)
    assert len(server.messages) == 1

    secret = "hunter2-very-secret"
    bad = SmtpTransport(server.host, server.port, "none", "ada", secret, timeout=5)
    assert secret not in repr(bad)
    with pytest.raises(PermanentDeliveryError) as info:
        bad.send(message)
    assert "535" in str(info.value)
    for exc in (info.value, info.value.__cause__):
        assert secret not in str(exc) and secret not in repr(exc)
    assert secret not in caplog.text
    assert len(server.messages) == 1


def test_every_failure_is_a_delivery_error(message: EmailMessage) -> None:
    assert issubclass(TemporaryDeliveryError, DeliveryError)
    assert issubclass(PermanentDeliveryError, DeliveryError)


# --- TLS, with a throw-away certificate for 127.0.0.1 -----------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (needs `cryptography`; skipped without it)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paperboy test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def starttls_server(
    smtp_server_factory: ServerFactory, certificate: tuple[Path, Path]
) -> LocalSMTPServer:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)
    return smtp_server_factory(tls_context=server_context)


def test_starttls_with_a_trusted_certificate(
    starttls_server: LocalSMTPServer, certificate: tuple[Path, Path], message: EmailMessage
) -> None:
    client_context = ssl.create_default_context(cafile=str(certificate[0]))
    transport = SmtpTransport(
        starttls_server.host, starttls_server.port, "starttls", None, None, 5, client_context
    )
    transport.send(message)
    assert len(starttls_server.messages) == 1


def test_starttls_verifies_the_certificate(
    starttls_server: LocalSMTPServer, message: EmailMessage
) -> None:
    # The default context does not trust our self-signed certificate: nothing may be sent.
    transport = SmtpTransport(starttls_server.host, starttls_server.port, "starttls", None, None, 5)
    with pytest.raises(DeliveryError, match="certificate"):
        transport.send(message)
    assert starttls_server.messages == []


def test_implicit_tls_with_a_trusted_certificate(
    smtp_server_factory: ServerFactory, certificate: tuple[Path, Path], message: EmailMessage
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)
    server = smtp_server_factory(ssl_context=server_context)
    client_context = ssl.create_default_context(cafile=str(certificate[0]))
    SmtpTransport(server.host, server.port, "ssl", None, None, 5, client_context).send(message)
    assert len(server.messages) == 1
    with pytest.raises(DeliveryError, match="certificate"):
        SmtpTransport(server.host, server.port, "ssl", None, None, 5).send(message)
    assert len(server.messages) == 1


# --- several recipients, reply-to, secrets ------------------------------------------------


def test_every_recipient_is_in_the_envelope_and_reply_to_arrives(
    smtp_server: LocalSMTPServer, make_digest: DigestFactory
) -> None:
    digest = make_digest(
        to=("ada@example.org", "Ada at work <ada@work.example>", "Zoë Ångström <zoe@example.org>"),
        reply_to="Lab admin <lab-admin@example.org>",
        unsubscribe="https://paperboy.example.org/unsubscribe/ada",
    )
    plain(smtp_server).send(build_message(digest))
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ("ada@example.org", "ada@work.example", "zoe@example.org")
    assert envelope.mail_from == "paperboy@example.org"
    received = smtp_server.messages[0]
    assert received["Reply-To"] == "Lab admin <lab-admin@example.org>"
    assert [a.addr_spec for a in received["To"].addresses] == list(envelope.rcpt_tos)
    assert received["List-Id"].strip().endswith("<ada-lovelace.digest.paperboy.example.org>")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"Bcc" not in envelope.data


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_password_is_never_logged_or_printed(
    smtp_server_factory: ServerFactory,
    message: EmailMessage,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = "s3cret-Passw0rd-never-shown"
    # A server that logs us in, then (absurdly) echoes the password in its refusal.
    server = smtp_server_factory(auth=("ada", secret), reply=f"451 4.3.0 no thanks {secret}")
    transport = SmtpTransport(server.host, server.port, "none", "ada", secret, timeout=5)
    with (
        caplog.at_level("DEBUG", logger="paperboy.emails"),
        pytest.raises(TemporaryDeliveryError) as info,
    ):
        transport.send(message)
    assert "451" in str(info.value) and "***" in str(info.value)
    out, err = capfd.readouterr()
    for text in (caplog.text, out, err, str(info.value), repr(info.value), repr(transport)):
        assert secret not in text
    # A traceback would print the chained smtplib error verbatim: it is dropped here.
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in "".join(traceback.format_exception(info.value))
    assert server.messages == []


def test_one_connection_serves_a_batch(smtp_server: LocalSMTPServer, message: EmailMessage) -> None:
    with plain(smtp_server) as transport:
        for _ in range(3):
            transport.send(message)
        assert transport.connections == 1
    assert len(smtp_server.messages) == 3


def test_a_connection_closed_between_messages_is_reopened_without_resending(
    smtp_server: LocalSMTPServer, message: EmailMessage
) -> None:
    with plain(smtp_server) as transport:
        transport.send(message)
        kept = transport._smtp
        assert kept is not None and kept.sock is not None
        kept.sock.shutdown(socket.SHUT_RDWR)  # the server dropped the idle connection
        transport.send(message)
        assert transport.connections == 2
    assert len(smtp_server.messages) == 2


def test_a_connection_is_renewed_after_its_message_budget(
    smtp_server: LocalSMTPServer, message: EmailMessage
) -> None:
    transport = plain(smtp_server)
    transport.MESSAGES_PER_CONNECTION = 2
    for _ in range(5):
        transport.send(message)
    transport.close()
    assert transport.connections == 3 and len(smtp_server.messages) == 5
