"""Schema migrations (Alembic): a new database is built by them, and they match the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from jobs.errors import StorageError
from jobs.storage import MIGRATIONS, Storage, metadata


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    """Every change to jobs/storage.py's tables needs a migration: this test says so."""
    with Storage.open(database_url) as storage, storage.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
        assert diff == [], f"the schema differs from the migrations: {diff}"
        head = ScriptDirectory.from_config(_config()).get_current_head()
        assert context.get_current_revision() == head


def test_opening_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    Storage.open(url).close()
    with Storage.open(url) as storage:
        assert "papers" in inspect(storage.engine).get_table_names()


def test_a_database_from_before_migrations_is_refused_clearly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE papers (id TEXT PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StorageError, match="predates schema migrations"):
        Storage.open(url)


def _config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
