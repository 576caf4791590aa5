"""A user's `notify` list (issue #23): chat and push channels, as Apprise URLs.

    notify = [
        "ntfy://ntfy.example.org/papers",                  # named "ntfy-1"
        { url_env = "SLACK_URL", name = "slack" },         # the URL from the environment
        { url = "json://127.0.0.1:8080/hook", name = "hook", max_length = 4000 },
    ]

A URL written in the file is checked here (Apprise must know its scheme and accept it);
one named by url_env is checked when it is set at load time, and read again when it is
used. `max_length` splits the digest into parts of at most that many characters (by
default, the size Apprise says the service takes). Problems name the entry by its place
and name, never by its URL (it may hold a token). Apprise is imported only for a config
that has a `notify` entry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from paperboy.jobs.config.checks import _Problems
from paperboy.jobs.config.model import ChannelConfig

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def apprise_accepts(url: str) -> bool:
    """Whether Apprise knows this URL's scheme and can build a service from it (nothing
    is sent). Logs nothing: Apprise's own complaint is silenced, as it may hold the URL."""
    import logging

    import apprise

    quiet = logging.getLogger("apprise")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)
    try:
        return bool(apprise.Apprise().add(url))
    finally:
        quiet.setLevel(level)


def parse_notify(
    raw: dict[str, Any], where: Sequence[str | int], label: str, problems: _Problems
) -> tuple[ChannelConfig, ...]:
    """The user's channels, each checked; problems added with the file and line."""
    value = raw.get("notify", [])
    if not isinstance(value, list):
        problems.add(where, f"{label}.notify must be a list of Apprise URLs", "notify")
        return ()
    channels: list[ChannelConfig] = []
    for i, entry in enumerate(value, 1):
        what = f"{label}.notify entry {i}"
        url: str | None
        url_env: str | None
        name: str | None
        max_length: int | None
        if isinstance(entry, str):
            url, url_env, name, max_length = entry, None, None, None
        elif isinstance(entry, dict):
            unknown = sorted(set(entry) - {"url", "url_env", "name", "max_length"})
            if unknown:
                problems.add(where, f"{what}: unknown key(s) {', '.join(unknown)}", "notify")
            url, url_env, name = entry.get("url"), entry.get("url_env"), entry.get("name")
            if (url is None) == (url_env is None):
                problems.add(where, f"{what}: give one of url or url_env", "notify")
                continue
            if any(v is not None and not isinstance(v, str) for v in (url, url_env, name)):
                problems.add(where, f"{what}: url, url_env and name are strings", "notify")
                continue
            max_length = entry.get("max_length")
            if max_length is not None and (
                not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 300
            ):
                problems.add(where, f"{what}: max_length is a number from 300 up", "notify")
                continue
        else:
            problems.add(where, f"{what}: expected an Apprise URL or a table", "notify")
            continue
        if url is not None and not url.strip():
            problems.add(where, f"{what}: the URL is empty", "notify")
            continue
        if url_env is not None and not _ENV_NAME.match(url_env):
            problems.add(where, f"{what}: url_env {url_env!r} is not a variable name", "notify")
            continue
        if name is not None and not _NAME.match(name):
            problems.add(
                where,
                f"{what}: name {name!r}: letters, digits, '.', '_' and '-', at most 64",
                "notify",
            )
            continue
        url = url.strip() if url is not None else None
        checked = url if url is not None else os.environ.get(url_env or "", "").strip()
        scheme = _SCHEME.match(checked) if checked else None
        if checked and (scheme is None or not apprise_accepts(checked)):
            source = "the URL" if url is not None else f"${url_env}"
            kind = f"scheme {scheme.group(1)!r}" if scheme else "no scheme://"
            problems.add(
                where,
                f"{what}: {source} is not an Apprise URL Apprise can use ({kind})",
                "notify",
            )
            continue
        if name is None:
            name = url_env.lower() if url_env else f"{scheme.group(1) if scheme else 'url'}-{i}"
        if any(c.name == name for c in channels):
            problems.add(where, f"{what}: another channel is named {name!r}", "notify")
            continue
        channels.append(ChannelConfig(name=name, url=url, url_env=url_env, max_length=max_length))
    return tuple(channels)
