"""Locks that die with their process: one daemon per database, one fetch at a time.

    lock = try_lock(storage, suffix=".fetch.lock", key=FETCH_LOCK)   # None: held elsewhere
    ... work ...; lock.release()          # or the process dies: `kill -9` frees it as well

    with fetch_lock(storage) as held:     # the fetch's use of it (issue #20, item 5)
        if not held: skip ("fetch running elsewhere")

PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) on a connection kept for
the lock; the server drops it when that session ends, so a process killed while holding it
(kill -9, a lost machine) never blocks the next one. SQLite (one machine): an exclusive
`flock` on a file beside the database (`<database><suffix>`), which the kernel drops with
the process. An in-memory database (one process): a lock of this process.

Never waits: whoever finds the lock held does something else (the daemon refuses to start;
a worker goes on without fetching).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.storage.base import StorageBase

log = logging.getLogger(__name__)

# "fetching" in ASCII; distinct from the daemon's lock (jobs.runners.lock), whose key is a
# hash, and from storage.papers.LISTING_LOCK.
FETCH_LOCK = 0x6665_7463_6869_6E67

# An in-memory database's locks, one per key, for as long as its engine lives.
_memory_locks: weakref.WeakKeyDictionary[Engine, dict[int, threading.Lock]] = (
    weakref.WeakKeyDictionary()
)
_memory_guard = threading.Lock()


class ProcessLock:
    """Held until `release()` (or the end of a `with` block), or until the process dies."""

    def __init__(
        self,
        *,
        handle: IO[str] | None = None,
        conn: Connection | None = None,
        key: int = 0,
        local: threading.Lock | None = None,
    ) -> None:
        self._handle, self._conn, self._key, self._local = handle, conn, key, local

    def note(self, holder: str) -> None:
        """Write who holds the lock into its file (SQLite), for whoever finds it held."""
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(holder)
            self._handle.flush()

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        if self._conn is not None:
            # The connection goes back to the pool, its session alive: unlock by hand.
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                self._conn.commit()
            except SQLAlchemyError as e:  # the session is gone, and its lock with it
                log.warning("lock not released by hand: %s", e)
                self._conn.invalidate()
            self._conn.close()
            self._conn = None
        if self._local is not None:
            self._local.release()
            self._local = None

    def __enter__(self) -> ProcessLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_file(storage: StorageBase, suffix: str) -> Path | None:
    """The file a SQLite database's lock of this `suffix` lives in; None elsewhere."""
    engine = storage.engine
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return Path(database + suffix)
    return None


def try_lock(storage: StorageBase, *, suffix: str, key: int) -> ProcessLock | None:
    """Take the lock named by `suffix` (SQLite) or `key` (PostgreSQL) at once; None when
    another process (or, for an in-memory database, another thread) holds it."""
    engine = storage.engine
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        conn.commit()
        if not got:
            conn.close()
            return None
        return ProcessLock(conn=conn, key=key)
    path = lock_file(storage, suffix)
    if path is not None:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return ProcessLock(handle=handle)
    with _memory_guard:
        local = _memory_locks.setdefault(engine, {}).setdefault(key, threading.Lock())
    return ProcessLock(local=local) if local.acquire(blocking=False) else None


@contextmanager
def fetch_lock(storage: StorageBase) -> Iterator[bool]:
    """Hold the fetch lock of `storage`'s database for the block; yields False at once
    (and holds nothing) when another process or thread holds it."""
    lock = try_lock(storage, suffix=".fetch.lock", key=FETCH_LOCK)
    if lock is None:
        yield False
        return
    with lock:
        yield True
