"""Fixtures shared by the whole suite: databases (SQLite and PostgreSQL) and sample configs,
and the guard that fails a test leaving a thread or a child process running (tests/leftovers.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from paperboy.jobs.storage import Storage
from tests.http_server import FakeTime, LocalServer

# An autouse fixture and two hooks, which pytest finds by their names in this module.
from tests.leftovers import (  # noqa: F401
    no_leftovers,
    pytest_fixture_post_finalizer,
    pytest_fixture_setup,
)

POSTGRES_URL = os.environ.get(
    "PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reason() -> str | None:
    """None when PostgreSQL is reachable, else why the PostgreSQL tests are skipped."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'paperboy-digest[postgres]')"
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as e:  # any failure to connect means: no server here
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"no PostgreSQL at {make_url(POSTGRES_URL).render_as_string()}: {first}"
    return None


_PG_REASON: str | bool | None = False  # False: not probed yet


def postgres_skip_reason() -> str | None:
    global _PG_REASON
    if _PG_REASON is False:
        _PG_REASON = _postgres_reason()
    return _PG_REASON  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def own_embedding_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One-off rankings (`paperboy rank --saved F --candidates C`) keep their vectors in
    a cache file, by default in ~/.cache: each test gets its own, so no test reads
    vectors another left there, or writes into the developer's home, and parallel
    workers (pytest -n 2) share no file. Tests of the location itself set their own."""
    folder = tmp_path_factory.mktemp("embedding-cache")
    monkeypatch.setenv("PAPERBOY_CACHE", str(folder / "embeddings.sqlite"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"paperboy_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against a SQLite file and a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paperboy.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    with Storage.open(database_url) as s:
        yield s


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()
