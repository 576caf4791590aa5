"""Deliver a built message: to an SMTP server, to an outbox folder, or to the console.

Every transport has one method, `send(message) -> str`, and raises only DeliveryError
subclasses, so the digest job can decide from the class alone whether to retry later
(TemporaryDeliveryError) or give up and report (PermanentDeliveryError).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import ipaddress
import logging
import os
import re
import smtplib
import ssl
import sys
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol, TextIO, runtime_checkable

__all__ = [
    "ConsoleTransport",
    "DeliveryError",
    "OutboxTransport",
    "PermanentDeliveryError",
    "SmtpTransport",
    "TemporaryDeliveryError",
    "Transport",
    "is_loopback",
]

log = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]


class DeliveryError(Exception):
    """A message could not be delivered."""


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later: a 4xx reply, a refused or lost connection, a timeout."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: a 5xx reply, refused recipients, bad credentials, bad setup."""


@runtime_checkable
class Transport(Protocol):
    """Something that delivers a message and says where it went."""

    def send(self, message: EmailMessage) -> str:
        """Deliver `message`; return a human-readable receipt (a path, "host:port", ...)."""
        ...


# --- helpers ---------------------------------------------------------------------------


def _text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if isinstance(part, EmailMessage):
        content = part.get_content()
        if isinstance(content, str):
            return content
    return ""


def _html_part(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("html",))
    if isinstance(part, EmailMessage):
        content = part.get_content()
        if isinstance(content, str):
            return content
    return None


def _slug(text: str, fallback: str = "digest", max_len: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len].strip("-")
    return slug or fallback


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and os.replace: readers never see half."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


# --- outbox ----------------------------------------------------------------------------


class OutboxTransport:
    """Write each message as an .eml file (plus an .html preview) into a folder.

    The name is `<YYYYMMDD-HHMMSS>-<recipient>-<hash of Message-ID>.eml`, the time taken from
    the message's Date header, so re-sending the same message overwrites the same file.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory).expanduser()
        self.last_paths: tuple[Path, Path] | None = None

    def __repr__(self) -> str:
        return f"OutboxTransport({str(self.directory)!r})"

    def paths_for(self, message: EmailMessage) -> tuple[Path, Path]:
        """The (.eml, .html) paths `message` is written to; stable for a given message."""
        message_id = str(message.get("Message-ID", "")).strip()
        if not message_id:
            raise PermanentDeliveryError(
                "the message has no Message-ID; build it with build_message"
            )
        when = datetime.now(UTC)
        date_header = message.get("Date")
        if date_header:
            with contextlib.suppress(TypeError, ValueError):
                parsed = parsedate_to_datetime(str(date_header))
                when = parsed.astimezone(UTC) if parsed.tzinfo else parsed
        recipients = getaddresses([str(v) for v in message.get_all("To", [])])
        local_part = recipients[0][1].partition("@")[0] if recipients else ""
        digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:10]
        stem = f"{when:%Y%m%d-%H%M%S}-{_slug(local_part)}-{digest}"
        return self.directory / f"{stem}.eml", self.directory / f"{stem}.html"

    def send(self, message: EmailMessage) -> str:
        """Write the message and its HTML preview atomically; return the .eml path."""
        eml_path, html_path = self.paths_for(message)
        html_text = _html_part(message)
        if html_text is None:  # a text-only message still gets a preview a browser can open
            html_text = f"<!DOCTYPE html><pre>{html.escape(_text_part(message))}</pre>\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # The preview first: once the .eml exists, both files do.
            _atomic_write(html_path, html_text.encode("utf-8"))
            _atomic_write(eml_path, message.as_bytes())
        except OSError as e:
            raise TemporaryDeliveryError(f"could not write to outbox {self.directory}: {e}") from e
        self.last_paths = (eml_path, html_path)
        log.info("wrote %s", eml_path)
        return str(eml_path)


# --- console ---------------------------------------------------------------------------


class ConsoleTransport:
    """Print the plain-text part with From/To/Subject: for trying things out."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream  # None: sys.stdout at send time (so redirection still works)

    def send(self, message: EmailMessage) -> str:
        """Print the message's headers and text part; return "console"."""
        stream = self._stream if self._stream is not None else sys.stdout
        lines = [f"{name}: {message.get(name, '')}" for name in ("From", "To", "Subject")]
        stream.write("\n".join(lines) + "\n\n" + _text_part(message).rstrip("\n") + "\n")
        stream.flush()
        return "console"


# --- SMTP ------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts plain SMTP may talk to."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _kind_for_code(code: int) -> type[DeliveryError]:
    if 500 <= code < 600:
        return PermanentDeliveryError
    return TemporaryDeliveryError  # 4xx, and anything odd: better retried than dropped


def _reply_text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SmtpTransport:
    """Send through an SMTP server with STARTTLS or implicit TLS, verifying certificates.

    Plain SMTP (`security="none"`) is allowed only to a loopback host, where a local relay
    (e.g. Postfix) takes over; anything else would send the password in the clear.

    One connection serves a batch of messages (at most MESSAGES_PER_CONNECTION each):
    before a message goes over a connection kept from the last one, an RSET checks it is
    still open (a server closes idle connections), else a new one is made; nothing has
    been sent at that point, so this never sends a message twice. `close()` (or `with`)
    ends it; a failed send closes it too.
    """

    MESSAGES_PER_CONNECTION = 50

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        *,
        local_hostname: str | None = None,
    ) -> None:
        if not host or not host.strip():
            raise ValueError("SMTP host is empty")
        if not 0 < port < 65536:
            raise ValueError(f"SMTP port must be 1-65535, got {port}")
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP security must be starttls, ssl or none, got {security!r}")
        if security == "none" and not is_loopback(host):
            raise ValueError(
                f"SMTP security 'none' is only allowed to localhost, not {host!r}: "
                "use 'starttls' or 'ssl'"
            )
        if username and password is None:
            raise ValueError(f"SMTP username {username!r} is set but no password was given")
        if timeout <= 0:
            raise ValueError(f"SMTP timeout must be positive, got {timeout}")
        self.host = host.strip()
        self.port = port
        self.security: Security = security
        self.username = username or None
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        # smtplib would otherwise call socket.getfqdn(), which can block on slow DNS.
        self.local_hostname = local_hostname or "localhost"
        self._smtp: smtplib.SMTP | None = None
        self._sent_here = 0  # messages over the open connection
        self.connections = 0  # connections opened so far (for tests and benchmarks)

    def __repr__(self) -> str:  # never the password
        return (
            f"SmtpTransport(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r})"
        )

    @property
    def where(self) -> str:
        """The server as "host:port", the receipt `send` returns."""
        return f"{self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else ssl.create_default_context()

    def _redact(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _cause(self, error: BaseException) -> BaseException | None:
        """`error` to chain to our DeliveryError, or None if it holds the password (a server
        that echoes it): a logged traceback shows the cause verbatim, which _redact cannot fix."""
        if self._password and (self._password in str(error) or self._password in repr(error)):
            return None
        return error

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )

    def _open(self) -> smtplib.SMTP:
        smtp = self._connect()
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
        except BaseException:
            with contextlib.suppress(Exception):
                smtp.close()
            raise
        self.connections += 1
        return smtp

    def _reusable(self) -> smtplib.SMTP | None:
        """The kept connection, if it is still open and has room for another message."""
        smtp = self._smtp
        if smtp is None:
            return None
        if self._sent_here < self.MESSAGES_PER_CONNECTION:
            try:
                if smtp.rset()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
        self.close()
        return None

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        smtp = self._reusable()
        if smtp is None:
            smtp = self._smtp = self._open()
            self._sent_here = 0
        try:
            refused = smtp.send_message(message)
        except BaseException:
            self._smtp = None  # a connection in an unknown state is not reused
            with contextlib.suppress(Exception):
                smtp.close()
            raise
        self._sent_here += 1
        return refused

    def close(self) -> None:
        """End the kept connection (QUIT), if any."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                with contextlib.suppress(Exception):
                    smtp.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: EmailMessage) -> str:
        """Send `message`; return "host:port". Raises Temporary/PermanentDeliveryError."""
        where = self.where
        try:
            refused = self._deliver(message)
        except smtplib.SMTPRecipientsRefused as e:
            # Every recipient refused. Retry only if every refusal was temporary.
            codes = [code for code, _ in e.recipients.values()]
            details = "; ".join(
                f"{rcpt}: {code} {_reply_text(text)}" for rcpt, (code, text) in e.recipients.items()
            )
            kind = (
                TemporaryDeliveryError
                if codes and all(400 <= c < 500 for c in codes)
                else PermanentDeliveryError
            )
            raise kind(self._redact(f"{where} refused all recipients: {details}")) from self._cause(
                e
            )
        except smtplib.SMTPAuthenticationError as e:
            # 454 is "temporary authentication failure" (RFC 4954); 535 & co. are bad creds.
            kind = TemporaryDeliveryError if 400 <= e.smtp_code < 500 else PermanentDeliveryError
            raise kind(
                self._redact(
                    f"{where} rejected the login for {self.username!r}: "
                    f"{e.smtp_code} {_reply_text(e.smtp_error)}"
                )
            ) from self._cause(e)
        except smtplib.SMTPResponseException as e:  # also SenderRefused, DataError, ConnectError
            raise _kind_for_code(e.smtp_code)(
                self._redact(f"{where} replied {e.smtp_code} {_reply_text(e.smtp_error)}")
            ) from self._cause(e)
        except smtplib.SMTPServerDisconnected as e:
            raise TemporaryDeliveryError(
                self._redact(f"{where} closed the connection: {e}")
            ) from self._cause(e)
        except smtplib.SMTPNotSupportedError as e:  # e.g. no STARTTLS or AUTH on this server
            raise PermanentDeliveryError(
                self._redact(f"{where}: {e} (check the security setting and port)")
            ) from self._cause(e)
        except smtplib.SMTPException as e:  # e.g. no usable AUTH mechanism
            raise PermanentDeliveryError(self._redact(f"{where}: {e}")) from self._cause(e)
        except TimeoutError as e:
            raise TemporaryDeliveryError(
                f"{where} timed out after {self.timeout:g}s"
            ) from self._cause(e)
        except ssl.SSLCertVerificationError as e:
            raise TemporaryDeliveryError(
                self._redact(f"{where}: TLS certificate verification failed: {e.verify_message}")
            ) from self._cause(e)
        except OSError as e:  # refused, reset, unreachable, DNS, TLS handshake
            raise TemporaryDeliveryError(
                self._redact(f"could not talk to {where}: {e.strerror or e}")
            ) from self._cause(e)
        if refused:
            # Some recipients got it: it must not be retried (the others would get it twice).
            log.warning(
                "%s refused some recipients: %s",
                where,
                ", ".join(f"{r} ({c})" for r, (c, _) in refused.items()),
            )
            return f"{where} (refused: {', '.join(refused)})"
        return where
