"""Schema migrations (Alembic): a new database is built by them, and they match the code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.base import HEAD_REVISION, MIGRATIONS
from paperboy.jobs.storage.schema import metadata


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    """Every change to the tables (jobs/storage/schema.py) needs a migration: this test says so."""
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


def test_the_head_revision_constant_is_alembics_head() -> None:
    """Storage.open takes a database that stores HEAD_REVISION as current without running
    Alembic: a new migration must move the constant too, or older databases would be
    opened unmigrated."""
    assert ScriptDirectory.from_config(_config()).get_heads() == [HEAD_REVISION]


def test_a_database_one_revision_behind_is_upgraded_on_open(database_url: str) -> None:
    """The revision before the head is not current: opening migrates it to the head."""
    previous = ScriptDirectory.from_config(_config()).get_revision(HEAD_REVISION).down_revision
    assert isinstance(previous, str)
    engine = create_engine(database_url)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, previous)
    engine.dispose()
    with Storage.open(database_url) as storage, storage.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == HEAD_REVISION
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def _config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_a_0001_database_with_deliveries_migrates_to_claims(database_url: str) -> None:
    """A database of the first release, with a sent and a failed digest, upgrades: the
    ledger keeps every row, the failed digest's papers are released, not deleted."""
    engine = create_engine(database_url)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO deliveries (id, user_name, message_id, digest_day, status, "
                "paper_count, created_at, attempts, last_attempt_at, message) VALUES "
                "(1, 'ada', '<1@x>', '2026-07-01', 'sent', 1, '2026-07-01 06:00:00', 1, "
                "'2026-07-01 06:00:00', :m), "
                "(2, 'ada', '<2@x>', '2026-07-02', 'failed', 1, '2026-07-02 06:00:00', 1, "
                "'2026-07-02 06:01:00', :m)"
            ),
            {"m": b"m"},
        )
        conn.execute(
            text(
                "INSERT INTO ledger (user_name, paper_id, delivery_id) VALUES "
                "('ada', '2607.00001', 1), ('ada', '2607.00002', 2)"
            )
        )
    engine.dispose()
    with Storage.open(database_url) as storage:
        assert storage.mailed_ids("ada") == {"2607.00001"}
        with storage.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT paper_id, delivery_id, released_at FROM ledger ORDER BY paper_id")
            ).all()
        assert [(r[0], r[1], r[2] is not None) for r in rows] == [
            ("2607.00001", 1, False),
            ("2607.00002", 2, True),
        ]
        assert storage.claims() == []


def test_a_0007_database_keeps_its_ledger_and_gains_what_each_digest_showed(
    database_url: str,
) -> None:
    """0008 adds the place, score and reason of each paper to the ledger: the rows of a
    digest sent before it keep everything and read as "not recorded" (NULL); the schema
    is then exactly the declared one (the ledger's partial unique index included)."""
    engine = create_engine(database_url)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007_link_epochs")
        conn.execute(
            text(
                "INSERT INTO deliveries (user_name, message_id, digest_day, status, "
                "paper_count, created_at, sent_at, attempts, message) VALUES "
                "('ada', '<1@example.org>', '2026-07-01', 'sent', 2, "
                "'2026-07-01 06:00:00', '2026-07-01 06:00:05', 1, :m)"
            ),
            {"m": b"m"},
        )
        conn.execute(
            text(
                "INSERT INTO ledger (user_name, paper_id, delivery_id) SELECT 'ada', p, id "
                "FROM deliveries, (SELECT '2607.00002' AS p UNION SELECT '2607.00001') AS ps"
            )
        )
    engine.dispose()
    with Storage.open(database_url) as storage:
        with storage.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        [digest] = storage.sent_digests("ada", limit=10)
        assert [(p.paper_id, p.position, p.score, p.reason) for p in digest.papers] == [
            ("2607.00001", None, None, None),
            ("2607.00002", None, None, None),
        ]
        assert storage.mailed_ids("ada") == {"2607.00001", "2607.00002"}
        # A digest recorded now keeps them.
        new = storage.create_delivery(
            user_name="ada",
            message_id="<2@example.org>",
            digest_day=date(2026, 7, 2),
            message=b"m",
            paper_ids=["2607.00004", "2607.00003"],
            listed_through=None,
            shown={"2607.00004": (0.9, "keyword: x"), "2607.00003": (0.4, "close")},
        )
        storage.mark_sent(new, "outbox")
        latest = storage.sent_digests("ada", limit=1)
        assert [(p.paper_id, p.position, p.score, p.reason) for p in latest[0].papers] == [
            ("2607.00004", 1, 0.9, "keyword: x"),
            ("2607.00003", 2, 0.4, "close"),
        ]


def test_a_0010_database_gains_the_clicks_table_and_keeps_its_rows(database_url: str) -> None:
    """0011 adds `clicks` (issue #21 item 5): a database at 0010 with a library row opens,
    keeps the row, has exactly the declared schema, and records a click (once)."""
    engine = create_engine(database_url)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0010_collections")
        conn.execute(
            text(
                "INSERT INTO library (user_name, paper_id, added_at, collection) VALUES "
                "('ada', '2607.00001', '2026-07-01 06:00:00', 'theory')"
            )
        )
    engine.dispose()
    with Storage.open(database_url) as storage:
        with storage.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert context.get_current_revision() == "0011_clicks"
            assert compare_metadata(context, metadata) == []
        assert storage.library_ids("ada") == ["2607.00001"]
        at = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)
        assert storage.record_click("ada", "2607.00002", "abs", at=at) is True
        assert storage.record_click("ada", "2607.00002", "abs", at=at) is False
        assert storage.clicked_papers("ada") == ["2607.00002"]
