"""The database's tables (SQLAlchemy Core) and their `metadata`.

The bottom of jobs.storage: it imports SQLAlchemy only, never another part of storage, so
every part (and the Alembic environment, migrations/env.py) can import it. Any change to
a table needs a migration in migrations/versions (tests/jobs/test_migrations.py checks
that the migrations build exactly these tables). Timestamps are UTCDateTime: aware UTC in
and out, also on SQLite.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

log = logging.getLogger(__name__)


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
    Column("status", String(20), nullable=False),  # pending | sent | failed | no-mail
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


# One row per (digest, chat or push channel) (issue #23): a digest also goes to each of
# the user's `notify` channels, each its own delivery beside the e-mail's. `channel` is the
# channel's name in the config (never its URL: that may hold a token). The text is
# recorded before it is sent, split into the parts the channel takes; `parts_sent` counts
# the parts it accepted, so a retry goes on from the first one it did not.
channel_deliveries = Table(
    "channel_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent | failed
    Column("title", Text, nullable=False),
    Column("parts", JSON, nullable=False),  # the message, as the list of parts sent
    Column("parts_sent", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime),
    Index("ux_channel_deliveries_digest", "delivery_id", "channel", unique=True),
    Index("ix_channel_deliveries_user_status", "user_name", "status"),
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
    # What the digest showed of the paper (issue #23: the user's feed is built from them):
    # its place (1 = first), score and reason. NULL in rows recorded before 0008.
    Column("position", Integer),
    Column("score", Float),
    Column("reason", Text),
    # One live row per (user, paper): a partial unique index, WHERE released_at IS NULL
    # (LIVE_LEDGER), made by migration 0005 on SQLite and PostgreSQL alike and checked on
    # both by tests/jobs/test_storage.py. The predicate is not repeated here: naming it
    # per dialect (postgresql_where=) makes SQLAlchemy import the PostgreSQL dialect when
    # this module loads, 22 ms of every command's start for SQLite users too, and the
    # schema is made by the migrations, never from this metadata (Alembic's comparison
    # does not read an index's predicate either).
    Index("ux_ledger_live", "user_name", "paper_id", unique=True),
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
    # "Sign out all links" (issue #20 item 10): tokens of an older epoch are refused.
    Column("links_epoch", Integer, nullable=False, server_default="0"),
)


# A user's library (issue #6): papers imported from BibTeX that have no arXiv id, so they
# cannot be saved in config.toml; their text is in `papers` (id: DOI or title key).
# Papers a user opened from a digest (issue #21 item 5): with [web] count_clicks, the
# digest's Abstract and PDF links go through /open/T, which records one row per (user,
# paper, link); a second click on the same link is not a second row (the first time
# stays). Read back as Profile.clicked.
clicks = Table(
    "clicks",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("paper_id", String(128), primary_key=True),
    Column("link", String(8), primary_key=True),  # "abs" or "pdf"
    # the collection whose section showed the paper (issue #23); "": the default one
    Column("collection", String(64), nullable=False, server_default=""),
    Column("clicked_at", UTCDateTime, nullable=False),
)


library = Table(
    "library",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("paper_id", String(128), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
    # the user's collection it was imported into (issue #23); "": the default collection
    Column("collection", String(64), nullable=False, server_default=""),
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
    # the user's collections its Zotero collections map onto (issue #23); []: the default
    Column("collections", JSON, nullable=False, server_default="[]"),
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
# rows. text_hash: recommender.encoder.text_hash of the text encoded (encoder_text): a
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
