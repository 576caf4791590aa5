"""The model of the configuration: the frozen dataclasses config.toml and users_dir load
into, their defaults, and the few methods that read a secret or build a trigger at the moment
of use.

Reading and checking the files is elsewhere (:mod:`paperboy.jobs.config.load`); this module
imports neither APScheduler nor Jinja2, so code that only handles a Config stays cheap to
import (the cron trigger is built, and APScheduler imported, on the first call).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from paperboy.jobs.core.errors import ConfigError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger


DEFAULT_FETCH_CRON = "30 20 * * sun,mon-thu"  # 20:30 US Eastern: after arXiv's 20:00 announcement

DEFAULT_FETCH_TIMEZONE = "America/New_York"

DEFAULT_SENDER = "Paperboy <paperboy@localhost>"

ARXIV_RSS_BASE = "https://rss.arxiv.org/rss/"

HF_DAILY_PAPERS_URL = "https://huggingface.co/api/daily_papers"

DEFAULT_BACKFILL_DAYS = 7


# Source names the fetch job uses itself; a [[sources.feeds]] name may not take one.
BUILTIN_SOURCES = ("arxiv", "arxiv-api", "arxiv-backfill", "huggingface")


ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")

TRANSPORTS = ("outbox", "smtp", "console")

SECURITIES = ("starttls", "ssl", "none")

INDEX_STORES = ("file", "database")


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
    # Abstract and PDF links go through /open/T, which records the click (issue #21)
    count_clicks: bool = False
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


@dataclass(frozen=True, slots=True)
class ZoteroConfig:
    """[users.zotero]: a Zotero library followed live (jobs.zotero)."""

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
class ChannelConfig:
    """One entry of a user's `notify` list (issue #23): a chat or push channel, as an
    Apprise URL written in the config (`url`) or read from the environment (`url_env`,
    at the moment of use, like [email.smtp] password_env: a token stays out of the file).
    `name` is what the database, the logs and `paperboy status` call it: never the URL."""

    name: str
    url: str | None = None
    url_env: str | None = None
    max_length: int | None = None  # parts of at most this many characters; None: Apprise's

    def resolve(self) -> str:
        """The channel's Apprise URL, read now; ConfigError if its variable is not set."""
        if self.url_env:
            value = os.environ.get(self.url_env, "").strip()
            if not value:
                raise ConfigError(
                    f"notify channel {self.name!r}: url_env names ${self.url_env}, which is not set"
                )
            return value
        assert self.url is not None
        return self.url


DEFAULT_COLLECTION = ""  # the user's own top-level lists: the collection without a name


@dataclass(frozen=True, slots=True)
class CollectionConfig:
    """One ``[[users.collections]]`` table (issue #23): a named interest of a user, ranked
    by its own model and shown as its own section of the digest. What sits at the user's
    top level is their default collection (:meth:`UserConfig.lists`)."""

    name: str
    saved: tuple[str, ...] = ()  # canonical ids
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    max_papers: int | None = None  # None: the user's max_papers
    notify: tuple[ChannelConfig, ...] = ()  # this section's own chat and push channels
    zotero: str | None = None  # the Zotero collection (name or key) that feeds it


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    email: tuple[str, ...]  # empty: channels only (`notify`)
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
    notify: tuple[ChannelConfig, ...] = ()  # chat and push channels (issue #23)
    collections: tuple[CollectionConfig, ...] = ()  # named interests (issue #23)

    def trigger(self) -> CronTrigger:
        """The user's digest schedule as an APScheduler cron trigger in their time zone."""
        return digest_trigger(self.schedule, self.send_at, self.timezone)

    def collection(self, name: str | None) -> CollectionConfig:
        """The collection called `name` (None or "": the default collection, the user's
        top-level lists); ConfigError naming the user's collections otherwise."""
        if not name:
            return self.lists()
        for collection in self.collections:
            if collection.name == name:
                return collection
        known = ", ".join(c.name for c in self.collections) or "none"
        raise ConfigError(
            f"user {self.name!r} has no collection named {name!r} (collections: {known})"
        )

    def lists(self) -> CollectionConfig:
        """The default collection: the user's top-level lists, as a nameless collection."""
        return CollectionConfig(
            name=DEFAULT_COLLECTION,
            saved=self.saved,
            keywords=self.keywords,
            authors=self.authors,
            muted=self.muted,
            disliked=self.disliked,
            max_papers=self.max_papers,
        )

    def channels(self) -> dict[str, ChannelConfig]:
        """Every chat and push channel of the user by the name the ledger keeps it under:
        their own `notify` (the whole digest) by its name, and each collection's (that
        section only) as ``COLLECTION/NAME``; "/" is in no channel's own name."""
        found = {c.name: c for c in self.notify}
        for collection in self.collections:
            found.update({f"{collection.name}/{c.name}": c for c in collection.notify})
        return found

    def saved_everywhere(self) -> tuple[str, ...]:
        """The saved papers of every collection, the default one first, without repeats:
        what the fetch looks up on arXiv so each model has their text."""
        ids = [*self.saved, *(pid for c in self.collections for pid in c.saved)]
        return tuple(dict.fromkeys(ids))

    def all_saved(self) -> frozenset[str]:
        """Every paper saved or disliked in any of the user's collections: never a
        candidate (it is already theirs, or unwanted)."""
        ids = {*self.saved, *self.disliked}
        for c in self.collections:
            ids.update(c.saved)
            ids.update(c.disliked)
        return frozenset(ids)


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
    """One [[sources.openreview]] entry: a venue whose new papers are news (jobs.venues)."""

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
    index: Path = Path("paperboy.index")  # the stored corpus features (jobs.features)
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
    costs a quarter of a millisecond; a trigger holds no state, so jobs can share one.
    APScheduler is imported here, not with the module: handling a Config needs none of it."""
    from apscheduler.triggers.cron import CronTrigger

    tz = ZoneInfo(timezone)
    if schedule == "daily":
        return CronTrigger(hour=send_at.hour, minute=send_at.minute, timezone=tz)
    if schedule == "weekly":
        return CronTrigger(day_of_week="mon", hour=send_at.hour, minute=send_at.minute, timezone=tz)
    return CronTrigger.from_crontab(schedule, timezone=tz)
