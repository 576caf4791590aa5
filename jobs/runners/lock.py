"""One daemon per database: a lock the operating system releases when the process dies.

SQLite: an exclusive `flock` on `<database>.lock` beside the database file. PostgreSQL: a
session-level advisory lock held on a dedicated connection. Both vanish with the process,
also on `kill -9`, so a crashed daemon never blocks the next one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from paperboy.jobs.core.errors import PaperboyError
from paperboy.jobs.storage import Storage


class AlreadyRunning(PaperboyError):
    """Another `paperboy run` holds this database."""


class DaemonLock:
    """Held for the daemon's lifetime; `release()` (or process death) lets the next one in."""

    def __init__(self, handle: IO[str] | None = None, conn: Connection | None = None) -> None:
        self._handle = handle
        self._conn = conn

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        if self._conn is not None:
            # The connection goes back to a pool, so unlock explicitly rather than rely on
            # the session ending.
            self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            self._conn.commit()
            self._conn.close()
            self._conn = None

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _advisory_key(url: str) -> int:
    """A stable 63-bit key for pg_try_advisory_lock, derived from the database name."""
    digest = hashlib.sha256(f"paperboy-daemon:{make_url(url).database}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def acquire_daemon_lock(storage: Storage, database_url: str) -> DaemonLock:
    """Take the daemon lock for this database, or raise AlreadyRunning at once."""
    dialect = storage.engine.dialect.name
    if dialect == "sqlite":
        database = make_url(database_url).database
        if not database or database == ":memory:":
            return DaemonLock()  # a private in-memory database: nobody to share it with
        lock_path = Path(database + ".lock")
        handle = lock_path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunning(
                f"another `paperboy run` (pid {holder}) is already using {database}; "
                "stop it first (one daemon per database)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return DaemonLock(handle=handle)
    if dialect == "postgresql":
        conn = storage.engine.connect()
        got: Any = conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _advisory_key(database_url)}
        ).scalar()
        conn.commit()
        if not got:
            conn.close()
            raise AlreadyRunning(
                "another `paperboy run` is already using this PostgreSQL database; "
                "stop it first (one daemon per database)"
            )
        return DaemonLock(conn=conn)
    return DaemonLock()
