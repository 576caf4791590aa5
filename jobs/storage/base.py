"""What every part of Storage stands on: the engine, transactions, and the schema's upkeep.

StorageBase opens the database (SQLite or PostgreSQL, from a SQLAlchemy URL), brings its
schema to the newest Alembic revision, and gives the parts their shared tools: `_tx` (a
write transaction), `_now` (the injected clock), `_insert_ignore` (INSERT ... ON CONFLICT
DO NOTHING in the database's dialect; `upsert` and `insert_ignoring` for rows of any
table). Each table family is a mixin of StorageBase
(papers.py, ledger.py, ...); jobs.storage.Storage assembles them.

Every write transaction on SQLite starts with BEGIN IMMEDIATE (the writer lock is taken
up front, so two writers never both read and then both write).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Table, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from paperboy.jobs.core.errors import StorageError

if TYPE_CHECKING:  # each dialect's module is imported by the database that needs it (below)
    from sqlalchemy.dialects.postgresql import Insert as PgInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of time stored)."""
    return datetime.now(UTC)


class StorageBase:
    """The database, opened from a SQLAlchemy URL: its engine, clock and transactions."""

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._now = now

    @classmethod
    def open(cls, url: str, *, now: Callable[[], datetime] = utcnow) -> Self:
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

    def __enter__(self) -> Self:
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

    def _insert_ignore(self, table: Table, keys: list[str], values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT (keys) DO NOTHING, in this database's dialect."""
        dialect = self.engine.dialect.name
        if dialect not in ("postgresql", "sqlite"):
            raise StorageError(f"claims need PostgreSQL or SQLite, not {dialect}")
        insert = _insert_of(dialect)
        return insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)


def _insert_of(dialect: str) -> Callable[[Table], PgInsert | SqliteInsert]:
    """The dialect's own insert(), its module imported on first use: a SQLite user's
    command does not load the PostgreSQL dialect (22 ms of start-up), nor the reverse."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def dialect_insert(conn: Connection, table: Table) -> PgInsert | SqliteInsert:
    """INSERT in the connection's dialect, which has ON CONFLICT (PostgreSQL, SQLite)."""
    dialect = conn.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise StorageError(f"Paperboy needs PostgreSQL or SQLite, not {dialect}")
    return _insert_of(dialect)(table)


def upsert(conn: Connection, table: Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET <the row's other columns>: one
    statement, so two writers of the same key never collide (where "UPDATE, else INSERT"
    lets both find nothing to update and both insert: an IntegrityError on PostgreSQL).
    Every row must name the same columns."""
    if not rows:
        return
    stmt = dialect_insert(conn, table)
    columns = [c for c in rows[0] if c not in keys]
    if not columns:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=keys), rows)
        return
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
        ),
        rows,
    )


def insert_ignoring(
    conn: Connection, table: Table, keys: list[str], rows: list[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT (keys) DO NOTHING; the keys of the rows actually inserted
    (RETURNING: psycopg reports no rowcount for ON CONFLICT)."""
    if not rows:
        return set()
    stmt = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=keys)
    # SQLAlchemy 2's "insertmanyvalues": many rows a statement, with RETURNING.
    result = conn.execute(stmt.returning(*(table.c[k] for k in keys)), rows)
    return {tuple(row) for row in result}


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision (jobs/storage/migrations/versions): a database whose
# alembic_version holds it is current, and opening it needs no Alembic (a fifth of a second
# to import) and no look at the migration files. A new migration changes it:
# tests/jobs/test_migrations.py checks that it is Alembic's head.
HEAD_REVISION = "0011_clicks"


def _migrate(engine: Engine, attempts: int = 5) -> None:
    """Bring the schema to the latest Alembic revision (creating it in a new database).

    A current database costs one query (:func:`_is_current`); Alembic is imported only
    for a new or an older database. Two processes opening a new database at once (two
    daemons, a daemon and `paperboy status`) race on creating it: the loser sees "already
    exists" and simply tries again, then finds the schema current.
    """
    if _is_current(engine):
        return
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                tables = set(inspect(conn).get_table_names())
                if tables and "alembic_version" not in tables:
                    raise StorageError(
                        "this database was made by a development version of Paperboy that "
                        "predates schema migrations; move it away and fetch again"
                    )
                if tables and _stored_revisions(conn) == {HEAD_REVISION}:
                    return  # another process migrated it meanwhile
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


def _stored_revisions(conn: Connection) -> set[str]:
    """The revisions in the database's alembic_version table (an error if it has none)."""
    return {str(v) for (v,) in conn.execute(text("SELECT version_num FROM alembic_version"))}


def _is_current(engine: Engine) -> bool:
    """Whether the database is at HEAD_REVISION already; False when it is not, has no
    alembic_version table (new, or from before migrations) or cannot be read: then
    _migrate's full path looks, and Alembic decides."""
    try:
        with engine.connect() as conn:
            return _stored_revisions(conn) == {HEAD_REVISION}
    except SQLAlchemyError:
        return False


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
