"""All of Paperboy's state, behind one class: papers, sources, deliveries and the ledger.

SQLAlchemy 2.x Core, so the same code runs on SQLite (the default) and PostgreSQL. No
other module writes SQL. Timestamps are timezone-aware UTC in and out, also on SQLite.

Exactly-once delivery rests on four tables:
  digest_claims  (user, slot): a digest is claimed here, atomically (INSERT ... ON
              CONFLICT DO NOTHING), before any work; the claim has an owner and a lease,
              and a claim whose owner died is taken over once its lease has expired;
  deliveries  one row per digest message, with its Message-ID and the message itself,
              written as `pending` *before* it is sent, marked `sent` after the server
              accepted it. A pending delivery has a lease too: only its holder sends it;
  ledger      (user, paper, delivery): at most one live row per (user, paper) (a unique
              index), so a paper is mailed to a user at most once; a digest that failed
              for good *releases* its rows (released_at), keeping the history;
  user_state  per user, the listing time up to which candidates were considered, and
              when the last digest was built: the digest is recorded only if this is
              still what it was built on (compare-and-set, in the recording transaction).

Every write transaction on SQLite starts with BEGIN IMMEDIATE (the writer lock is taken
up front, so two writers never both read and then both write).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.records import SourcePaper


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of time stored)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite hands back naive values, which are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", String(128), primary_key=True),  # canonical id (see jobs.ids)
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("version", Integer),
    Column("link", Text),
    Column("comment", Text),
    Column("announced", Date),  # the first announcement day
    # When the paper first appeared in a listing (a candidate for digests). NULL for papers
    # known only from a lookup (a user's saved paper), which are never news.
    Column("listed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # A one-sentence summary from a source (OpenReview's TL;DR, Hugging Face's ai_summary)
    # and who gave it, shown above the abstract in digests (issue #15).
    Column("tldr", Text),
    Column("tldr_source", String(64)),
    Index("ix_papers_listed_at", "listed_at"),
)

paper_sources = Table(
    "paper_sources",
    metadata,
    Column("paper_id", String(128), ForeignKey("papers.id"), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("announce_type", String(32)),
    Column("first_seen", UTCDateTime, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("url", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_count", Integer),  # papers in the last successful response
    Column("last_new", Integer),  # of which new to the database
)

# Popularity of papers on a day (Hugging Face daily papers): upvotes, comments and rank
# on that day's page, per source, so the digest can show "trending today" and the ranker
# can weigh popularity. A later fetch of the same day replaces that day's numbers.
trending = Table(
    "trending",
    metadata,
    Column("paper_id", String(128), ForeignKey("papers.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("upvotes", Integer, nullable=False),
    Column("comments", Integer, nullable=False),
    Column("rank", Integer),  # 1 = most popular on that day's page
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_trending_day", "day"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(200), nullable=False),
    Column("message_id", String(300), nullable=False, unique=True),
    Column("digest_day", Date, nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent | failed
    Column("paper_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("receipt", Text),  # where it went: an .eml path, "smtp.example.org:587", ...
    Column("message", LargeBinary, nullable=False),  # the exact bytes, so a retry is identical
    # Who may send this pending delivery, until when (see Storage.take_delivery).
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime),
    Index("ix_deliveries_user_status", "user_name", "status"),
)

LIVE_LEDGER = "released_at IS NULL"

ledger = Table(
    "ledger",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("paper_id", String(128), primary_key=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    # Set when the delivery failed for good: the paper may go into a later digest.
    Column("released_at", UTCDateTime),
    Index(
        "ux_ledger_live",
        "user_name",
        "paper_id",
        unique=True,
        sqlite_where=text(LIVE_LEDGER),
        postgresql_where=text(LIVE_LEDGER),
    ),
)

# One row per (user, digest slot): who builds that digest, until when (the lease).
# slot: the UTC time the user's schedule fired ("2026-07-01T05:30:00Z"), "first" for a
# user's first digest, "forced:<last digest time>" for `paperboy digest --force`.
digest_claims = Table(
    "digest_claims",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("slot", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),  # host:pid:run
    Column("state", String(20), nullable=False),  # claimed | done
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("takeovers", Integer, nullable=False, default=0),
    Column("delivery_id", Integer, ForeignKey("deliveries.id")),
    Column("outcome", String(20)),  # recorded | empty | superseded
    Column("finished_at", UTCDateTime),
)

user_state = Table(
    "user_state",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("listed_through", UTCDateTime),  # candidates are papers listed after this
    Column("last_digest_at", UTCDateTime),  # when the last digest was built (sent or empty)
    # Feedback from the digest (issue #14): in the database, not the profile, so that a
    # `paperboy serve` on another machine and the daemon see the same state at once.
    Column("unsubscribed_at", UTCDateTime),  # set: no digests until re-enabled
    Column("paused_until", UTCDateTime),  # no digests before this
)

# A user's library (issue #6): papers imported from BibTeX that have no arXiv id, so they
# cannot be saved in config.toml; their text is in `papers` (id: DOI or title key).
library = Table(
    "library",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("paper_id", String(128), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
)

# A user's Zotero library followed live (issue #15): the library version synced up to
# (Zotero's Last-Modified-Version), what was asked for (library, collections, tags), and
# the last attempt's error. `retry_after`: the API asked to wait (429, Backoff) until then.
zotero_sync = Table(
    "zotero_sync",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("library", Text, nullable=False),
    Column("version", Integer),  # None: never synced completely
    Column("scope", Text),  # library + collection keys + excluded tags, as JSON
    Column("item_count", Integer),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("retry_after", UTCDateTime),
)

# The synced items: each Zotero item (by key) of a user's library in scope, and the
# canonical paper it is. They count as the user's saved papers.
zotero_items = Table(
    "zotero_items",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("item_key", String(32), primary_key=True),
    Column("paper_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("synced_at", UTCDateTime, nullable=False),
)

# OpenReview venues (issue #15): a venue's paper list, fetched once and then refreshed
# from the newest modification seen (`max_tmdate`, ms since the epoch).
venues = Table(
    "venues",
    metadata,
    Column("venue", String(300), primary_key=True),  # e.g. ICLR.cc/2025/Conference
    Column("status", String(20), primary_key=True),  # accepted | submitted
    Column("fetched_at", UTCDateTime),
    Column("max_tmdate", BigInteger),
    Column("paper_count", Integer),
    Column("last_attempt_at", UTCDateTime),
    Column("last_error", Text),
)

venue_papers = Table(
    "venue_papers",
    metadata,
    Column("venue", String(300), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("note_id", String(64), primary_key=True),  # the OpenReview note (forum) id
    Column("paper_id", String(128), nullable=False),
    Column("label", Text),  # the venue's own words: "ICLR 2025 Poster"
    Column("tmdate", BigInteger),
)

# Each paper's sentence-encoder vector (issue 11), computed once after the paper is stored.
# Keyed by model: a new encoder (another MODEL_ID) encodes everything again beside the old
# rows. text_hash is the sha256 of the text encoded (recommender.encoder.encoder_text): a
# paper whose title or abstract changes is encoded again. The vector is float16
# little-endian bytes: half the size of float32 (58 MB for 75k papers), and its rounding
# (cosine > 0.99999 to the float32 vector) is far below the int8 model's own error.
embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_id", String(128), ForeignKey("papers.id"), primary_key=True),
    Column("model_id", String(100), primary_key=True),
    Column("text_hash", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("encoded_at", UTCDateTime, nullable=False),
)

# The ranker's stored index (jobs.features), one row per build: its generation (a number
# that only grows), the build_id written in the file's header, and, with
# `index_store = "database"`, the file itself in index_chunks, so that a worker on any
# machine can load the newest index without a shared folder (issue #13).
index_generations = Table(
    "index_generations",
    metadata,
    Column("generation", Integer, primary_key=True, autoincrement=True),
    Column("build_id", String(64), nullable=False, unique=True),
    Column("built_at", UTCDateTime, nullable=False),
    Column("papers", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),  # bytes of the file
    Column("sha256", String(64), nullable=False),
    Column("stored", Integer, nullable=False, default=0),  # 1: its bytes are in index_chunks
    Column("builder", String(200), nullable=False),  # host:pid of the process that built it
)
index_chunks = Table(
    "index_chunks",
    metadata,
    Column(
        "generation",
        Integer,
        ForeignKey("index_generations.generation", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
INDEX_CHUNK_BYTES = 4 << 20  # 4 MiB a row: memory stays small while a file is copied

PENDING, SENT, FAILED = "pending", "sent", "failed"
CLAIMED, DONE = "claimed", "done"


class ClaimLost(StorageError):
    """The digest was not recorded: its claim is no longer ours, the user's state moved
    on since the digest was built, or one of its papers is already in a live digest."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A digest slot claimed by `owner` (Storage.claim_digest)."""

    user_name: str
    slot: str
    owner: str
    expires_at: datetime
    taken_over: bool = False


@dataclass(frozen=True, slots=True)
class IndexGeneration:
    """One recorded build of the ranker's index (Storage.record_index_generation)."""

    generation: int
    build_id: str
    built_at: datetime
    papers: int
    size: int
    sha256: str
    stored: bool  # the file's bytes are in the database
    builder: str


@dataclass(frozen=True, slots=True)
class StoredPaper:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    version: int | None
    link: str | None
    comment: str | None
    announced: date | None
    listed_at: datetime | None
    tldr: str | None = None
    tldr_source: str | None = None


@dataclass(frozen=True, slots=True)
class ZoteroState:
    """Where a user's Zotero sync stands."""

    user_name: str
    library: str
    version: int | None
    scope: str | None
    item_count: int | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    retry_after: datetime | None


@dataclass(frozen=True, slots=True)
class ZoteroChange:
    """What one sync changed: papers added to and removed from the user's profile."""

    added: int
    removed: int
    total: int


@dataclass(frozen=True, slots=True)
class VenueState:
    venue: str
    status: str
    fetched_at: datetime | None
    max_tmdate: int | None
    paper_count: int | None
    last_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class VenueEntry:
    """One paper of a venue: its OpenReview note and the canonical paper it is."""

    note_id: str
    paper_id: str
    label: str | None
    tmdate: int | None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    new: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    url: str | None
    etag: str | None
    last_modified: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_count: int | None
    last_new: int | None


@dataclass(frozen=True, slots=True)
class TrendingEntry:
    """A paper's popularity on one day at one source."""

    paper_id: str
    day: date
    source: str
    upvotes: int
    comments: int
    rank: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    user_name: str
    message_id: str
    digest_day: date
    status: str
    paper_count: int
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    receipt: str | None
    message: bytes
    last_attempt_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    """A user's deliveries counted by status, read without their messages (issue #13)."""

    user_name: str
    pending: int = 0
    failed: int = 0
    sent: int = 0
    last_sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserState:
    user_name: str
    listed_through: datetime | None
    last_digest_at: datetime | None
    unsubscribed_at: datetime | None = None
    paused_until: datetime | None = None

    def paused(self, now: datetime) -> bool:
        """True while a "pause" is in force."""
        return self.paused_until is not None and now < self.paused_until

    def receiving(self, now: datetime) -> bool:
        """Whether this user gets digests now: not unsubscribed, not paused."""
        return self.unsubscribed_at is None and not self.paused(now)


def _user_state(row: Row[Any]) -> UserState:
    return UserState(
        row.user_name,
        row.listed_through,
        row.last_digest_at,
        unsubscribed_at=row.unsubscribed_at,
        paused_until=row.paused_until,
    )


def _paper(row: Row[Any]) -> StoredPaper:
    return StoredPaper(
        id=row.id,
        title=row.title,
        abstract=row.abstract or "",
        authors=tuple(row.authors or ()),
        categories=tuple(row.categories or ()),
        version=row.version,
        link=row.link,
        comment=row.comment,
        announced=row.announced,
        listed_at=row.listed_at,
        tldr=row.tldr,
        tldr_source=row.tldr_source,
    )


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        user_name=row.user_name,
        message_id=row.message_id,
        digest_day=row.digest_day,
        status=row.status,
        paper_count=row.paper_count,
        created_at=row.created_at,
        sent_at=row.sent_at,
        attempts=row.attempts,
        last_error=row.last_error,
        receipt=row.receipt,
        message=bytes(row.message),
        last_attempt_at=row.last_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def _tldr_rank(source: str | None) -> int:
    """Whose TL;DR a paper keeps: the authors' own (OpenReview) over a generated one."""
    return {None: 0, "OpenReview": 2}.get(source, 1)


def _merge(old: StoredPaper, new: SourcePaper) -> dict[str, Any]:
    """What to change in a stored paper given a new sighting: never replace with less."""
    changes: dict[str, Any] = {}
    newer = (new.version or 0) >= (old.version or 0)
    if new.title and (newer or not old.title) and new.title != old.title:
        changes["title"] = new.title
    if new.abstract and (newer or not old.abstract) and new.abstract != old.abstract:
        changes["abstract"] = new.abstract
    if new.authors and (newer or not old.authors) and tuple(new.authors) != old.authors:
        changes["authors"] = list(new.authors)
    merged = list(old.categories) + [c for c in new.categories if c not in old.categories]
    if merged != list(old.categories):
        changes["categories"] = merged
    if new.version and (old.version or 0) < new.version:
        changes["version"] = new.version
    if new.link and not old.link:
        changes["link"] = new.link
    if new.comment and (newer or not old.comment) and new.comment != old.comment:
        changes["comment"] = new.comment
    if new.announced and (old.announced is None or new.announced < old.announced):
        changes["announced"] = new.announced
    if (
        new.tldr
        and (new.tldr, new.tldr_source) != (old.tldr, old.tldr_source)
        and _tldr_rank(new.tldr_source) >= _tldr_rank(old.tldr_source if old.tldr else None)
    ):
        changes["tldr"] = new.tldr
        changes["tldr_source"] = new.tldr_source
    return changes


class Storage:
    """The database, opened from a SQLAlchemy URL. The one place that speaks SQL."""

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._now = now

    @classmethod
    def open(cls, url: str, *, now: Callable[[], datetime] = utcnow) -> Storage:
        """Connect and create missing tables; StorageError if the database is unusable."""
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
                kwargs["connect_args"]["check_same_thread"] = False
        try:
            engine = create_engine(url, **kwargs)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "begin", _sqlite_begin)
            _migrate(engine)
        except (SQLAlchemyError, ImportError) as e:
            raise StorageError(f"cannot open database {_redact(url)}: {e}") from e
        return cls(engine, now=now)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction (on SQLite: BEGIN IMMEDIATE, the writer lock up front)."""
        with self.engine.connect() as conn:
            conn.execution_options(paperboy_write=True)
            with conn.begin():
                yield conn

    # --- papers -------------------------------------------------------------------------

    def upsert_papers(
        self, items: Iterable[SourcePaper], *, source: str, listed: bool
    ) -> UpsertResult:
        """Insert new papers, merge what is new into known ones (one transaction).

        `listed` marks a sighting in an announcement listing: such papers become digest
        candidates. A paper seen twice (two categories, two versions, two sources) stays
        one row; nothing stored is replaced by an empty or older value.
        """
        try:
            with self._tx() as conn:
                return self._upsert_papers(conn, items, source=source, listed=listed)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store papers from {source}: {e}") from e

    def store_trending(
        self, items: Iterable[SourcePaper], entries: Iterable[TrendingEntry], *, source: str
    ) -> UpsertResult:
        """Store trending papers (as listed papers) and their popularity in one transaction:
        a crash or an error leaves neither, never papers without their numbers."""
        try:
            with self._tx() as conn:
                result = self._upsert_papers(conn, items, source=source, listed=True)
                self._record_trending(conn, entries)
                return result
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store trending papers from {source}: {e}") from e

    def _upsert_papers(
        self, conn: Connection, items: Iterable[SourcePaper], *, source: str, listed: bool
    ) -> UpsertResult:
        now = self._now()
        by_id: dict[str, SourcePaper] = {}
        for item in items:
            by_id[item.id] = item  # the last sighting of an id within one batch wins
        new = updated = unchanged = 0
        existing = self._papers(conn, list(by_id))
        seen = (
            {
                row.paper_id
                for row in conn.execute(
                    select(paper_sources.c.paper_id).where(
                        paper_sources.c.source == source,
                        paper_sources.c.paper_id.in_(list(by_id)),
                    )
                )
            }
            if by_id
            else set()
        )
        inserts = []
        for pid, item in by_id.items():
            old = existing.get(pid)
            if old is None:
                inserts.append(
                    {
                        "id": pid,
                        "title": item.title,
                        "abstract": item.abstract,
                        "authors": list(item.authors),
                        "categories": list(item.categories),
                        "version": item.version,
                        "link": item.link,
                        "comment": item.comment,
                        "announced": item.announced,
                        "listed_at": now if listed else None,
                        "created_at": now,
                        "updated_at": now,
                        "tldr": item.tldr,
                        "tldr_source": item.tldr_source if item.tldr else None,
                    }
                )
                new += 1
                continue
            changes = _merge(old, item)
            if listed and old.listed_at is None:
                changes["listed_at"] = now
            if changes:
                changes["updated_at"] = now
                conn.execute(update(papers).where(papers.c.id == pid).values(**changes))
                updated += 1
            else:
                unchanged += 1
        if inserts:
            conn.execute(insert(papers), inserts)
        source_rows = [
            {
                "paper_id": pid,
                "source": source,
                "announce_type": item.announce_type,
                "first_seen": now,
            }
            for pid, item in by_id.items()
            if pid not in seen
        ]
        if source_rows:
            conn.execute(insert(paper_sources), source_rows)
        return UpsertResult(new, updated, unchanged)

    @staticmethod
    def _papers(conn: Connection, ids: Sequence[str]) -> dict[str, StoredPaper]:
        found: dict[str, StoredPaper] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                found[row.id] = _paper(row)
        return found

    def get_papers(self, ids: Sequence[str]) -> dict[str, StoredPaper]:
        """The stored papers among `ids`, keyed by id."""
        with self.engine.connect() as conn:
            return self._papers(conn, list(ids))

    def count_papers(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def listed_papers(
        self,
        *,
        after: datetime | None = None,
        since: date | None = None,
        exclude_user: str | None = None,
    ) -> list[StoredPaper]:
        """Papers from listings: listed after `after`, announced on/after `since`, and
        (with `exclude_user`) not yet mailed to that user in a pending or sent digest."""
        query = select(papers).where(papers.c.listed_at.is_not(None))
        if after is not None:
            query = query.where(papers.c.listed_at > after)
        if since is not None:
            query = query.where(papers.c.announced >= since)
        if exclude_user is not None:
            mailed = select(ledger.c.paper_id).where(
                ledger.c.user_name == exclude_user, ledger.c.released_at.is_(None)
            )
            query = query.where(papers.c.id.not_in(mailed))
        with self.engine.connect() as conn:
            return [_paper(row) for row in conn.execute(query.order_by(papers.c.id))]

    def listing_stamp(self, *, after: datetime | None) -> tuple[int, Any, Any]:
        """(count, newest listed_at, newest updated_at) of the papers listed after
        `after`: cheap (the listed_at index), and it changes whenever that set of papers
        or any of them does, so a copy read earlier can be checked before it is reused."""
        query = select(
            func.count(), func.max(papers.c.listed_at), func.max(papers.c.updated_at)
        ).where(papers.c.listed_at.is_not(None))
        if after is not None:
            query = query.where(papers.c.listed_at > after)
        with self.engine.connect() as conn:
            count, listed, updated = conn.execute(query).one()
        return int(count), listed, updated

    def listed_ids(self, *, after: datetime) -> set[str]:
        """Ids of the papers first listed after `after` (cheap: ids only)."""
        query = select(papers.c.id).where(papers.c.listed_at > after)
        with self.engine.connect() as conn:
            return {row.id for row in conn.execute(query)}

    def recent_papers(self, limit: int) -> list[StoredPaper]:
        """The `limit` most recently stored papers (newest first): the corpus to index."""
        query = select(papers).order_by(papers.c.created_at.desc(), papers.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_paper(row) for row in conn.execute(query)]

    def returned_papers(self, user_name: str) -> list[StoredPaper]:
        """Papers of this user's failed digests that no later digest carried: not lost."""
        released = select(ledger.c.paper_id).where(
            ledger.c.user_name == user_name, ledger.c.released_at.is_not(None)
        )
        live = select(ledger.c.paper_id).where(
            ledger.c.user_name == user_name, ledger.c.released_at.is_(None)
        )
        query = select(papers).where(papers.c.id.in_(released), papers.c.id.not_in(live))
        with self.engine.connect() as conn:
            return [_paper(row) for row in conn.execute(query.order_by(papers.c.id))]

    def sample_papers(self, n: int, *, exclude: set[str], seed: int = 0) -> list[StoredPaper]:
        """Up to n stored papers chosen at random (fixed seed), for the ranker's negatives."""
        with self.engine.connect() as conn:
            ids = [row.id for row in conn.execute(select(papers.c.id).order_by(papers.c.id))]
            pool = [i for i in ids if i not in exclude]
            chosen = random.Random(seed).sample(pool, min(n, len(pool)))
            return list(self._papers(conn, chosen).values())

    def newest_listing(self) -> datetime | None:
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(select(func.max(papers.c.listed_at))).scalar()
            return UTCDateTime().process_result_value(value, self.engine.dialect)

    # --- sources ------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).first()
        return SourceState(**row._mapping) if row else None

    def all_sources(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.name)).all()
        return [SourceState(**row._mapping) for row in rows]

    def record_fetch(
        self,
        name: str,
        *,
        url: str | None,
        error: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        count: int | None = None,
        new: int | None = None,
    ) -> None:
        """Remember a fetch attempt: its error, or its success and caching headers."""
        now = self._now()
        values: dict[str, Any] = {"url": url, "last_attempt_at": now, "last_error": error}
        if error is None:
            values.update(last_success_at=now, last_count=count, last_new=new)
            if etag is not None or last_modified is not None:
                values.update(etag=etag, last_modified=last_modified)
        with self._tx() as conn:
            done = conn.execute(update(sources).where(sources.c.name == name).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(sources).values(name=name, **values))

    # --- popularity ---------------------------------------------------------------------

    def record_trending(self, entries: Iterable[TrendingEntry]) -> int:
        """Store papers' popularity per (paper, day, source); returns the rows written.

        Fetching the same day again replaces its numbers (upvotes grow during the day).
        The papers must be stored first (upsert_papers), as for any row about a paper.
        """
        try:
            with self._tx() as conn:
                return self._record_trending(conn, entries)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store trending papers: {e}") from e

    def _record_trending(self, conn: Connection, entries: Iterable[TrendingEntry]) -> int:
        rows = {(e.paper_id, e.day, e.source): e for e in entries}
        if not rows:
            return 0
        now = self._now()
        existing = {
            (row.paper_id, row.day, row.source)
            for row in conn.execute(
                select(trending.c.paper_id, trending.c.day, trending.c.source).where(
                    trending.c.day.in_({key[1] for key in rows}),
                    trending.c.source.in_({key[2] for key in rows}),
                )
            )
        }
        inserts = []
        for key, entry in rows.items():
            values = {
                "upvotes": entry.upvotes,
                "comments": entry.comments,
                "rank": entry.rank,
                "recorded_at": now,
            }
            if key in existing:
                conn.execute(
                    update(trending)
                    .where(
                        trending.c.paper_id == key[0],
                        trending.c.day == key[1],
                        trending.c.source == key[2],
                    )
                    .values(**values)
                )
            else:
                inserts.append({"paper_id": key[0], "day": key[1], "source": key[2], **values})
        if inserts:
            conn.execute(insert(trending), inserts)
        return len(rows)

    def trending(
        self,
        *,
        day: date | None = None,
        since: date | None = None,
        limit: int | None = None,
        source: str | None = None,
    ) -> list[TrendingEntry]:
        """The most popular papers of ``day``, or of every day since ``since``; with
        neither, of the latest day recorded. Each paper once (its best showing), most
        upvoted first, then most commented, then best ranked."""
        query = select(trending)
        if source is not None:
            query = query.where(trending.c.source == source)
        with self.engine.connect() as conn:
            if day is None and since is None:
                latest = select(func.max(trending.c.day))
                if source is not None:
                    latest = latest.where(trending.c.source == source)
                day = conn.execute(latest).scalar()
                if day is None:
                    return []
            if day is not None:
                query = query.where(trending.c.day == day)
            if since is not None:
                query = query.where(trending.c.day >= since)
            rows = [
                TrendingEntry(
                    row.paper_id, row.day, row.source, row.upvotes, row.comments, row.rank
                )
                for row in conn.execute(query)
            ]
        rows.sort(key=_trending_order)
        best: dict[str, TrendingEntry] = {}
        for entry in rows:
            best.setdefault(entry.paper_id, entry)
        ranked = list(best.values())
        return ranked[:limit] if limit is not None else ranked

    # --- users, deliveries and the ledger -----------------------------------------------

    def user_state(self, name: str) -> UserState:
        with self.engine.connect() as conn:
            row = conn.execute(select(user_state).where(user_state.c.user_name == name)).first()
        if row is None:
            return UserState(name, None, None)
        return _user_state(row)

    def set_unsubscribed(
        self, user_name: str, unsubscribed: bool, *, at: datetime | None = None
    ) -> bool:
        """Stop (or restart) a user's digests; True if that changed anything. Unsubscribing
        twice keeps the first time; re-subscribing also ends a pause."""
        with self._tx() as conn:
            row = conn.execute(
                select(user_state.c.unsubscribed_at, user_state.c.paused_until).where(
                    user_state.c.user_name == user_name
                )
            ).first()
            was = row is not None and row.unsubscribed_at is not None
            if unsubscribed:
                if was:
                    return False
                self._set_user_state(conn, user_name, {"unsubscribed_at": at or self._now()})
                return True
            paused = row is not None and row.paused_until is not None
            if not was and not paused:
                return False
            self._set_user_state(conn, user_name, {"unsubscribed_at": None, "paused_until": None})
            return True

    def set_paused_until(self, user_name: str, until: datetime | None) -> None:
        """Pause a user's digests until `until` (None: resume now)."""
        with self._tx() as conn:
            self._set_user_state(conn, user_name, {"paused_until": until})

    def user_states(self) -> dict[str, UserState]:
        """Every user's state in one query (`paperboy status` with 10,000 users)."""
        with self.engine.connect() as conn:
            return {row.user_name: _user_state(row) for row in conn.execute(select(user_state))}

    def record_empty_digest(
        self,
        user_name: str,
        listed_through: datetime | None,
        *,
        at: datetime | None = None,
        claim: Claim | None = None,
        built_on: UserState | None = None,
    ) -> None:
        """A due digest had nothing worth sending: move the user's window on.

        With `claim` and `built_on`, as create_delivery: ClaimLost if either moved on."""
        try:
            with self._tx() as conn:
                if claim is not None:
                    self._complete_claim(conn, claim, "empty", None)
                values: dict[str, Any] = {"last_digest_at": at or self._now()}
                if listed_through is not None:
                    values["listed_through"] = listed_through
                self._set_user_state(conn, user_name, values, built_on)
        except IntegrityError as e:
            raise ClaimLost(f"{user_name}: another runner recorded a digest first") from e

    def create_delivery(
        self,
        *,
        user_name: str,
        message_id: str,
        digest_day: date,
        message: bytes,
        paper_ids: Sequence[str],
        listed_through: datetime | None,
        at: datetime | None = None,
        claim: Claim | None = None,
        built_on: UserState | None = None,
        lease: timedelta | None = None,
    ) -> int:
        """Record a digest as pending, with its papers in the ledger, before it is sent.

        One transaction: either the digest is recorded with all its papers and the
        user's window moves on, or nothing changed. `at` is the digest's time (default:
        now). With `claim`, the claim must still be ours (it becomes done); with
        `built_on`, the user's state must still be the one the digest was built from;
        a paper already in a live digest of this user is refused too: ClaimLost, and
        nothing is recorded. The new delivery is leased to the claim's owner for `lease`.
        """
        now = at or self._now()
        owner = claim.owner if claim is not None else None
        lease_until = self._now() + lease if lease is not None and owner is not None else None
        wanted = list(dict.fromkeys(paper_ids))
        try:
            with self._tx() as conn:
                result = conn.execute(
                    insert(deliveries).values(
                        user_name=user_name,
                        message_id=message_id,
                        digest_day=digest_day,
                        status=PENDING,
                        paper_count=len(wanted),
                        created_at=now,
                        attempts=0,
                        message=message,
                        lease_owner=owner if lease_until is not None else None,
                        lease_expires_at=lease_until,
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                delivery_id = int(key[0])
                if claim is not None:
                    self._complete_claim(conn, claim, "recorded", delivery_id)
                values: dict[str, Any] = {"last_digest_at": now}
                if listed_through is not None:
                    values["listed_through"] = listed_through
                self._set_user_state(conn, user_name, values, built_on)
                promised = [
                    row.paper_id
                    for row in conn.execute(
                        select(ledger.c.paper_id).where(
                            ledger.c.user_name == user_name,
                            ledger.c.paper_id.in_(wanted),
                            ledger.c.released_at.is_(None),
                        )
                    )
                ]
                if promised:
                    raise ClaimLost(
                        f"{user_name}: {len(promised)} paper(s) are already in another "
                        f"digest ({', '.join(promised[:3])})"
                    )
                if wanted:
                    conn.execute(
                        insert(ledger),
                        [
                            {"user_name": user_name, "paper_id": p, "delivery_id": delivery_id}
                            for p in wanted
                        ],
                    )
        except ClaimLost:
            raise
        except IntegrityError as e:
            if "message_id" in str(e):
                raise StorageError(f"cannot record the digest for {user_name}: {e}") from e
            raise ClaimLost(f"{user_name}: another runner recorded a digest first") from e
        except SQLAlchemyError as e:
            raise StorageError(f"cannot record the digest for {user_name}: {e}") from e
        return delivery_id

    def _set_user_state(
        self,
        conn: Connection,
        name: str,
        values: dict[str, Any],
        built_on: UserState | None = None,
    ) -> None:
        """Write a user's state; with `built_on`, only if it is still that (else ClaimLost).

        The compare-and-set is one UPDATE ... WHERE last_digest_at = <what it was>: atomic
        under any isolation level; a first digest inserts the row, and two first digests
        collide on its primary key.
        """
        query = update(user_state).where(user_state.c.user_name == name)
        if built_on is not None:
            last = built_on.last_digest_at
            query = query.where(
                user_state.c.last_digest_at == last
                if last is not None
                else user_state.c.last_digest_at.is_(None)
            )
        done = conn.execute(query.values(**values))
        if done.rowcount:
            return
        if built_on is not None and built_on.last_digest_at is not None:
            raise ClaimLost(f"{name}: another runner recorded a digest first")
        exists = conn.execute(
            select(user_state.c.user_name).where(user_state.c.user_name == name)
        ).first()
        if exists is not None:
            raise ClaimLost(f"{name}: another runner recorded a digest first")
        conn.execute(insert(user_state).values(user_name=name, **values))

    # --- claims: who builds a digest, and who sends a pending one ----------------------

    def _insert_ignore(self, table: Table, keys: list[str], values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT (keys) DO NOTHING, in this database's dialect."""
        dialect = self.engine.dialect.name
        module: Any = pg_dialect if dialect == "postgresql" else sqlite_dialect
        if dialect not in ("postgresql", "sqlite"):
            raise StorageError(f"claims need PostgreSQL or SQLite, not {dialect}")
        return module.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)

    def claim_digest(
        self,
        user_name: str,
        slot: str,
        owner: str,
        lease: timedelta,
        *,
        gone: Callable[[str], bool] = lambda _owner: False,
    ) -> Claim | None:
        """Claim the digest (user, slot) for `owner` until now + `lease`, or None.

        None when another runner holds a live claim on it, or it is done. A claim whose
        lease expired, or whose owner `gone` says is dead (a process of this machine
        that no longer exists: kill -9), is taken over: one atomic UPDATE ... WHERE
        expires_at < now (or owner = the dead one), so of two runners arriving at once
        exactly one gets it.
        """
        now = self._now()
        until = now + lease
        with self._tx() as conn:
            # RETURNING, not rowcount: psycopg reports no rowcount for ON CONFLICT.
            got = conn.execute(
                self._insert_ignore(
                    digest_claims,
                    ["user_name", "slot"],
                    {
                        "user_name": user_name,
                        "slot": slot,
                        "owner": owner,
                        "state": CLAIMED,
                        "claimed_at": now,
                        "expires_at": until,
                        "takeovers": 0,
                    },
                ).returning(digest_claims.c.user_name)
            ).first()
            if got is not None:
                return Claim(user_name, slot, owner, until)
            holder = conn.execute(
                select(digest_claims.c.owner).where(
                    digest_claims.c.user_name == user_name,
                    digest_claims.c.slot == slot,
                    digest_claims.c.state == CLAIMED,
                )
            ).scalar()
            dead = holder is not None and holder != owner and gone(holder)
            taken = conn.execute(
                update(digest_claims)
                .where(
                    digest_claims.c.user_name == user_name,
                    digest_claims.c.slot == slot,
                    digest_claims.c.state == CLAIMED,
                    (digest_claims.c.expires_at < now)
                    | (digest_claims.c.owner == (holder if dead else None)),
                )
                .values(
                    owner=owner,
                    claimed_at=now,
                    expires_at=until,
                    takeovers=digest_claims.c.takeovers + 1,
                )
            )
            if taken.rowcount == 1:
                return Claim(user_name, slot, owner, until, taken_over=True)
        return None

    def _complete_claim(
        self, conn: Connection, claim: Claim, outcome: str, delivery_id: int | None
    ) -> None:
        done = conn.execute(
            update(digest_claims)
            .where(
                digest_claims.c.user_name == claim.user_name,
                digest_claims.c.slot == claim.slot,
                digest_claims.c.owner == claim.owner,
                digest_claims.c.state == CLAIMED,
            )
            .values(state=DONE, outcome=outcome, delivery_id=delivery_id, finished_at=self._now())
        )
        if done.rowcount != 1:
            raise ClaimLost(
                f"{claim.user_name}: the claim on digest {claim.slot} was taken over "
                "by another runner"
            )

    def finish_claim(self, claim: Claim, outcome: str = "superseded") -> bool:
        """Close a claim without recording a digest (someone else served this slot)."""
        with self._tx() as conn:
            try:
                self._complete_claim(conn, claim, outcome, None)
            except ClaimLost:
                return False
        return True

    def release_claim(self, claim: Claim) -> None:
        """Give a claim up now (this runner will not build it): the next runner takes it
        over at once instead of waiting for the lease."""
        with self._tx() as conn:
            conn.execute(
                update(digest_claims)
                .where(
                    digest_claims.c.user_name == claim.user_name,
                    digest_claims.c.slot == claim.slot,
                    digest_claims.c.owner == claim.owner,
                    digest_claims.c.state == CLAIMED,
                )
                .values(expires_at=self._now() - timedelta(seconds=1))
            )

    def claims(self, user_name: str | None = None) -> list[dict[str, Any]]:
        """Every claim (or one user's), oldest first: for `paperboy status` and tests."""
        query = select(digest_claims).order_by(digest_claims.c.claimed_at)
        if user_name is not None:
            query = query.where(digest_claims.c.user_name == user_name)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def take_delivery(
        self,
        delivery_id: int,
        owner: str,
        lease: timedelta,
        *,
        gone: Callable[[str], bool] = lambda _owner: False,
    ) -> bool:
        """Lease a pending delivery to `owner` for sending; False if someone else holds
        a live lease on it or it is no longer pending. Renews the owner's own lease; takes
        over an expired lease or one whose owner `gone` says is dead (see claim_digest)."""
        now = self._now()
        with self._tx() as conn:
            holder = conn.execute(
                select(deliveries.c.lease_owner).where(deliveries.c.id == delivery_id)
            ).scalar()
            dead = holder is not None and holder != owner and gone(holder)
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == PENDING,
                    (deliveries.c.lease_owner.is_(None))
                    | (deliveries.c.lease_owner == owner)
                    | (deliveries.c.lease_owner == (holder if dead else None))
                    | (deliveries.c.lease_expires_at < now),
                )
                .values(lease_owner=owner, lease_expires_at=now + lease)
            )
        return bool(done.rowcount == 1)

    def release_delivery(self, delivery_id: int, owner: str) -> None:
        """Give up the lease on a pending delivery (this runner is not sending it)."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def mark_sent(self, delivery_id: int, receipt: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=SENT,
                    sent_at=self._now(),
                    last_attempt_at=self._now(),
                    receipt=receipt,
                    last_error=None,
                    attempts=deliveries.c.attempts + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )

    def mark_attempt_failed(
        self, delivery_id: int, error: str, *, permanent: bool, at: datetime | None = None
    ) -> None:
        """A send failed: a temporary failure stays pending (retried later, with backoff);
        a permanent one is `failed`, and its papers are released to the user's next
        digest (their ledger rows stay, marked released)."""
        when = at or self._now()
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=FAILED if permanent else PENDING,
                    last_error=error,
                    attempts=deliveries.c.attempts + 1,
                    last_attempt_at=when,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            if permanent:
                conn.execute(
                    update(ledger)
                    .where(ledger.c.delivery_id == delivery_id, ledger.c.released_at.is_(None))
                    .values(released_at=when)
                )

    def deliveries(
        self, *, user_name: str | None = None, status: str | None = None
    ) -> list[Delivery]:
        query = select(deliveries).order_by(deliveries.c.id)
        if user_name is not None:
            query = query.where(deliveries.c.user_name == user_name)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def delivery_summaries(self) -> dict[str, DeliverySummary]:
        """Every user's deliveries counted by status, and their last send, in one query.

        For `paperboy status`: `deliveries()` reads each message (a digest is tens of
        kilobytes), this reads four small columns' aggregates and never a message.
        """
        query = select(
            deliveries.c.user_name,
            deliveries.c.status,
            func.count().label("n"),
            func.max(deliveries.c.sent_at).label("last_sent_at"),
        ).group_by(deliveries.c.user_name, deliveries.c.status)
        counts: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                user = counts.setdefault(row.user_name, {"user_name": row.user_name})
                if row.status in (PENDING, FAILED, SENT):
                    user[row.status] = row.n
                if row.status == SENT:
                    user["last_sent_at"] = row.last_sent_at
        return {name: DeliverySummary(**values) for name, values in counts.items()}

    def mailed_ids(self, user_name: str) -> set[str]:
        """Papers in this user's sent or pending digests (never to be mailed again)."""
        query = select(ledger.c.paper_id).where(
            ledger.c.user_name == user_name, ledger.c.released_at.is_(None)
        )
        with self.engine.connect() as conn:
            return {row.paper_id for row in conn.execute(query)}

    # --- users' libraries (papers without an arXiv id, from BibTeX) --------------------

    def add_to_library(self, user_name: str, paper_ids: Sequence[str]) -> int:
        """Put stored papers into a user's library; returns how many were not there yet."""
        now = self._now()
        wanted = list(dict.fromkeys(paper_ids))
        try:
            with self._tx() as conn:
                have = {
                    row.paper_id
                    for row in conn.execute(
                        select(library.c.paper_id).where(library.c.user_name == user_name)
                    )
                }
                rows = [
                    {"user_name": user_name, "paper_id": pid, "added_at": now}
                    for pid in wanted
                    if pid not in have
                ]
                if rows:
                    conn.execute(insert(library), rows)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot add to the library of {user_name}: {e}") from e
        return len(rows)

    def library_ids(self, user_name: str) -> list[str]:
        """The ids in a user's library, in the order they were added."""
        query = (
            select(library.c.paper_id)
            .where(library.c.user_name == user_name)
            .order_by(library.c.added_at, library.c.paper_id)
        )
        with self.engine.connect() as conn:
            return [row.paper_id for row in conn.execute(query)]

    def library_papers(self, user_name: str) -> list[StoredPaper]:
        """The stored papers of a user's library (for the ranker, as more saved papers)."""
        ids = self.library_ids(user_name)
        with self.engine.connect() as conn:
            found = self._papers(conn, ids)
        return [found[pid] for pid in ids if pid in found]

    # --- Zotero libraries followed live (issue #15) -------------------------------------

    def zotero_state(self, user_name: str) -> ZoteroState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(zotero_sync).where(zotero_sync.c.user_name == user_name)
            ).first()
        return ZoteroState(**row._mapping) if row else None

    def zotero_paper_ids(self, user_name: str) -> list[str]:
        """The canonical ids of the papers in a user's synced Zotero library (sorted)."""
        query = (
            select(zotero_items.c.paper_id)
            .where(zotero_items.c.user_name == user_name)
            .distinct()
            .order_by(zotero_items.c.paper_id)
        )
        with self.engine.connect() as conn:
            return [row.paper_id for row in conn.execute(query)]

    def zotero_items(self, user_name: str) -> dict[str, str]:
        """A user's synced Zotero items: item key -> canonical paper id."""
        query = select(zotero_items.c.item_key, zotero_items.c.paper_id).where(
            zotero_items.c.user_name == user_name
        )
        with self.engine.connect() as conn:
            return {row.item_key: row.paper_id for row in conn.execute(query)}

    def apply_zotero_sync(
        self,
        user_name: str,
        *,
        library: str,
        version: int,
        scope: str,
        papers: Sequence[SourcePaper],
        items: dict[str, tuple[str, int]],
        removed: Iterable[str],
        full: bool,
    ) -> ZoteroChange:
        """Apply one complete sync in one transaction: store the papers, put ``items``
        (key -> (paper id, version)) into the synced set, take ``removed`` keys out (with
        ``full``, every key not in ``items``), and move the synced version on.

        A failure leaves the set and the version as they were: never half a sync.
        """
        now = self._now()
        try:
            with self._tx() as conn:
                if papers:
                    self._upsert_papers(conn, papers, source="zotero", listed=False)
                where = zotero_items.c.user_name == user_name
                before = {
                    row.item_key: row.paper_id
                    for row in conn.execute(
                        select(zotero_items.c.item_key, zotero_items.c.paper_id).where(where)
                    )
                }
                gone = set(before) - set(items) if full else set(removed) - set(items)
                gone &= set(before)
                keys = list(gone | (set(items) & set(before)))
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    conn.execute(
                        delete(zotero_items).where(where, zotero_items.c.item_key.in_(chunk))
                    )
                rows = [
                    {
                        "user_name": user_name,
                        "item_key": key,
                        "paper_id": pid,
                        "version": item_version,
                        "synced_at": now,
                    }
                    for key, (pid, item_version) in items.items()
                ]
                if rows:
                    conn.execute(insert(zotero_items), rows)
                after = {**{k: v for k, v in before.items() if k not in gone}}
                after.update({key: pid for key, (pid, _v) in items.items()})
                old_ids, new_ids = set(before.values()), set(after.values())
                values: dict[str, Any] = {
                    "library": library,
                    "version": version,
                    "scope": scope,
                    "item_count": len(after),
                    "last_attempt_at": now,
                    "last_success_at": now,
                    "last_error": None,
                    "retry_after": None,
                }
                self._set_zotero_state(conn, user_name, values)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store the Zotero library of {user_name}: {e}") from e
        return ZoteroChange(len(new_ids - old_ids), len(old_ids - new_ids), len(new_ids))

    def record_zotero_attempt(
        self,
        user_name: str,
        *,
        library: str,
        error: str | None,
        retry_after: datetime | None = None,
    ) -> None:
        """A sync that changed nothing: unchanged (error None) or failed (the synced set
        and version stay as they were)."""
        now = self._now()
        values: dict[str, Any] = {
            "library": library,
            "last_attempt_at": now,
            "last_error": error,
            "retry_after": retry_after,
        }
        if error is None:
            values["last_success_at"] = now
        with self._tx() as conn:
            self._set_zotero_state(conn, user_name, values)

    @staticmethod
    def _set_zotero_state(conn: Connection, user_name: str, values: dict[str, Any]) -> None:
        done = conn.execute(
            update(zotero_sync).where(zotero_sync.c.user_name == user_name).values(**values)
        )
        if done.rowcount == 0:
            conn.execute(insert(zotero_sync).values(user_name=user_name, **values))

    # --- OpenReview venues (issue #15) --------------------------------------------------

    def venue_state(self, venue: str, status: str) -> VenueState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(venues).where(venues.c.venue == venue, venues.c.status == status)
            ).first()
        return VenueState(**row._mapping) if row else None

    def venue_entries(self, venue: str, status: str) -> list[VenueEntry]:
        query = (
            select(venue_papers)
            .where(venue_papers.c.venue == venue, venue_papers.c.status == status)
            .order_by(venue_papers.c.note_id)
        )
        with self.engine.connect() as conn:
            return [
                VenueEntry(row.note_id, row.paper_id, row.label, row.tmdate)
                for row in conn.execute(query)
            ]

    def store_venue(
        self,
        venue: str,
        status: str,
        *,
        papers: Sequence[SourcePaper],
        entries: Sequence[VenueEntry],
        removed: Iterable[str],
        full: bool,
        max_tmdate: int | None,
        listed: bool = False,
    ) -> UpsertResult:
        """Store a venue's papers and its list in one transaction. ``entries`` replace
        the notes of the same id; ``removed`` notes (withdrawn) leave; with ``full`` the
        list becomes exactly ``entries``."""
        now = self._now()
        try:
            with self._tx() as conn:
                result = self._upsert_papers(
                    conn, papers, source=f"openreview:{venue}", listed=listed
                )
                where = (venue_papers.c.venue == venue, venue_papers.c.status == status)
                if full:
                    conn.execute(delete(venue_papers).where(*where))
                else:
                    drop = list({*removed, *(e.note_id for e in entries)})
                    for start in range(0, len(drop), 500):
                        conn.execute(
                            delete(venue_papers).where(
                                *where, venue_papers.c.note_id.in_(drop[start : start + 500])
                            )
                        )
                rows = {
                    e.note_id: {
                        "venue": venue,
                        "status": status,
                        "note_id": e.note_id,
                        "paper_id": e.paper_id,
                        "label": e.label,
                        "tmdate": e.tmdate,
                    }
                    for e in entries
                }
                if rows:
                    conn.execute(insert(venue_papers), list(rows.values()))
                count = conn.execute(
                    select(func.count()).select_from(venue_papers).where(*where)
                ).scalar_one()
                values: dict[str, Any] = {
                    "fetched_at": now,
                    "paper_count": int(count),
                    "last_attempt_at": now,
                    "last_error": None,
                }
                if max_tmdate is not None:
                    values["max_tmdate"] = max_tmdate
                self._set_venue_state(conn, venue, status, values)
                return result
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store the papers of {venue}: {e}") from e

    def record_venue_error(self, venue: str, status: str, error: str) -> None:
        with self._tx() as conn:
            self._set_venue_state(
                conn, venue, status, {"last_attempt_at": self._now(), "last_error": error}
            )

    @staticmethod
    def _set_venue_state(conn: Connection, venue: str, status: str, values: dict[str, Any]) -> None:
        done = conn.execute(
            update(venues)
            .where(venues.c.venue == venue, venues.c.status == status)
            .values(**values)
        )
        if done.rowcount == 0:
            conn.execute(insert(venues).values(venue=venue, status=status, **values))

    def papers_by_title(self, keys: Iterable[str]) -> dict[str, list[StoredPaper]]:
        """Stored papers whose normalised title (jobs.ids.normalised_title) is in ``keys``.

        Titles are folded in Python, so this reads every title once: for matching a
        venue's papers to arXiv's (thousands), not for a hot path.
        """
        from paperboy.jobs.core.ids import normalised_title

        wanted = set(keys)
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(papers.c.id, papers.c.title)):
                key = normalised_title(row.title or "")
                if key in wanted:
                    found.setdefault(key, []).append(row.id)
            stored = self._papers(conn, [pid for ids in found.values() for pid in ids])
        return {key: [stored[pid] for pid in ids if pid in stored] for key, ids in found.items()}

    # --- the ranker's index: generations, and the file itself for other machines ---------

    def record_index_generation(
        self,
        *,
        build_id: str,
        built_at: datetime,
        papers: int,
        path: Path,
        builder: str,
        store: bool,
        keep: int = 2,
    ) -> IndexGeneration:
        """Record a new index file (at `path`, already written) as the newest generation;
        with `store`, copy its bytes into the database, chunk by chunk, in the same
        transaction: other machines see the whole generation or none of it. The bytes of
        all but the newest `keep` stored generations are deleted (their rows stay)."""
        digest = hashlib.sha256()
        try:
            with self._tx() as conn:
                generation = conn.execute(
                    insert(index_generations)
                    .values(
                        build_id=build_id,
                        built_at=built_at,
                        papers=papers,
                        size=0,
                        sha256="",
                        stored=int(store),
                        builder=builder,
                    )
                    .returning(index_generations.c.generation)
                ).scalar_one()
                size = 0
                with path.open("rb") as f:
                    for seq, chunk in enumerate(iter(lambda: f.read(INDEX_CHUNK_BYTES), b"")):
                        digest.update(chunk)
                        size += len(chunk)
                        if store:
                            conn.execute(
                                insert(index_chunks).values(
                                    generation=generation, seq=seq, data=chunk
                                )
                            )
                conn.execute(
                    update(index_generations)
                    .where(index_generations.c.generation == generation)
                    .values(size=size, sha256=digest.hexdigest())
                )
                if store:
                    self._prune_index_chunks(conn, keep)
        except OSError as e:
            raise StorageError(f"cannot read the index {path} to record it: {e}") from e
        except SQLAlchemyError as e:
            raise StorageError(f"cannot record the index generation: {e}") from e
        newest = self.newest_index_generation()
        assert newest is not None
        return newest

    def _prune_index_chunks(self, conn: Connection, keep: int) -> None:
        kept = (
            select(index_generations.c.generation)
            .where(index_generations.c.stored == 1)
            .order_by(index_generations.c.generation.desc())
            .limit(keep)
        )
        old = [
            g
            for (g,) in conn.execute(
                select(index_generations.c.generation).where(
                    index_generations.c.stored == 1,
                    index_generations.c.generation.not_in(kept.scalar_subquery()),
                )
            )
        ]
        if old:
            conn.execute(delete(index_chunks).where(index_chunks.c.generation.in_(old)))
            conn.execute(
                update(index_generations)
                .where(index_generations.c.generation.in_(old))
                .values(stored=0)
            )

    def newest_index_generation(self) -> IndexGeneration | None:
        """The newest recorded index (one small query: workers ask before each digest)."""
        query = select(index_generations).order_by(index_generations.c.generation.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _index_generation(row) if row is not None else None

    def index_generation(self, build_id: str) -> IndexGeneration | None:
        """The recorded generation whose file header carries `build_id`, if any."""
        query = select(index_generations).where(index_generations.c.build_id == build_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _index_generation(row) if row is not None else None

    def read_index_chunks(self, generation: int) -> Iterator[bytes]:
        """The stored bytes of `generation`, chunk by chunk (one query each: memory holds
        one chunk at a time); StorageError if they are not (or no longer) stored."""
        seq = 0
        while True:
            query = select(index_chunks.c.data).where(
                index_chunks.c.generation == generation, index_chunks.c.seq == seq
            )
            with self.engine.connect() as conn:
                data = conn.execute(query).scalar_one_or_none()
            if data is None:
                if seq == 0:
                    raise StorageError(f"index generation {generation} is not in the database")
                return
            yield bytes(data)
            seq += 1

    # --- embeddings (issue 11) ----------------------------------------------------------

    def papers_missing_embeddings(
        self, model_id: str, limit: int, *, text_hash_of: Callable[[StoredPaper], str]
    ) -> list[StoredPaper]:
        """Up to `limit` papers to encode with `model_id`, newest first: papers without a
        vector, and papers whose text changed since theirs was computed (their stored
        text_hash is not `text_hash_of(paper)`, the caller's hash of the text it encodes:
        storage never hashes, nor knows what an encoder reads).

        A paper updated since it was encoded whose text is unchanged (a new category, a
        comment) keeps its vector: it is marked checked here and not returned.
        """
        if limit < 1:
            return []
        stored = (
            select(embeddings.c.paper_id, embeddings.c.text_hash, embeddings.c.encoded_at)
            .where(embeddings.c.model_id == model_id)
            .subquery()
        )
        query = (
            select(papers, stored.c.text_hash.label("stored_hash"))
            .outerjoin(stored, stored.c.paper_id == papers.c.id)
            .where((stored.c.paper_id.is_(None)) | (papers.c.updated_at > stored.c.encoded_at))
            .order_by(papers.c.created_at.desc(), papers.c.id)
        )
        try:
            while True:
                with self._tx() as conn:
                    rows = list(conn.execute(query.limit(limit)))
                    todo: list[StoredPaper] = []
                    unchanged: list[str] = []
                    checked_at = self._now()
                    for row in rows:
                        paper = _paper(row)
                        if row.stored_hash == text_hash_of(paper):
                            unchanged.append(paper.id)
                            checked_at = max(checked_at, row.updated_at)
                        else:
                            todo.append(paper)
                    if unchanged:
                        conn.execute(
                            update(embeddings)
                            .where(
                                embeddings.c.model_id == model_id,
                                embeddings.c.paper_id.in_(unchanged),
                            )
                            .values(encoded_at=checked_at)
                        )
                if todo or len(rows) < limit:
                    return todo
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read the papers to encode: {e}") from e

    def store_embeddings(self, model_id: str, rows: Iterable[tuple[str, str, Any]]) -> int:
        """Store (paper_id, text_hash, vector) rows for `model_id` in one transaction,
        replacing older vectors of the same papers. Vectors are kept as float16."""
        import numpy as np

        now = self._now()
        values = [
            {
                "paper_id": pid,
                "model_id": model_id,
                "text_hash": digest,
                "vector": np.asarray(vector, dtype="<f2").tobytes(),
                "encoded_at": now,
            }
            for pid, digest, vector in rows
        ]
        if not values:
            return 0
        try:
            with self._tx() as conn:
                for start in range(0, len(values), 500):
                    chunk = [v["paper_id"] for v in values[start : start + 500]]
                    conn.execute(
                        delete(embeddings).where(
                            embeddings.c.model_id == model_id, embeddings.c.paper_id.in_(chunk)
                        )
                    )
                conn.execute(insert(embeddings), values)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store {len(values)} embeddings: {e}") from e
        return len(values)

    def embeddings(self, ids: Sequence[str], model_id: str) -> dict[str, Any]:
        """The stored vectors (float32 numpy arrays) of the papers among `ids` that have one."""
        import numpy as np

        ids = list(ids)
        found: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(embeddings.c.paper_id, embeddings.c.vector).where(
                    embeddings.c.model_id == model_id,
                    embeddings.c.paper_id.in_(ids[start : start + 500]),
                )
                for row in conn.execute(query):
                    found[row.paper_id] = np.frombuffer(row.vector, dtype="<f2").astype(np.float32)
        return found

    def count_embeddings(self, model_id: str) -> int:
        """How many papers have a vector of `model_id`."""
        query = (
            select(func.count()).select_from(embeddings).where(embeddings.c.model_id == model_id)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _index_generation(row: Row[Any]) -> IndexGeneration:
    return IndexGeneration(
        generation=row.generation,
        build_id=row.build_id,
        built_at=row.built_at,
        papers=row.papers,
        size=row.size,
        sha256=row.sha256,
        stored=bool(row.stored),
        builder=row.builder,
    )


def _trending_order(t: TrendingEntry) -> tuple[int, int, int, int, str]:
    """Most upvoted, most commented, best ranked, latest day, then by id (stable)."""
    return (-t.upvotes, -t.comments, t.rank or 1 << 30, -t.day.toordinal(), t.paper_id)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _migrate(engine: Engine, attempts: int = 5) -> None:
    """Bring the schema to the latest Alembic revision (creating it in a new database).

    Two processes opening a new database at once (two daemons, a daemon and `paperboy
    status`) race on creating it: the loser sees "already exists" and simply tries again,
    then finds the schema current.
    """
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                tables = set(inspect(conn).get_table_names())
                if tables and "alembic_version" not in tables:
                    raise StorageError(
                        "this database was made by a development version of Paperboy that "
                        "predates schema migrations; move it away and fetch again"
                    )
                if tables and _at_heads(conn):
                    return  # current: Alembic (a fifth of a second to import) not needed
                from alembic import command as alembic_command
                from alembic.config import Config as AlembicConfig

                config = AlembicConfig()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                alembic_command.upgrade(config, "head")
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def _script_heads() -> set[str] | None:
    """The head revisions of jobs/storage/migrations/versions, read from the files' text (the
    revisions no other revision names as its down_revision); None if unsure."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        names = re.findall(r"[\"']([^\"']+)[\"']", found["revision"])
        if len(names) != 1:
            return None
        revisions.add(names[0])
        downs.update(re.findall(r"[\"']([^\"']+)[\"']", found.get("down_revision", "")))
    heads = revisions - downs
    return heads or None


def _at_heads(conn: Connection) -> bool:
    """Whether the database's schema is at the migrations' heads already (then opening
    it needs no Alembic); False when unsure, and Alembic decides."""
    from sqlalchemy import text

    try:
        heads = _script_heads()
        rows = conn.execute(text("SELECT version_num FROM alembic_version"))
        current = {str(v) for (v,) in rows}
    except (OSError, SQLAlchemyError):
        return False
    return heads is not None and current == heads


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys only when asked, per connection; WAL lets the daemon
    write while `paperboy status` reads."""
    # pysqlite's own transaction handling is off: _sqlite_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """SQLAlchemy's pysqlite recipe: BEGIN IMMEDIATE for writes (Storage._tx), so the
    writer lock is taken before the first read and a check-then-write is never raced;
    plain (deferred) BEGIN for reads, which WAL lets run beside a writer."""
    write = conn.get_execution_options().get("paperboy_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _redact(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"
