"""Real SMTP servers on 127.0.0.1 for tests: nothing reaches the network.

    with LocalSMTPServer() as server:                  # accepts everything
        SmtpTransport(server.host, server.port, "none", None, None).send(message)
        assert server.messages[0]["Subject"] == ...

    LocalSMTPServer(reply="550 5.1.1 mailbox unavailable", stage="RCPT")  # refuse recipients
    LocalSMTPServer(reply="451 4.3.0 try later")                          # refuse at DATA
    LocalSMTPServer(auth=("ada", "s3cret"))                               # AUTH PLAIN/LOGIN
    server.fault = "421 4.3.2 shutting down"   # set at any time: every DATA answers it,
    server.fault = "drop"                      # or hangs up before taking the message,
    server.fault = "drop-after-data"           # or takes it, then hangs up before the OK
    server.fault = None                        # (benchmarks/faults.py), until cleared
    with DroppingSMTPServer() as server: ...      # greets, answers EHLO, then hangs up

Reusable by any test (the end-to-end digest test too): import from tests.smtp_server.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Literal, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["DroppingSMTPServer", "LocalSMTPServer", "ReceivedEnvelope", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class ReceivedEnvelope:
    """What the server saw for one message: the SMTP envelope and the raw bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


class _Handler:
    def __init__(self, owner: LocalSMTPServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.owner.reply is not None and self.owner.stage == "RCPT":
            return self.owner.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.owner.reply is not None and self.owner.stage == "DATA":
            return self.owner.reply
        fault = self.owner.fault
        if fault is not None and fault not in ("drop", "drop-after-data"):
            return fault  # e.g. "451 4.3.0 try later": the message is not taken
        if fault == "drop":  # the connection is gone before the message was taken
            server.transport.abort()
            return "421 4.4.2 connection dropped"  # never reaches the client
        data: bytes = envelope.original_content or envelope.content
        self.owner._received(
            ReceivedEnvelope(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(data))
        )
        if fault == "drop-after-data":  # taken, but the client never hears the OK
            server.transport.abort()
        return "250 2.0.0 OK: queued"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


class _Running:
    """``with Server() as s:`` starts it and stops it, whatever happens inside."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalSMTPServer(_Running):
    """An aiosmtpd server on 127.0.0.1 and a free port, in a background thread.

    `reply` (e.g. "550 5.1.1 mailbox unavailable") is returned at `stage` instead of
    accepting; `auth` requires a login (allowed without TLS: it is loopback);
    `tls_context` offers STARTTLS, `ssl_context` makes it implicit TLS (port 465 style).
    Received mail is in `.messages` and `.envelopes`, the time each arrived (time.time())
    in `.arrived`. `fault` (None, an SMTP reply such as "451 4.3.0 try later", "drop" or
    "drop-after-data") may be set and cleared while the server runs: see the module's
    docstring.
    """

    def __init__(
        self,
        reply: str | None = None,
        *,
        stage: Literal["RCPT", "DATA"] = "DATA",
        auth: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.reply = reply
        self.stage = stage
        self.fault: str | None = None
        self.host = host
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[ReceivedEnvelope] = []
        self.arrived: list[float] = []
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {"server_hostname": "paperboy-test.localhost"}
        if auth is not None:
            kwargs.update(
                authenticator=_Authenticator(*auth), auth_required=True, auth_require_tls=False
            )
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
        if ssl_context is not None:
            kwargs["ssl_context"] = ssl_context
        self._kwargs = kwargs
        self._controller: Controller | None = None

    def _received(self, envelope: ReceivedEnvelope) -> None:
        parsed = email.message_from_bytes(envelope.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.envelopes.append(envelope)
            self.messages.append(parsed)
            self.arrived.append(time.time())

    def start(self) -> Self:
        """Start listening; returns self."""
        self.port = free_port(self.host)
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **self._kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class DroppingSMTPServer(_Running):
    """A raw socket server that greets, answers EHLO, then closes the connection.

    The client sees the server vanish in the middle of a transaction (SMTPServerDisconnected),
    as when a relay restarts or a firewall cuts an idle connection.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.connections = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:  # wake up now and then to notice stop()
                continue
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.settimeout(5)  # accepted sockets inherit the timeout; be patient here
                try:
                    conn.sendall(b"220 dropper ESMTP\r\n")
                    conn.recv(1024)  # EHLO
                    conn.sendall(b"250-dropper\r\n250 8BITMIME\r\n")
                    conn.recv(1024)  # MAIL FROM: hang up instead of answering
                except OSError:
                    pass

    def start(self) -> Self:
        """Start listening; returns self."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen()
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
