"""One daemon per database: a lock the operating system releases when the process dies.

SQLite: an exclusive `flock` on `<database>.lock` beside the database file, holding the
daemon's pid. PostgreSQL: a session-level advisory lock held on a dedicated connection.
Both vanish with the process, also on `kill -9`, so a crashed daemon never blocks the next
one. The mechanism is the storage's (jobs.storage.process_lock), shared with the fetch lock.
"""

from __future__ import annotations

import hashlib
import os

from sqlalchemy.engine import make_url

from paperboy.jobs.core.errors import PaperboyError
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.process_lock import ProcessLock, lock_file, try_lock


class AlreadyRunning(PaperboyError):
    """Another `paperboy run` holds this database."""


def _advisory_key(url: str) -> int:
    """A stable 63-bit key for pg_try_advisory_lock, derived from the database name."""
    digest = hashlib.sha256(f"paperboy-daemon:{make_url(url).database}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def acquire_daemon_lock(storage: Storage, database_url: str) -> ProcessLock:
    """Take the daemon lock for this database, or raise AlreadyRunning at once."""
    lock = try_lock(storage, suffix=".lock", key=_advisory_key(database_url))
    path = lock_file(storage, ".lock")
    if lock is None:
        if path is None:
            raise AlreadyRunning(
                "another `paperboy run` is already using this PostgreSQL database; "
                "stop it first (one daemon per database)"
            )
        holder = path.read_text(encoding="utf-8").strip() or "another process"
        raise AlreadyRunning(
            f"another `paperboy run` (pid {holder}) is already using "
            f"{storage.engine.url.database}; stop it first (one daemon per database)"
        )
    lock.note(str(os.getpid()))
    return lock
