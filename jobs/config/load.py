"""Load and validate config.toml into frozen dataclasses.

Every problem is collected and reported together with the file, the line and the key, so
a person can fix the whole file in one go. Unknown keys are errors, with a suggestion for
a misspelt one. Secrets are never read from the file: the file names an environment
variable (or a file) that holds them.

Users live in config.toml (``[[users]]`` tables) and, for many users, one file each in
``[paperboy] users_dir``: a ``*.toml`` file whose top-level keys are the keys of a
``[[users]]`` table, named by its ``name`` key or else by its file stem (issue #13). Both
are checked by the same code (:func:`_user`); each file is read once, and a problem in any
of them stops the load like a problem in config.toml.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from stat import S_ISREG
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from paperboy.emails.addresses import address_problem
from paperboy.emails.render import unsubscribe_uris
from paperboy.jobs.core.errors import ConfigError, UnknownPaperError
from paperboy.jobs.core.ids import canonical_arxiv_id
from paperboy.jobs.core.text_safety import name_problem

DEFAULT_FETCH_CRON = "30 20 * * sun,mon-thu"  # 20:30 US Eastern: after arXiv's 20:00 announcement
DEFAULT_FETCH_TIMEZONE = "America/New_York"
DEFAULT_SENDER = "Paperboy <paperboy@localhost>"
ARXIV_RSS_BASE = "https://rss.arxiv.org/rss/"
HF_DAILY_PAPERS_URL = "https://huggingface.co/api/daily_papers"
DEFAULT_BACKFILL_DAYS = 7
MAX_BACKFILL_DAYS = 365
# Source names the fetch job uses itself; a [[sources.feeds]] name may not take one.
BUILTIN_SOURCES = ("arxiv", "arxiv-api", "arxiv-backfill", "huggingface")
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
TRANSPORTS = ("outbox", "smtp", "console")
SECURITIES = ("starttls", "ssl", "none")
_CATEGORY_RE = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float = 30.0

    def password(self) -> str | None:
        """Read the password from the environment or the named file, at the moment of use."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"[email.smtp] password_env names ${self.password_env}, which is not set"
                )
            return value
        if self.password_file:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError(f"[email.smtp] cannot read password_file: {e}") from e
        return None


@dataclass(frozen=True, slots=True)
class EmailConfig:
    sender: str = DEFAULT_SENDER
    transport: Literal["outbox", "smtp", "console"] = "outbox"
    outbox: Path = Path("outbox")
    reply_to: str | None = None
    smtp: SmtpConfig | None = None
    unsubscribe: tuple[str, ...] = ()  # mailto: and/or https: URIs for List-Unsubscribe
    trending: int = 5  # papers in the "trending today" section (0: none)


DEFAULT_WEB_LISTEN = "127.0.0.1:8080"
DEFAULT_WEB_SECRET_FILE = "web.key"
WEB_SECRET_ENV = "PAPERBOY_WEB_SECRET"
MIN_WEB_SECRET_CHARS = 32


@dataclass(frozen=True, slots=True)
class WebConfig:
    """[web]: the feedback endpoint (`paperboy serve`) and the links digests carry to it."""

    base_url: str | None = None  # None: digests carry no feedback links
    host: str = "127.0.0.1"  # loopback unless the user says otherwise
    port: int = 8080
    serve: bool = False  # also serve it inside `paperboy run`
    token_days: int = 60  # how long a link in a digest works
    secret_file: Path = Path(DEFAULT_WEB_SECRET_FILE)

    def secret(self) -> str:
        """The signing key: $PAPERBOY_WEB_SECRET, else the key file; read at the moment of use
        and never logged."""
        value = os.environ.get(WEB_SECRET_ENV)
        where = f"${WEB_SECRET_ENV}"
        if not value:
            where = str(self.secret_file)
            try:
                value = self.secret_file.read_text(encoding="utf-8")
            except FileNotFoundError as e:
                raise ConfigError(
                    f"no key to sign feedback links: set ${WEB_SECRET_ENV} or create "
                    f"{self.secret_file} (`paperboy init` writes one)"
                ) from e
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"[web] cannot read secret_file {self.secret_file}: {e}") from e
        value = value.strip()
        if len(value) < MIN_WEB_SECRET_CHARS:
            raise ConfigError(
                f"the key in {where} is too short ({len(value)} characters; at least "
                f"{MIN_WEB_SECRET_CHARS}): `paperboy init` writes a good one"
            )
        return value


@dataclass(frozen=True, slots=True)
class ArxivSourceConfig:
    categories: tuple[str, ...] = ()
    announce_types: tuple[str, ...] = ("new", "cross")
    base_url: str = ARXIV_RSS_BASE
    backfill_days: int = DEFAULT_BACKFILL_DAYS  # first fetch into an empty database; 0: off

    @property
    def url(self) -> str:
        """arXiv serves several categories in one feed: rss.arxiv.org/rss/cs.LG+cs.CL."""
        return self.base_url + "+".join(self.categories)


ZOTERO_API = "https://api.zotero.org"
_ZOTERO_LIBRARY_RE = re.compile(r"^(users|groups)/\d+$")


@dataclass(frozen=True, slots=True)
class ZoteroConfig:
    """[users.zotero]: a Zotero library followed live (jobs.fetch.zotero_sync)."""

    library: str  # "users/123456" or "groups/987"
    api_key_env: str | None = None  # the variable holding the key; None: a public library
    collections: tuple[str, ...] = ()  # collection names; empty: the whole library
    exclude_tags: tuple[str, ...] = ()
    url: str = ZOTERO_API

    def api_key(self) -> str | None:
        """The key, read from the environment at the moment of use (never from the file)."""
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(
                f"[users.zotero] api_key_env names ${self.api_key_env}, which is not set"
            )
        return value


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    email: tuple[str, ...]
    schedule: str = "daily"  # daily | weekly | a cron expression
    send_at: time = time(7, 30)
    timezone: str = "UTC"
    max_papers: int = 12
    min_score: float = 0.0
    diversity: float = 0.0  # 0: by score alone; up to 1: fewer near-duplicates (MMR)
    categories: tuple[str, ...] = ()  # empty: every fetched category
    saved: tuple[str, ...] = ()  # canonical ids
    library: Path | None = None
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()  # canonical ids of papers the user does not want
    send_empty: bool = False  # mail a short "nothing today" note when nothing was picked
    transport: str | None = None  # outbox | smtp | console; None: the [email] transport
    zotero: ZoteroConfig | None = None  # [users.zotero]: a Zotero library followed live
    source: Path | None = None  # the users_dir file this user is in; None: config.toml

    def trigger(self) -> CronTrigger:
        """The user's digest schedule as an APScheduler cron trigger in their time zone."""
        return digest_trigger(self.schedule, self.send_at, self.timezone)


@dataclass(frozen=True, slots=True)
class HuggingFaceConfig:
    """[sources.huggingface]: the day's trending papers (their popularity is kept too)."""

    enabled: bool = True
    url: str = HF_DAILY_PAPERS_URL


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One [[sources.feeds]] entry: any RSS or Atom feed, by a name of the user's choice."""

    name: str
    url: str


OPENREVIEW_API = "https://api2.openreview.net"
VENUE_STATUSES = ("accepted", "submitted")


@dataclass(frozen=True, slots=True)
class OpenReviewConfig:
    """One [[sources.openreview]] entry: a venue whose new papers are news (jobs.fetch.venues)."""

    venue: str  # e.g. "ICLR.cc/2026/Conference"
    status: str = "submitted"  # submitted: open submissions; accepted: the venue's papers
    api_url: str = OPENREVIEW_API

    @property
    def name(self) -> str:
        return f"openreview:{self.venue}"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """[queue]: the Celery broker that spreads digests and fetches over worker processes."""

    broker: str  # amqp://user:password@host:5672/vhost or redis://host:6379/0 ("": broker_env)
    name: str = "paperboy"  # the queue (and exchange) the scheduler and workers use
    # Redis only: an unacknowledged task goes back to the queue after this many seconds
    # (its worker died). Must be longer than the longest task.
    visibility_timeout: int = 3600
    broker_env: str | None = None  # the environment variable holding the broker URL

    def broker_url(self) -> str:
        """The broker URL: `broker`, or read from `broker_env` at the moment of use."""
        if self.broker_env:
            value = os.environ.get(self.broker_env, "").strip()
            if not value:
                raise ConfigError(f"[queue] broker_env names ${self.broker_env}, which is not set")
            return value
        return self.broker


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    database: str
    index: Path = Path("paperboy.index")  # the stored corpus features (jobs.ranking.corpus)
    # "file": workers read the index at `index` (one machine, or a shared folder);
    # "database": its bytes are also stored in the database, for workers on other machines
    index_store: str = "file"
    workers: int = 0  # processes that rank users in a digest run; 0: one per core
    timezone: str = "UTC"
    contact: str | None = None  # put in the User-Agent, as arXiv asks of robots
    fetch_schedule: str = DEFAULT_FETCH_CRON
    fetch_timezone: str = DEFAULT_FETCH_TIMEZONE
    arxiv: ArxivSourceConfig | None = None
    email: EmailConfig = field(default_factory=EmailConfig)
    users: tuple[UserConfig, ...] = ()
    huggingface: HuggingFaceConfig | None = None  # None: not configured (not fetched)
    feeds: tuple[FeedConfig, ...] = ()
    openreview: tuple[OpenReviewConfig, ...] = ()  # [[sources.openreview]]
    users_dir: Path | None = None  # one *.toml file per user (issue #13); None: not used
    # users_dir file name -> its (mtime_ns, size, inode) when read: a reload re-reads only
    # the files that changed (load_config(previous=...))
    user_file_stamps: Mapping[str, tuple[int, int, int]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # users by name: `user(name)` stays O(1) with 10,000 users (built in __post_init__)
    _by_name: dict[str, UserConfig] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {u.name: u for u in self.users})

    web: WebConfig = field(default_factory=WebConfig)
    queue: QueueConfig | None = None  # None: `paperboy run` does everything itself

    def user(self, name: str) -> UserConfig:
        """The configured user called `name`; ConfigError (with the known names) otherwise."""
        user = self._by_name.get(name)
        if user is not None:
            return user
        known = ", ".join(u.name for u in self.users) or "none"
        raise ConfigError(f"{self.path}: no user named {name!r} (configured: {known})")


@functools.lru_cache(maxsize=4096)
def digest_trigger(schedule: str, send_at: time, timezone: str) -> CronTrigger:
    """daily -> every day at send_at; weekly -> Mondays at send_at; else a crontab line.

    Memoised: 10,000 users share a few hundred schedules, and building a cron trigger
    costs a quarter of a millisecond; a trigger holds no state, so jobs can share one."""
    tz = ZoneInfo(timezone)
    if schedule == "daily":
        return CronTrigger(hour=send_at.hour, minute=send_at.minute, timezone=tz)
    if schedule == "weekly":
        return CronTrigger(day_of_week="mon", hour=send_at.hour, minute=send_at.minute, timezone=tz)
    return CronTrigger.from_crontab(schedule, timezone=tz)


# --- validation ------------------------------------------------------------------------


class _Problems:
    """Collects problems with their line numbers so all are reported at once."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.items: list[tuple[int | None, str]] = []

    def add(
        self,
        where: Sequence[str | int],
        message: str,
        key: str | None = None,
        value: str | None = None,
    ) -> None:
        line = self._locate(where, key)
        if line is not None and value is not None:
            line = self._element_line(line, value)
        self.items.append((line, message))

    def add_at(self, line: int | None, message: str) -> None:
        """A problem whose line is already known (a TOML syntax error)."""
        self.items.append((line, message))

    def location(self, where: Sequence[str | int], key: str | None) -> str:
        """``file:line`` of `key` in the table at `where` (just ``file`` if not found)."""
        line = self._locate(where, key)
        return f"{self.path}:{line}" if line else str(self.path)

    def _element_line(self, key_line: int, value: str) -> int:
        """The line of a list element (a multi-line `saved = [...]`), else the key's line."""
        quoted = (f'"{value}"', f"'{value}'")
        for number in range(key_line, len(self.lines) + 1):
            line = self.lines[number - 1]
            if any(q in line for q in quoted):
                return number
            if number > key_line and re.match(r"^\s*(\[|[\w\-\"']+\s*=)", line):
                break
        return key_line

    def _locate(self, where: Sequence[str | int], key: str | None) -> int | None:
        """Find the line of `key` inside the table at `where` (e.g. ["users", 1])."""
        header_parts = [p for p in where if isinstance(p, str)]
        index = next((p for p in where if isinstance(p, int)), None)
        header = ".".join(header_parts)
        seen = -1
        inside = not header
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            table = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
            if table:
                name = table.group(1)
                if name == header:
                    if line.startswith("[["):
                        seen += 1
                        inside = index is None or seen == index
                    else:
                        inside = True
                    if inside and key is None:
                        return number
                else:
                    inside = False
                continue
            if inside and key is not None and re.match(rf"^\"?{re.escape(key)}\"?\s*=", line):
                return number
        return None

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = self.lines_out()
        count = len(self.items)
        head = f"{count} problem{'s' if count > 1 else ''} in {self.path}:"
        raise ConfigError("\n".join([head, *("  " + line for line in lines)]))

    def lines_out(self) -> list[str]:
        """Each problem as ``file:line: message``, in line order."""
        out = []
        for line, message in sorted(self.items, key=lambda item: item[0] or 0):
            out.append(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")
        return out


MAX_PROBLEM_LINES = 100  # 10,000 copies of one broken users_dir file: the first 100 problems


def _raise_all(problem_sets: Sequence[_Problems]) -> None:
    """One ConfigError for the problems of config.toml and of every users_dir file."""
    bad = [p for p in problem_sets if p.items]
    if not bad:
        return
    if len(bad) == 1:
        bad[0].raise_if_any()
    lines = [line for p in bad for line in p.lines_out()]
    shown = lines[:MAX_PROBLEM_LINES]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more")
    head = f"{len(lines)} problems in {len(bad)} files:"
    raise ConfigError("\n".join([head, *("  " + line for line in shown)]))


def _check_keys(
    table: Mapping[str, Any],
    allowed: Sequence[str],
    where: Sequence[str | int],
    label: str,
    problems: _Problems,
) -> None:
    for key in table:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
        problems.add(where, f"unknown key {key!r} in {label}{hint}", key)


def _get(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    default: Any,
    where: Sequence[str | int],
    label: str,
    problems: _Problems,
    expected: str,
) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) and kind is not bool and bool not in _as_tuple(kind):
        problems.add(where, f"{label}.{key} must be {expected}, not {value!r}", key)
        return default
    if not isinstance(value, kind):
        problems.add(where, f"{label}.{key} must be {expected}, not {value!r}", key)
        return default
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _str_list(
    table: Mapping[str, Any],
    key: str,
    where: Sequence[str | int],
    label: str,
    problems: _Problems,
) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(where, f"{label}.{key} must be a list of strings", key)
        return ()
    return tuple(v.strip() for v in value if v.strip())


def _check_timezone(name: str, where: Sequence[str | int], key: str, problems: _Problems) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(where, f"unknown time zone {name!r} (expected e.g. 'Europe/Berlin')", key)
        return "UTC"
    return name


def _check_categories(
    values: tuple[str, ...], where: Sequence[str | int], label: str, problems: _Problems
) -> tuple[str, ...]:
    bad = [v for v in values if not _CATEGORY_RE.match(v)]
    if bad:
        problems.add(
            where,
            f"{label}.categories: {', '.join(map(repr, bad))} are not arXiv categories "
            "(expected e.g. 'cs.LG', 'stat.ML', 'hep-th')",
            "categories",
        )
    return tuple(v for v in values if v not in bad)


def _parse_time(value: Any, where: Sequence[str | int], label: str, problems: _Problems) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return time(int(m.group(1)), int(m.group(2)))
    problems.add(where, f'{label}.send_at must be a time like "07:30", not {value!r}', "send_at")
    return time(7, 30)


def _check_cron(
    schedule: str, where: Sequence[str | int], label: str, key: str, problems: _Problems
) -> None:
    try:
        CronTrigger.from_crontab(schedule)
    except ValueError as e:
        problems.add(
            where,
            f"{label}.{key} must be 'daily', 'weekly' or a cron expression "
            f"like '30 7 * * mon-fri', not {schedule!r} ({e})",
            key,
        )


def _resolve_path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _resolve_database(base: Path, url: str) -> str:
    """Relative SQLite paths are relative to the config file, not to the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        rest = url[len(prefix) :]
        return prefix + str(_resolve_path(base, rest))
    return url


_TOP = ("paperboy", "sources", "email", "users", "web", "queue")
INDEX_STORES = ("file", "database")
_WEB = ("base_url", "listen", "serve", "token_days", "secret_file")
_QUEUE = ("broker", "broker_env", "name", "visibility_timeout")
_PAPERBOY = (
    "database",
    "users_dir",
    "index",
    "index_store",
    "workers",
    "timezone",
    "contact",
    "fetch_schedule",
    "fetch_timezone",
)
_SOURCES = ("arxiv", "huggingface", "feeds", "openreview")
_OPENREVIEW = ("venue", "status", "api_url")
_ARXIV = ("categories", "announce_types", "base_url", "backfill_days")
_HUGGINGFACE = ("enabled", "url")
_FEED = ("name", "url")
_EMAIL = ("from", "transport", "outbox", "reply_to", "smtp", "unsubscribe", "trending")
_SMTP = ("host", "port", "security", "username", "password_env", "password_file", "timeout")
_USER = (
    "name",
    "email",
    "schedule",
    "send_at",
    "timezone",
    "max_papers",
    "min_score",
    "diversity",
    "categories",
    "saved",
    "library",
    "keywords",
    "authors",
    "muted",
    "disliked",
    "transport",
    "send_empty",
    "zotero",
)
_ZOTERO = ("library", "api_key_env", "collections", "exclude_tags", "url")


def load_config(path: Path | str, *, previous: Config | None = None) -> Config:
    """Read and validate config.toml; raise ConfigError listing every problem found.

    `previous`: the config loaded before from the same file (the daemon's reload). Its
    users from users_dir files that have not changed since (same mtime, size and inode,
    same defaults in config.toml) are kept as they are instead of read again.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such config file (create one with `paperboy init`)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e
    if previous is not None:
        try:
            return parse_config(text, path, previous=previous)
        except ConfigError:
            pass  # the full message below: every file read, every line found
    return parse_config(text, path)


def _unfinished(text: str) -> tuple[int, str]:
    """Where a TOML text that ends too early went wrong: the line of the first bracket or
    string still open at the end (with what it is), else the last line with content."""
    opened: list[tuple[str, int]] = []
    quote: tuple[str, int] | None = None  # the open string's delimiter and line
    line = 1
    last = 1
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
            if quote is not None and len(quote[0]) == 1:
                quote = None  # a one-line string ends with its line (tomllib said where)
        elif quote is not None:
            delimiter = quote[0]
            if c == "\\" and delimiter[0] == '"':
                i += 1
            elif text.startswith(delimiter, i):
                i += len(delimiter) - 1
                quote = None
        elif c == "#":
            while i + 1 < len(text) and text[i + 1] != "\n":
                i += 1
        elif c in "\"'":
            delimiter = c * 3 if text.startswith(c * 3, i) else c
            quote = (delimiter, line)
            i += len(delimiter) - 1
        elif c in "[{":
            opened.append((c, line))
        elif c in "]}" and opened:
            opened.pop()
        if not c.isspace():
            last = line
        i += 1
    if quote is not None and len(quote[0]) == 3:
        return quote[1], f"the string opened on line {quote[1]} is never closed"
    if opened:
        kind = "array" if opened[0][0] == "[" else "inline table"
        return opened[0][1], f"the {kind} opened on line {opened[0][1]} is never closed"
    return last, ""


def parse_config(
    text: str, path: Path, *, read_users_dir: bool = True, previous: Config | None = None
) -> Config:
    """Validate the TOML text of a config file (path is used in messages and for relative paths).

    With ``[paperboy] users_dir``, its files are read and checked too, unless
    `read_users_dir` is False (then the Config holds config.toml's own users only).
    `previous`: see :func:`load_config`.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends "(at line L, column C)"; lead with file:line as compilers do.
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        if m:
            where = f"{path}:{m.group(1)}:{m.group(2)}"
        else:  # "(at end of document)": name where the unfinished value began
            line, what = _unfinished(text)
            where = f"{path}:{line}"
            e = tomllib.TOMLDecodeError(f"{e}; {what}" if what else str(e))
        raise ConfigError(f"{where}: invalid TOML: {e}") from e

    problems = _Problems(path, text)
    base = path.parent.resolve()
    _check_keys(data, _TOP, [], "the top level", problems)

    general = _table(data, "paperboy", [], problems)
    _check_keys(general, _PAPERBOY, ["paperboy"], "[paperboy]", problems)
    database = _get(
        general,
        "database",
        str,
        "sqlite:///paperboy.db",
        ["paperboy"],
        "paperboy",
        problems,
        'a database URL like "sqlite:///paperboy.db"',
    )
    index_file = _get(
        general, "index", str, "paperboy.index", ["paperboy"], "paperboy", problems, "a file path"
    )
    index_store = _get(
        general, "index_store", str, "file", ["paperboy"], "paperboy", problems, "a string"
    )
    if isinstance(index_store, str) and index_store not in INDEX_STORES:
        problems.add(
            ["paperboy"],
            f'paperboy.index_store must be "file" or "database", not {index_store!r}',
            "index_store",
        )
    workers = _get(general, "workers", int, 0, ["paperboy"], "paperboy", problems, "a whole number")
    if isinstance(workers, int) and workers < 0:
        problems.add(
            ["paperboy"],
            f"paperboy.workers must be 0 (one per core) or more, not {workers}",
            "workers",
        )
    timezone = _check_timezone(
        _get(general, "timezone", str, "UTC", ["paperboy"], "paperboy", problems, "a string"),
        ["paperboy"],
        "timezone",
        problems,
    )
    contact = _get(
        general, "contact", str, None, ["paperboy"], "paperboy", problems, "an e-mail address"
    )
    fetch_schedule = _get(
        general,
        "fetch_schedule",
        str,
        DEFAULT_FETCH_CRON,
        ["paperboy"],
        "paperboy",
        problems,
        "a cron expression",
    )
    _check_cron(fetch_schedule, ["paperboy"], "paperboy", "fetch_schedule", problems)
    fetch_timezone = _check_timezone(
        _get(
            general,
            "fetch_timezone",
            str,
            DEFAULT_FETCH_TIMEZONE,
            ["paperboy"],
            "paperboy",
            problems,
            "a string",
        ),
        ["paperboy"],
        "fetch_timezone",
        problems,
    )

    sources = _table(data, "sources", [], problems)
    _check_keys(sources, _SOURCES, ["sources"], "[sources]", problems)
    arxiv: ArxivSourceConfig | None = None
    if "arxiv" in sources:
        raw = _table(sources, "arxiv", ["sources", "arxiv"], problems)
        _check_keys(raw, _ARXIV, ["sources", "arxiv"], "[sources.arxiv]", problems)
        at: list[str | int] = ["sources", "arxiv"]
        categories = _check_categories(
            _str_list(raw, "categories", at, "sources.arxiv", problems),
            at,
            "sources.arxiv",
            problems,
        )
        if not categories:
            problems.add(
                at,
                "sources.arxiv.categories must name at least one category",
                "categories" if "categories" in raw else None,
            )
        types = _str_list(raw, "announce_types", at, "sources.arxiv", problems) or (
            "new",
            "cross",
        )
        bad = [t for t in types if t not in ANNOUNCE_TYPES]
        if bad:
            problems.add(
                at,
                f"sources.arxiv.announce_types: unknown {', '.join(bad)} "
                f"(expected some of {', '.join(ANNOUNCE_TYPES)})",
                "announce_types",
            )
        base_url = _get(
            raw, "base_url", str, ARXIV_RSS_BASE, at, "sources.arxiv", problems, "a URL"
        )
        backfill_days = _get(
            raw,
            "backfill_days",
            int,
            DEFAULT_BACKFILL_DAYS,
            at,
            "sources.arxiv",
            problems,
            "a whole number of days (0 turns the first-run backfill off)",
        )
        if not 0 <= backfill_days <= MAX_BACKFILL_DAYS:
            problems.add(
                at,
                f"sources.arxiv.backfill_days must be from 0 to {MAX_BACKFILL_DAYS}, "
                f"not {backfill_days}",
                "backfill_days",
            )
            backfill_days = DEFAULT_BACKFILL_DAYS
        arxiv = ArxivSourceConfig(categories, types, base_url, backfill_days)
    huggingface = _huggingface(sources, problems)
    feeds = _feeds(sources, problems)
    openreview = _openreview(sources, problems)

    email = _email(_table(data, "email", [], problems), base, problems)
    web = _web(_table(data, "web", [], problems), base, problems)
    queue = _queue(data, problems)

    raw_users = data.get("users", [])
    # Each user with the file it is in and where in that file, for duplicate names.
    placed: list[tuple[UserConfig, _Problems, list[str | int]]] = []
    if not isinstance(raw_users, list):
        problems.add(["users"], "users must be an array of tables: [[users]]", None)
        raw_users = []
    for index, raw_user in enumerate(raw_users):
        user = _user(raw_user, index, base, timezone, problems)
        if user is not None:
            placed.append((user, problems, ["users", index]))
            _check_user_transport(user, email, ["users", index], problems)

    problem_sets = [problems]
    stamps: dict[str, tuple[int, int, int]] = {}
    users_dir = _get(
        general, "users_dir", str, None, ["paperboy"], "paperboy", problems, "a folder path"
    )
    users_folder = None if users_dir is None else _resolve_path(path.parent, users_dir)
    if users_folder is not None and read_users_dir:
        folder_base = users_folder.resolve()  # once, not once per file
        # users_dir = ".": config.toml is in the folder but is not a user
        itself = path.name if folder_base == path.resolve().parent else None
        known = _reusable_users(previous, path, users_folder, timezone, email)
        for user_file in _user_files(users_folder, problems, skip=itself):
            stamp = _file_stamp(user_file)  # before the read: a later change is seen next time
            if stamp is not None:
                stamps[user_file.name] = stamp
            kept = known.get(user_file.name)
            if kept is not None and stamp is not None and kept[0] == stamp:
                placed.append((kept[1], _Problems(user_file, ""), []))
                continue
            file_problems, user = _user_file(user_file, timezone, email, base=folder_base)
            problem_sets.append(file_problems)
            if user is not None:
                placed.append((user, file_problems, []))

    # A dict, not names.count(): 10,000 users must not mean 10,000² comparisons.
    first: dict[str, tuple[_Problems, list[str | int]]] = {}
    for user, at_problems, at in placed:
        if user.name not in first:
            first[user.name] = (at_problems, at)
            continue
        other_problems, other_at = first[user.name]
        also = other_problems.location(other_at, "name")
        at_problems.add(at, f"duplicate user name {user.name!r} (also in {also})", "name")

    _raise_all(problem_sets)
    users = [user for user, _problems, _where in placed]
    return Config(
        path=path,
        database=_resolve_database(base, database),
        index=_resolve_path(base, index_file),
        index_store=index_store,
        workers=workers,
        timezone=timezone,
        contact=contact,
        fetch_schedule=fetch_schedule,
        fetch_timezone=fetch_timezone,
        arxiv=arxiv,
        huggingface=huggingface,
        feeds=feeds,
        openreview=openreview,
        email=email,
        users=tuple(users),
        users_dir=users_folder,
        user_file_stamps=stamps,
        web=web,
        queue=queue,
    )


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


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:8080" -> ("::1", 8080). ValueError else."""
    host, sep, port = value.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'expected "HOST:PORT" like "{DEFAULT_WEB_LISTEN}", not {value!r}')
    return host, int(port)


def _web(raw: Mapping[str, Any], base: Path, problems: _Problems) -> WebConfig:
    """[web]: base_url (the public URL behind the reverse proxy), listen, serve, token_days,
    secret_file (default web.key beside config.toml)."""
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
    token_days = _get(raw, "token_days", int, 60, where, "web", problems, "a whole number of days")
    if token_days < 1:
        problems.add(where, f"web.token_days must be 1 or more, not {token_days}", "token_days")
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
        token_days=token_days,
        secret_file=_resolve_path(base, secret_file),
    )


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(mtime_ns, size, inode): an edit in place or an atomic replace changes it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _reusable_users(
    previous: Config | None, path: Path, folder: Path, timezone: str, email: EmailConfig
) -> dict[str, tuple[tuple[int, int, int], UserConfig]]:
    """The previous load's users_dir users by file name, with the stamp they were read at;
    none when anything they were checked against (the defaults, [email]) has changed."""
    if (
        previous is None
        or previous.path != path
        or previous.users_dir != folder
        or previous.timezone != timezone
        or previous.email != email
    ):
        return {}
    known = {}
    for user in previous.users:
        if user.source is not None:
            stamp = previous.user_file_stamps.get(user.source.name)
            if stamp is not None:
                known[user.source.name] = (stamp, user)
    return known


def _check_user_transport(
    user: UserConfig, email: EmailConfig, where: Sequence[str | int], problems: _Problems
) -> None:
    if user.transport == "smtp" and email.smtp is None:
        label = f"[[users]] {user.name!r}" if where else f"user {user.name!r}"
        problems.add(
            where,
            f'{label}.transport is "smtp" but there is no [email.smtp] table',
            "transport",
        )


def _user_files(folder: Path, problems: _Problems, skip: str | None = None) -> list[Path]:
    """The users_dir's ``*.toml`` files (but `skip`), by name; hidden files and anything
    else ignored (editors' backups, ``ada.toml.bak``, the temporary files of a write)."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except FileNotFoundError:
        problems.add(
            ["paperboy"], f"paperboy.users_dir: no such folder {str(folder)!r}", "users_dir"
        )
        return []
    except OSError as e:  # not a folder, no permission
        problems.add(
            ["paperboy"], f"paperboy.users_dir: cannot list {str(folder)!r}: {e}", "users_dir"
        )
        return []
    names = sorted(
        e.name for e in entries if _is_user_file_name(e.name) and e.name != skip and e.is_file()
    )
    return [folder / name for name in names]


def _is_user_file_name(name: str) -> bool:
    """``*.toml``, not hidden (an editor's ``.#ada.toml`` lock is not a user)."""
    return name.endswith(".toml") and not name.startswith(".")


def _read_user_file(path: Path) -> str:
    """The text of one users_dir file (OSError, UnicodeDecodeError as they come)."""
    return path.read_text(encoding="utf-8")


def _user_file(
    path: Path,
    default_tz: str,
    email: EmailConfig,
    text: str | None = None,
    base: Path | None = None,
) -> tuple[_Problems, UserConfig | None]:
    """Read (unless `text` is given) and check one users_dir file; its problems and user.

    Relative paths in it (``library``) are relative to its folder, `base` if given."""
    if text is None:
        try:
            text = _read_user_file(path)
        except (OSError, UnicodeDecodeError) as e:
            problems = _Problems(path, "")
            problems.add_at(None, f"cannot read user file: {e}")
            return problems, None
    problems = _Problems(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        problems.add_at(int(m.group(1)) if m else None, f"invalid TOML: {e}")
        return problems, None
    if "users" in data:
        problems.add(
            ["users", 0] if isinstance(data["users"], list) else [],
            "a users_dir file holds one user: write the keys of the user's table at the "
            "top level, without a [[users]] header",
            None if isinstance(data["users"], list) else "users",
        )
        return problems, None
    user = _user(
        data,
        0,
        path.parent.resolve() if base is None else base,
        default_tz,
        problems,
        where=[],
        default_name=path.name.removesuffix(".toml"),
    )
    if user is not None:
        _check_user_transport(user, email, [], problems)
    return problems, user


def parse_user_file(text: str, path: Path, config: Config) -> UserConfig:
    """Validate the text of one users_dir file as `config` would load it (the same checks
    as a [[users]] table); ConfigError naming the file and line otherwise."""
    problems, user = _user_file(path, config.timezone, config.email, text)
    problems.raise_if_any()
    assert user is not None  # no problems means a user
    return user


def config_stamp(config: Config) -> tuple[object, ...]:
    """What changes when config.toml or a users_dir file is changed, added or removed.

    The daemon compares it every few seconds: (mtime, size) of config.toml and (mtime,
    size, inode) of each ``*.toml`` file in users_dir, one stat each from a single
    directory scan (10,000 files: about 0.1 s on a busy 2-core machine).
    """

    def stat(path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    files: list[tuple[str, int, int, int]] = []
    if config.users_dir is not None:
        try:
            with os.scandir(config.users_dir) as entries:
                for entry in entries:
                    if not _is_user_file_name(entry.name):
                        continue
                    try:
                        st = entry.stat()
                    except OSError:  # removed while we looked: the next check sees it
                        continue
                    if S_ISREG(st.st_mode):
                        files.append((entry.name, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:  # a vanished folder: the reload names the problem
            files.append(("", 0, 0, 0))
        files.sort()
    return (stat(config.path), tuple(files))


def _check_url(
    url: str, where: Sequence[str | int], label: str, key: str, problems: _Problems
) -> bool:
    if re.match(r"^https?://[^/\s]+", url):
        return True
    problems.add(where, f"{label}.{key} must be an http(s) URL, not {url!r}", key)
    return False


def _huggingface(sources: Mapping[str, Any], problems: _Problems) -> HuggingFaceConfig | None:
    """[sources.huggingface]: absent means off; present, it is on unless enabled = false."""
    if "huggingface" not in sources:
        return None
    at: list[str | int] = ["sources", "huggingface"]
    raw = _table(sources, "huggingface", at, problems)
    label = "sources.huggingface"
    _check_keys(raw, _HUGGINGFACE, at, "[sources.huggingface]", problems)
    enabled = _get(raw, "enabled", bool, True, at, label, problems, "true or false")
    url = _get(raw, "url", str, HF_DAILY_PAPERS_URL, at, label, problems, "a URL")
    if not _check_url(url, at, label, "url", problems):
        url = HF_DAILY_PAPERS_URL
    return HuggingFaceConfig(enabled=enabled, url=url)


def _feeds(sources: Mapping[str, Any], problems: _Problems) -> tuple[FeedConfig, ...]:
    """[[sources.feeds]]: each needs a unique name (not a built-in source's) and a URL."""
    raw_feeds = sources.get("feeds", [])
    if not isinstance(raw_feeds, list):
        message = "sources.feeds must be an array of tables: [[sources.feeds]]"
        problems.add(["sources"], message, "feeds")
        return ()
    feeds: list[FeedConfig] = []
    for index, raw in enumerate(raw_feeds):
        at: list[str | int] = ["sources", "feeds", index]
        if not isinstance(raw, dict):
            problems.add(at, "each [[sources.feeds]] entry must be a table", None)
            continue
        name = _get(raw, "name", str, "", at, "sources.feeds", problems, "a string").strip()
        label = f"[[sources.feeds]] {name!r}" if name else f"[[sources.feeds]] #{index + 1}"
        _check_keys(raw, _FEED, at, label, problems)
        url = _get(raw, "url", str, "", at, label, problems, "a URL").strip()
        ok = True
        if not name:
            problems.add(at, f"{label}: name is required", "name" if "name" in raw else None)
            ok = False
        elif name in BUILTIN_SOURCES or name.startswith("file:"):
            problems.add(
                at,
                f"{label}: the name {name!r} is taken by a built-in source "
                f"({', '.join(BUILTIN_SOURCES)}); choose another",
                "name",
            )
            ok = False
        elif name in {f.name for f in feeds}:
            problems.add(at, f"duplicate feed name {name!r}", "name")
            ok = False
        if not url:
            problems.add(at, f"{label}: url is required", "url" if "url" in raw else None)
            ok = False
        elif not _check_url(url, at, label, "url", problems):
            ok = False
        if ok:
            feeds.append(FeedConfig(name=name, url=url))
    return tuple(feeds)


def _openreview(sources: Mapping[str, Any], problems: _Problems) -> tuple[OpenReviewConfig, ...]:
    """[[sources.openreview]]: a venue id (as in OpenReview's URLs), its status, the API."""
    raw_list = sources.get("openreview", [])
    if not isinstance(raw_list, list):
        message = "sources.openreview must be an array of tables: [[sources.openreview]]"
        problems.add(["sources"], message, "openreview")
        return ()
    found: list[OpenReviewConfig] = []
    for index, raw in enumerate(raw_list):
        at: list[str | int] = ["sources", "openreview", index]
        if not isinstance(raw, dict):
            problems.add(at, "each [[sources.openreview]] entry must be a table", None)
            continue
        label = f"[[sources.openreview]] #{index + 1}"
        _check_keys(raw, _OPENREVIEW, at, label, problems)
        venue = _get(raw, "venue", str, "", at, label, problems, "a venue id").strip()
        status = _get(raw, "status", str, "submitted", at, label, problems, "a string")
        api_url = _get(raw, "api_url", str, OPENREVIEW_API, at, label, problems, "a URL")
        ok = True
        if not venue or " " in venue or "/" not in venue:
            problems.add(
                at,
                f"{label}.venue must be an OpenReview venue id like "
                f"'ICLR.cc/2026/Conference', not {venue!r}",
                "venue" if "venue" in raw else None,
            )
            ok = False
        if status not in VENUE_STATUSES:
            problems.add(
                at,
                f"{label}.status must be one of {', '.join(VENUE_STATUSES)}, not {status!r}",
                "status",
            )
            ok = False
        if not _check_url(api_url, at, label, "api_url", problems):
            ok = False
        if any(f.venue == venue and f.status == status for f in found):
            problems.add(at, f"{label}: {venue} ({status}) is listed twice", "venue")
            ok = False
        if ok:
            found.append(OpenReviewConfig(venue, status, api_url.rstrip("/")))
    return tuple(found)


def _table(
    data: Mapping[str, Any], key: str, where: Sequence[str | int], problems: _Problems
) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.add(where, f"{key} must be a table", key)
        return {}
    return value


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


def _user(
    raw: Any,
    index: int,
    base: Path,
    default_tz: str,
    problems: _Problems,
    *,
    where: list[str | int] | None = None,
    default_name: str = "",
) -> UserConfig | None:
    """One user: a [[users]] table of config.toml (`index`), or a users_dir file's top
    level (``where=[]``, named by its file stem unless it has a ``name``)."""
    in_file = where is not None
    where = ["users", index] if where is None else where
    if not isinstance(raw, dict):
        problems.add(where, "each [[users]] entry must be a table", None)
        return None
    name = _get(raw, "name", str, default_name, where, "users", problems, "a string")
    if in_file:
        label = f"user {name!r}"
    else:
        label = f"[[users]] {name!r}" if name else f"[[users]] #{index + 1}"
    if not name:
        problems.add(where, f"{label}: name is required", None)
    # Issue #20 item 23: no control, line-break or bidi character in a name.
    if name and (bad_name := name_problem(name)) is not None:
        problems.add(where, f"{label}: name {bad_name}", "name" if "name" in raw else None)
    _check_keys(raw, _USER, where, label, problems)

    def field_(key: str, kind: type | tuple[type, ...], default: Any, expected: str) -> Any:
        return _get(raw, key, kind, default, where, label, problems, expected)

    emails = _str_list(raw, "email", where, label, problems)
    if not emails:
        problems.add(where, f"{label}: email is required", "email" if "email" in raw else None)
    for address in emails:
        problem = address_problem(address)
        if problem is not None:
            problems.add(
                where, f"{label}: {address!r} is not an e-mail address ({problem})", "email"
            )
    schedule = field_("schedule", str, "daily", "'daily', 'weekly' or a cron expression")
    if schedule not in ("daily", "weekly"):
        _check_cron(schedule, where, label, "schedule", problems)
    send_at = _parse_time(raw.get("send_at", "07:30"), where, label, problems)
    timezone = _check_timezone(
        field_("timezone", str, default_tz, "a time zone name"), where, "timezone", problems
    )
    max_papers = field_("max_papers", int, 12, "a whole number")
    if max_papers < 1:
        problems.add(where, f"{label}.max_papers must be at least 1", "max_papers")
    min_score = float(field_("min_score", (int, float), 0.0, "a number from 0 to 1"))
    if not 0 <= min_score <= 1:
        problems.add(where, f"{label}.min_score must be between 0 and 1", "min_score")
    diversity = float(field_("diversity", (int, float), 0.0, "a number from 0 to 1"))
    if not 0 <= diversity <= 1:
        problems.add(where, f"{label}.diversity must be between 0 and 1", "diversity")
        diversity = 0.0
    saved = _id_list(raw, "saved", where, label, problems)
    disliked = _id_list(raw, "disliked", where, label, problems)
    for both in (pid for pid in disliked if pid in saved):
        problems.add(
            where,
            f"{label}: {both} is both saved and disliked; keep it in one of the two",
            "disliked",
        )
    transport = field_("transport", str, None, "one of " + ", ".join(TRANSPORTS))
    if transport is not None and transport not in TRANSPORTS:
        problems.add(
            where,
            f"{label}.transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}",
            "transport",
        )
        transport = None
    library = field_("library", str, None, "the path of a BibTeX file")
    return UserConfig(
        name=name,
        email=emails,
        schedule=schedule,
        send_at=send_at,
        timezone=timezone,
        max_papers=max_papers,
        min_score=min_score,
        diversity=diversity,
        categories=_check_categories(
            _str_list(raw, "categories", where, label, problems), where, label, problems
        ),
        saved=tuple(saved),
        library=_resolve_path(base, library) if isinstance(library, str) else None,
        keywords=_str_list(raw, "keywords", where, label, problems),
        authors=_str_list(raw, "authors", where, label, problems),
        muted=_str_list(raw, "muted", where, label, problems),
        disliked=tuple(disliked),
        transport=transport,
        send_empty=field_("send_empty", bool, False, "true or false"),
        zotero=_zotero(raw, where, label, problems),
        source=problems.path if in_file else None,
    )


def _zotero(
    raw: Mapping[str, Any], user_where: list[str | int], label: str, problems: _Problems
) -> ZoteroConfig | None:
    """[users.zotero] of one user: library = "users/123" or "groups/456", the key's
    variable, optional collection names and tags to leave out."""
    if "zotero" not in raw:
        return None
    where: list[str | int] = [*user_where, "zotero"]
    name = f"{label} [users.zotero]"
    table = raw["zotero"]
    if not isinstance(table, dict):
        problems.add(user_where, f"{label}.zotero must be a table", "zotero")
        return None
    _check_keys(table, (*_ZOTERO, "api_key"), where, name, problems)
    if "api_key" in table:
        problems.add(
            where,
            f"{name}: secrets never live in config.toml; use "
            'api_key_env = "ZOTERO_API_KEY" and set that variable',
            "api_key",
        )
    library = _get(table, "library", str, "", where, name, problems, 'e.g. "users/123456"')
    ok = True
    if not _ZOTERO_LIBRARY_RE.match(library.strip()):
        problems.add(
            where,
            f'{name}.library must be "users/<user id>" or "groups/<group id>" (the id is '
            f"on zotero.org/settings/keys), not {library!r}",
            "library" if "library" in table else None,
        )
        ok = False
    api_key_env = _get(
        table, "api_key_env", str, None, where, name, problems, "an environment variable name"
    )
    url = _get(table, "url", str, ZOTERO_API, where, name, problems, "a URL")
    if not _check_url(url, where, name, "url", problems):
        ok = False
    if not ok:
        return None
    return ZoteroConfig(
        library=library.strip(),
        api_key_env=api_key_env or None,
        collections=_str_list(table, "collections", where, name, problems),
        exclude_tags=_str_list(table, "exclude_tags", where, name, problems),
        url=url.rstrip("/"),
    )


def _id_list(
    raw: Mapping[str, Any], key: str, where: Sequence[str | int], label: str, problems: _Problems
) -> list[str]:
    """A list of arXiv ids in any accepted form, canonical and without repeats."""
    ids: list[str] = []
    for value in _str_list(raw, key, where, label, problems):
        try:
            canonical, _version = canonical_arxiv_id(value)
        except UnknownPaperError as e:
            problems.add(where, f"{label}.{key}: {e}", key, value)
            continue
        if canonical not in ids:
            ids.append(canonical)
    return ids


def config_path(option: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config PATH, else $PAPERBOY_CONFIG, else ./config.toml."""
    env = os.environ if environ is None else environ
    return Path(option or env.get("PAPERBOY_CONFIG") or "config.toml")
