"""The tables of config.toml for what Paperboy talks to or runs: ``[email]`` (with
``[email.smtp]``), ``[web]`` (the feedback endpoint) and ``[queue]`` (the Celery broker),
checked into their dataclasses. Secrets are never read from the file: it names an
environment variable or a file that holds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from paperboy.emails.addresses import address_problem, unsubscribe_uris
from paperboy.jobs.config.checks import (
    _check_keys,
    _get,
    _Problems,
    _resolve_path,
    _str_list,
    _table,
)
from paperboy.jobs.config.model import (
    DEFAULT_SENDER,
    DEFAULT_WEB_LISTEN,
    DEFAULT_WEB_SECRET_FILE,
    SECURITIES,
    TRANSPORTS,
    WEB_SECRET_ENV,
    EmailConfig,
    QueueConfig,
    SmtpConfig,
    WebConfig,
)

_EMAIL = ("from", "transport", "outbox", "reply_to", "smtp", "unsubscribe", "trending")

_SMTP = ("host", "port", "security", "username", "password_env", "password_file", "timeout")

_WEB = ("base_url", "listen", "serve", "token_days", "secret_file", "count_clicks")

_QUEUE = ("broker", "broker_env", "name", "visibility_timeout")

MAX_TOKEN_DAYS = 3650  # ten years; far more overflows the expiry date (year 9999) at send


def sender_problem(text: str) -> str | None:
    """Why `text` cannot be the From of a digest (one address, with or without a display
    name, like "Paperboy <paperboy@example.org>"); None when it can. A CR or LF would
    forge headers (a Bcc), so any control character is refused."""
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        return "has a control character (a line break would add headers to every digest)"
    found = getaddresses([text])
    if len(found) != 1 or not found[0][1]:
        return 'must hold exactly one e-mail address, like "Paperboy <paperboy@example.org>"'
    if (problem := address_problem(found[0][1])) is not None:
        return f"has no valid e-mail address ({problem})"
    return None


def _email(raw: Mapping[str, Any], base: Path, problems: _Problems) -> EmailConfig:
    where: list[str | int] = ["email"]
    _check_keys(raw, _EMAIL, where, "[email]", problems)
    sender = _get(
        raw,
        "from",
        str,
        DEFAULT_SENDER,
        where,
        "email",
        problems,
        'an address like "Paperboy <paperboy@example.org>"',
    )
    if (problem := sender_problem(sender)) is not None:
        problems.add(where, f"email.from: {sender!r} {problem}", "from")
        sender = DEFAULT_SENDER
    transport = _get(raw, "transport", str, "outbox", where, "email", problems, "a string")
    if transport not in TRANSPORTS:
        problems.add(
            where,
            f"email.transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}",
            "transport",
        )
        transport = "outbox"
    outbox = _resolve_path(
        base, _get(raw, "outbox", str, "outbox", where, "email", problems, "a folder path")
    )
    reply_to = _get(raw, "reply_to", str, None, where, "email", problems, "an e-mail address")
    if reply_to is not None and (problem := address_problem(reply_to)) is not None:
        problems.add(
            where, f"email.reply_to: {reply_to!r} is not an e-mail address ({problem})", "reply_to"
        )
    unsubscribe = _str_list(raw, "unsubscribe", where, "email", problems)
    try:
        unsubscribe_uris(unsubscribe or None)
    except ValueError as e:
        problems.add(where, f"email.unsubscribe: {e}", "unsubscribe")
        unsubscribe = ()
    trending = _get(raw, "trending", int, 5, where, "email", problems, "a whole number")
    if trending < 0:
        problems.add(where, "email.trending must be 0 or more", "trending")
        trending = 0
    smtp: SmtpConfig | None = None
    if "smtp" in raw:
        s = _table(raw, "smtp", ["email", "smtp"], problems)
        w: list[str | int] = ["email", "smtp"]
        _check_keys(s, _SMTP, w, "[email.smtp]", problems)
        host = _get(s, "host", str, "", w, "email.smtp", problems, "a host name")
        if not host:
            problems.add(w, "email.smtp.host is required", None)
        port = _get(s, "port", int, 587, w, "email.smtp", problems, "a port number")
        security = _get(s, "security", str, "starttls", w, "email.smtp", problems, "a string")
        if security not in SECURITIES:
            problems.add(
                w,
                f"email.smtp.security must be one of {', '.join(SECURITIES)}, not {security!r}",
                "security",
            )
            security = "starttls"
        if security == "none" and host not in ("localhost", "127.0.0.1", "::1"):
            problems.add(
                w,
                'email.smtp.security = "none" sends the password in clear text; '
                "it is only allowed for localhost",
                "security",
            )
        if "password" in s:
            problems.add(
                w,
                "email.smtp.password: secrets never live in config.toml; "
                'use password_env = "PAPERBOY_SMTP_PASSWORD" or password_file',
                "password",
            )
        password_file = s.get("password_file")
        smtp = SmtpConfig(
            host=host,
            port=port,
            security=security,
            username=_get(s, "username", str, None, w, "email.smtp", problems, "a string"),
            password_env=_get(
                s,
                "password_env",
                str,
                None,
                w,
                "email.smtp",
                problems,
                "the name of an environment variable",
            ),
            password_file=_resolve_path(base, password_file)
            if isinstance(password_file, str)
            else None,
            timeout=float(
                _get(
                    s,
                    "timeout",
                    (int, float),
                    30.0,
                    w,
                    "email.smtp",
                    problems,
                    "a number of seconds",
                )
            ),
        )
    if transport == "smtp" and smtp is None:
        problems.add(
            where, 'email.transport is "smtp" but there is no [email.smtp] table', "transport"
        )
    return EmailConfig(sender, transport, outbox, reply_to, smtp, unsubscribe, trending)


def _web(raw: Mapping[str, Any], base: Path, problems: _Problems) -> WebConfig:
    """[web]: base_url (the public URL behind the reverse proxy), listen, serve, token_days,
    secret_file (default web.key beside config.toml), count_clicks (off by default)."""
    where: list[str | int] = ["web"]
    # A `secret` key gets its own message below, not "unknown key".
    _check_keys({k: v for k, v in raw.items() if k != "secret"}, _WEB, where, "[web]", problems)
    base_url = _get(raw, "base_url", str, None, where, "web", problems, "an http(s) URL")
    if base_url is not None:
        base_url = base_url.strip().rstrip("/")
        parts = re.match(r"^(https?)://([^/\s?#@]+)(/[^\s?#]*)?$", base_url)
        if parts is None:
            problems.add(
                where,
                f"web.base_url must be an http(s) URL without a query or fragment, like "
                f'"https://paperboy.example.org", not {base_url!r}',
                "base_url",
            )
            base_url = None
    listen = _get(raw, "listen", str, DEFAULT_WEB_LISTEN, where, "web", problems, '"HOST:PORT"')
    try:
        host, port = parse_listen(listen)
    except ValueError as e:
        problems.add(where, f"web.listen: {e}", "listen")
        host, port = parse_listen(DEFAULT_WEB_LISTEN)
    serve = _get(raw, "serve", bool, False, where, "web", problems, "true or false")
    count_clicks = _get(raw, "count_clicks", bool, False, where, "web", problems, "true or false")
    if count_clicks and base_url is None:
        problems.add(
            where,
            "web.count_clicks needs web.base_url: the digest's links go through that address",
            "count_clicks",
        )
    token_days = _get(raw, "token_days", int, 60, where, "web", problems, "a whole number of days")
    if not 1 <= token_days <= MAX_TOKEN_DAYS:
        problems.add(
            where,
            f"web.token_days must be from 1 to {MAX_TOKEN_DAYS}, not {token_days}",
            "token_days",
        )
        token_days = 60
    secret_file = _get(
        raw, "secret_file", str, DEFAULT_WEB_SECRET_FILE, where, "web", problems, "a file path"
    )
    if "secret" in raw:
        problems.add(
            where,
            "web.secret: secrets never live in config.toml; use secret_file (default "
            f"web.key beside config.toml) or ${WEB_SECRET_ENV}",
            "secret",
        )
    return WebConfig(
        base_url=base_url,
        host=host,
        port=port,
        serve=serve,
        count_clicks=count_clicks,
        token_days=token_days,
        secret_file=_resolve_path(base, secret_file),
    )


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:8080" -> ("::1", 8080). ValueError else."""
    host, sep, port = value.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'expected "HOST:PORT" like "{DEFAULT_WEB_LISTEN}", not {value!r}')
    return host, int(port)


def _queue(data: Mapping[str, Any], problems: _Problems) -> QueueConfig | None:
    """[queue]: absent means no broker (`paperboy run` does the work itself)."""
    if "queue" not in data:
        return None
    at: list[str | int] = ["queue"]
    raw = _table(data, "queue", [], problems)
    _check_keys(raw, _QUEUE, at, "[queue]", problems)
    broker = _get(raw, "broker", str, "", at, "queue", problems, 'a URL like "amqp://..."')
    broker_env = _get(
        raw, "broker_env", str, None, at, "queue", problems, "an environment variable name"
    )
    if broker and broker_env:
        problems.add(at, "[queue] has both broker and broker_env; keep one", "broker_env")
    elif broker_env:
        pass  # read when used: the URL (with its password) never lives in the file
    elif not broker:
        problems.add(
            at,
            'queue.broker (or broker_env) is required, e.g. "amqp://guest:guest@127.0.0.1:5672//"',
            "broker" if "broker" in raw else None,
        )
    elif not re.match(r"^(amqps?|pyamqp|redis|rediss)://", broker):
        problems.add(
            at,
            f"queue.broker must be an amqp:// (RabbitMQ) or redis:// URL, not {broker!r}",
            "broker",
        )
    name = _get(raw, "name", str, "paperboy", at, "queue", problems, "a queue name")
    if not re.match(r"^[A-Za-z0-9_.:-]{1,200}$", name):
        problems.add(at, f"queue.name must be letters, digits and _.:- only, not {name!r}", "name")
    visibility = _get(
        raw, "visibility_timeout", int, 3600, at, "queue", problems, "a number of seconds"
    )
    if isinstance(visibility, int) and visibility < 1:
        problems.add(at, "queue.visibility_timeout must be at least 1 second", "visibility_timeout")
    return QueueConfig(
        broker=broker, name=name, visibility_timeout=visibility, broker_env=broker_env or None
    )
