"""Papers and where they were seen: papers, paper_sources, sources, trending.

A paper is one row however many times and places it is seen (`store_papers` merges a new
sighting into the stored row, never replacing a value with an empty or older one);
`sources` remembers each feed's last fetch (caching headers, errors); `trending` holds
papers' popularity per day and source. `store_papers` and `read_papers` are also used by
the parts that store papers with their own rows (library: Zotero, venues).

Writers of papers take turns, and `listed_at` follows their commit order (issue #20,
items 5 and 6). A user's window is "papers listed after the newest `listed_at` of the
last digest", so a paper committed with a `listed_at` below one a digest already took
would never be a candidate. That happened on PostgreSQL whenever two writers overlapped
(each stamped its papers with its own clock at its start, and the earlier stamp could
commit later) or two machines' clocks differed. So, in `store_papers`:

  take_listing_turn   PostgreSQL: pg_advisory_xact_lock(LISTING_LOCK), held to the end of
                      the transaction; SQLite: the writer lock every write transaction
                      already takes (BEGIN IMMEDIATE). Writers of papers are serialised:
                      the turn order is the commit order.
  listing_stamp       max(the writer's clock, the newest stored listed_at + 1 µs), read
                      inside the turn: stamps rise in commit order whatever the clocks.

A reader's snapshot therefore holds a prefix of the stamps: every paper stamped at or
below one it sees is committed and visible to it, and every paper committed later has a
higher stamp, inside the next window. Why not a sequence or transaction ids: a sequence's
values (and pg_current_xact_id) are handed out in start order, not commit order, so a
reader would also have to hold back below the oldest running writer; taking turns gives
the commit order directly, needs no new column or migration (existing databases and
users' `listed_through` times stay valid as they are), and costs little: a fetch stores a
source's papers in one short transaction, and fetches run one at a time anyway
(jobs.runners.fetch_job). Inserts are INSERT ... ON CONFLICT all the same (base.upsert,
base.insert_ignoring), so a writer that did not take turns could not make another fail.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage.base import StorageBase, insert_ignoring, upsert
from paperboy.jobs.storage.schema import (
    UTCDateTime,
    ledger,
    paper_sources,
    papers,
    sources,
    trending,
)
from paperboy.jobs.storage.stored_paper import StoredPaper, UpsertResult, stored_paper

log = logging.getLogger(__name__)

# The key of the advisory lock writers of papers take turns with on PostgreSQL ("paperboy"
# in ASCII; advisory locks are per database, so one key serves every database).
LISTING_LOCK = 0x7061_7065_7262_6F79
TICK = timedelta(microseconds=1)  # the finest step a timestamp keeps on both databases


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


def store_papers(
    conn: Connection,
    items: Iterable[SourcePaper],
    *,
    source: str,
    listed: bool,
    now: datetime,
) -> UpsertResult:
    """Insert new papers, merge what is new into known ones, in the caller's transaction
    (Storage.upsert_papers; also a Zotero sync's and a venue's papers).

    Writers of papers take turns (see the module's docstring): the listing lock first, so
    what is read below is what the transaction writes over, and the listing stamp orders
    this transaction after every one committed before it."""
    by_id: dict[str, SourcePaper] = {}
    for item in items:
        by_id[item.id] = item  # the last sighting of an id within one batch wins
    if not by_id:
        return UpsertResult(0, 0, 0)
    take_listing_turn(conn)
    ids = sorted(by_id)  # one order for every writer's row locks
    existing = read_papers(conn, ids)
    stamp = listing_stamp(conn, now) if listed else None
    inserts = [_new_row(pid, by_id[pid], stamp, now) for pid in ids if pid not in existing]
    inserted = {key[0] for key in insert_ignoring(conn, papers, ["id"], inserts)}
    raced = [row["id"] for row in inserts if row["id"] not in inserted]
    if raced:  # stored meanwhile by a writer that does not take turns: merge into it
        existing.update(read_papers(conn, raced))
    updated = unchanged = 0
    for pid in ids:
        if pid in inserted:
            continue
        old = existing[pid]
        changes = _merge(old, by_id[pid])
        if stamp is not None and old.listed_at is None:
            changes["listed_at"] = stamp
        if changes:
            changes["updated_at"] = now
            conn.execute(update(papers).where(papers.c.id == pid).values(**changes))
            updated += 1
        else:
            unchanged += 1
    source_rows = [
        {
            "paper_id": pid,
            "source": source,
            "announce_type": by_id[pid].announce_type,
            "first_seen": now,
        }
        for pid in ids
    ]
    insert_ignoring(conn, paper_sources, ["paper_id", "source"], source_rows)
    return UpsertResult(len(inserted), updated, unchanged)


def _new_row(pid: str, item: SourcePaper, stamp: datetime | None, now: datetime) -> dict[str, Any]:
    return {
        "id": pid,
        "title": item.title,
        "abstract": item.abstract,
        "authors": list(item.authors),
        "categories": list(item.categories),
        "version": item.version,
        "link": item.link,
        "comment": item.comment,
        "announced": item.announced,
        "listed_at": stamp,
        "created_at": now,
        "updated_at": now,
        "tldr": item.tldr,
        "tldr_source": item.tldr_source if item.tldr else None,
    }


def take_listing_turn(conn: Connection) -> None:
    """Wait for this transaction's turn among writers of papers, held until it ends.

    SQLite: nothing to do, every write transaction already holds the one writer lock
    (BEGIN IMMEDIATE, base.py). PostgreSQL: a transaction-level advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LISTING_LOCK})


def listing_stamp(conn: Connection, now: datetime) -> datetime:
    """The `listed_at` of the papers this transaction lists: its clock, but after every
    stamp committed so far (so in the order of the turns, which is the commit order)."""
    value = conn.execute(select(func.max(papers.c.listed_at))).scalar()
    latest = UTCDateTime().process_result_value(value, conn.dialect)
    return now if latest is None or now > latest else latest + TICK


def read_papers(conn: Connection, ids: Sequence[str]) -> dict[str, StoredPaper]:
    """The stored papers among `ids`, keyed by id (500 ids a query)."""
    found: dict[str, StoredPaper] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
            found[row.id] = stored_paper(row)
    return found


class PapersMixin(StorageBase):
    """Storing and reading papers, their sources' fetch state, and their popularity."""

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
                return store_papers(conn, items, source=source, listed=listed, now=self._now())
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store papers from {source}: {e}") from e

    def store_trending(
        self, items: Iterable[SourcePaper], entries: Iterable[TrendingEntry], *, source: str
    ) -> UpsertResult:
        """Store trending papers (as listed papers) and their popularity in one transaction:
        a crash or an error leaves neither, never papers without their numbers."""
        try:
            with self._tx() as conn:
                result = store_papers(conn, items, source=source, listed=True, now=self._now())
                self._record_trending(conn, entries)
                return result
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store trending papers from {source}: {e}") from e

    def get_papers(self, ids: Sequence[str]) -> dict[str, StoredPaper]:
        """The stored papers among `ids`, keyed by id."""
        with self.engine.connect() as conn:
            return read_papers(conn, list(ids))

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
            return [stored_paper(row) for row in conn.execute(query.order_by(papers.c.id))]

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
            return [stored_paper(row) for row in conn.execute(query)]

    def sample_papers(self, n: int, *, exclude: set[str], seed: int = 0) -> list[StoredPaper]:
        """Up to n stored papers chosen at random (fixed seed), for the ranker's negatives."""
        with self.engine.connect() as conn:
            ids = [row.id for row in conn.execute(select(papers.c.id).order_by(papers.c.id))]
            pool = [i for i in ids if i not in exclude]
            chosen = random.Random(seed).sample(pool, min(n, len(pool)))
            return list(read_papers(conn, chosen).values())

    def newest_listing(self) -> datetime | None:
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(select(func.max(papers.c.listed_at))).scalar()
            return UTCDateTime().process_result_value(value, self.engine.dialect)

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
            stored = read_papers(conn, [pid for ids in found.values() for pid in ids])
        return {key: [stored[pid] for pid in ids if pid in stored] for key, ids in found.items()}

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
            upsert(conn, sources, ["name"], [{"name": name, **values}])

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
        now = self._now()
        upsert(
            conn,
            trending,
            ["paper_id", "day", "source"],
            [
                {
                    "paper_id": key[0],
                    "day": key[1],
                    "source": key[2],
                    "upvotes": entry.upvotes,
                    "comments": entry.comments,
                    "rank": entry.rank,
                    "recorded_at": now,
                }
                for key, entry in sorted(rows.items())
            ],
        )
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


def _trending_order(t: TrendingEntry) -> tuple[int, int, int, int, str]:
    """Most upvoted, most commented, best ranked, latest day, then by id (stable)."""
    return (-t.upvotes, -t.comments, t.rank or 1 << 30, -t.day.toordinal(), t.paper_id)
