"""One fetch at a time per database, across processes and machines: `fetch_lock`.

    with fetch_lock(storage) as held:
        if not held: skip ("fetch running elsewhere")
        else: fetch ... (the lock is released on leaving, or when the process dies)

PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) on a connection kept for
the fetch; the server drops it when that session ends, so a worker killed mid-fetch
(kill -9, a lost machine) never blocks the next fetch. SQLite (one machine): an exclusive
`flock` on `<database>.fetch.lock` beside the database file, which the kernel drops with
the process; an in-memory database (one process) a lock of this process.

Never waits: a second fetch is not wanted while one is running (issue #20, item 5).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.storage.base import StorageBase

log = logging.getLogger(__name__)

# "fetching" in ASCII; distinct from the daemon's lock (jobs.runners.lock), whose key is a
# hash, and from storage.papers.LISTING_LOCK.
FETCH_LOCK = 0x6665_7463_6869_6E67

_memory_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_memory_guard = threading.Lock()


@contextmanager
def fetch_lock(storage: StorageBase) -> Iterator[bool]:
    """Hold the fetch lock of `storage`'s database for the block; yields False at once
    (and holds nothing) when another process or thread holds it."""
    engine = storage.engine
    if engine.dialect.name == "postgresql":
        with _advisory(engine) as held:
            yield held
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with _flock(Path(database + ".fetch.lock")) as held:
            yield held
        return
    with _memory_guard:
        lock = _memory_locks.setdefault(engine, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()


@contextmanager
def _advisory(engine: Engine) -> Iterator[bool]:
    with engine.connect() as conn:
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": FETCH_LOCK}).scalar()
        )
        conn.commit()
        try:
            yield got
        finally:
            if got:
                # The connection goes back to the pool, its session alive: unlock by hand.
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": FETCH_LOCK})
                    conn.commit()
                except SQLAlchemyError as e:  # the session is gone, and its lock with it
                    log.warning("fetch lock not released by hand: %s", e)
                    conn.invalidate()


@contextmanager
def _flock(path: Path) -> Iterator[bool]:
    with path.open("a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
