"""The ranker's index has a generation recorded in the database (issue 13): each build is a
new one; a worker loads the newest it can read and reloads when it changes; with
`index_store = "database"` a worker on another machine (another index path, no shared
folder) copies the newest generation from the database."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text, update

from paperboy.jobs.cli import cli
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.ranking.corpus import load_corpus, read_info, refresh_index
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.schema import index_chunks
from tests.jobs.test_index_format import hostile_pickle
from tests.jobs.test_pipeline import config_for, load_sample


def machine(tmp_path: Path, database_url: str, name: str, store: str = "database") -> Config:
    """One machine's config: the shared database, its own index path."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    config = config_for(folder, database_url, 25)
    return Config(
        **{
            **{f: getattr(config, f) for f in config.__dataclass_fields__ if f != "_by_name"},
            "index": folder / "paperboy.index",
            "index_store": store,
        }
    )


def test_each_build_is_a_new_generation_named_in_the_file(
    tmp_path: Path, database_url: str
) -> None:
    config = machine(tmp_path, database_url, "a", store="file")
    with Storage.open(config.database) as storage:
        assert storage.newest_index_generation() is None
        load_sample(storage, days=2)
        first = refresh_index(config, storage)
        second = refresh_index(config, storage)
        assert first is not None and second is not None and first.build_id != second.build_id
        newest = storage.newest_index_generation()
        assert newest is not None and newest.build_id == second.build_id
        assert newest.generation == 2 and not newest.stored
        assert newest.size == config.index.stat().st_size and len(newest.sha256) == 64
        assert read_info(config.index).build_id == newest.build_id
        old = storage.index_generation(first.build_id)
        assert old is not None and old.generation == 1


def test_a_worker_without_a_shared_folder_copies_the_newest_generation_and_reloads(
    tmp_path: Path, database_url: str
) -> None:
    a = machine(tmp_path, database_url, "a")
    b = machine(tmp_path, database_url, "b")
    with Storage.open(a.database) as storage:
        load_sample(storage, days=2)
        refresh_index(a, storage)
        assert not b.index.exists()
        corpus = load_corpus(b, storage)  # machine B: copied from the database, then loaded
        assert corpus.index is not None
        assert read_info(b.index).build_id == read_info(a.index).build_id
        assert b.index.read_bytes() == a.index.read_bytes()
        assert load_corpus(b, storage) is corpus  # same generation: kept in memory
        before = set(corpus.index.ids)

        load_sample(storage, days=4)  # machine A fetches two more days, builds generation 2
        refresh_index(a, storage)
        newer = load_corpus(b, storage)
        assert newer is not corpus and newer.index is not None
        assert set(newer.index.ids) > before  # the new days' papers are in it
        assert read_info(b.index).build_id == read_info(a.index).build_id

        refresh_index(a, storage)  # a third build: only the newest two keep their bytes
        with storage.engine.connect() as conn:
            kept = {
                g for (g,) in conn.execute(text("SELECT DISTINCT generation FROM index_chunks"))
            }
        assert kept == {2, 3}


def test_a_machine_that_cannot_read_the_newest_generation_keeps_its_own_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = machine(tmp_path, database_url, "a", store="file")
    b = machine(tmp_path, database_url, "b", store="file")
    with Storage.open(a.database) as storage:
        load_sample(storage, days=2)
        refresh_index(a, storage)
        shutil.copy(a.index, b.index)  # B had generation 1 (copied by hand, say)
        load_sample(storage, days=4)
        refresh_index(a, storage)  # generation 2 lives on A's disk only
        with caplog.at_level(logging.WARNING, logger="paperboy.jobs.ranking.corpus"):
            corpus = load_corpus(b, storage)
        assert corpus.index is not None  # generation 1: the newest B can read
        assert "index generation 2 is not readable here" in caplog.text
        assert "holds generation 1" in caplog.text


def test_damaged_bytes_in_the_database_are_refused_and_nothing_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = machine(tmp_path, database_url, "a")
    b = machine(tmp_path, database_url, "b")
    with Storage.open(a.database) as storage:
        load_sample(storage, days=2)
        refresh_index(a, storage)
        with storage.engine.begin() as conn:
            conn.execute(update(index_chunks).where(index_chunks.c.seq == 0).values(data=b"x"))
        with caplog.at_level(logging.WARNING, logger="paperboy.jobs.ranking.corpus"):
            corpus = load_corpus(b, storage)
        assert "damaged" in caplog.text
        assert corpus.index is None and corpus.background  # ranks without a stored index
        assert not b.index.exists()
        assert not list(b.index.parent.glob(".paperboy.index.*.tmp"))  # no half-written file


def test_a_build_that_cannot_be_recorded_records_nothing(tmp_path: Path) -> None:
    config = machine(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", "a")
    with Storage.open(config.database) as storage:
        load_sample(storage, days=1)
        with pytest.raises(StorageError, match="cannot read the index"):
            storage.record_index_generation(
                build_id="x",
                built_at=datetime.now(UTC),
                papers=1,
                path=tmp_path / "missing.index",
                builder="test",
                store=True,
            )
        assert storage.newest_index_generation() is None


def test_status_names_the_newest_generation_and_whether_this_file_holds_it(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    directory = tmp_path / "demo"
    assert runner.invoke(cli, ["demo", "--dir", str(directory)]).exit_code == 0
    config_file = str(directory / "config.toml")
    result = runner.invoke(cli, ["--config", config_file, "status", "--format", "json"])
    index = json.loads(result.output)["index"]
    assert index["current"] is True
    assert index["newest_generation"]["generation"] >= 1
    built = runner.invoke(cli, ["--config", config_file, "index"])
    assert built.exit_code == 0 and "(generation " in built.output
    (directory / "paperboy.index").unlink()
    again = runner.invoke(cli, ["--config", config_file, "status"])
    assert "NOT this file" in again.output


@pytest.mark.parametrize("blob", ["pickle", "old-format"])
def test_a_pickle_written_into_the_database_is_never_run_by_a_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, blob: str
) -> None:
    """A database write is not code execution on the workers (issue 20, item 12): a
    generation whose bytes are a pickle, recorded with its right size and sha256 (what
    anyone who can write to the database can do), is refused before it reaches the disk;
    the worker keeps ranking with the index it has."""
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = machine(tmp_path, database_url, "a")
    b = machine(tmp_path, database_url, "b")
    marker = tmp_path / "code-ran"
    payload = hostile_pickle(marker)
    with Storage.open(a.database) as storage:
        load_sample(storage, days=2)
        refresh_index(a, storage)
        assert load_corpus(b, storage).index is not None  # B holds generation 1
        before = b.index.read_bytes()
        hostile = tmp_path / "hostile.index"
        hostile.write_bytes(payload if blob == "pickle" else payload + payload)
        storage.record_index_generation(
            build_id="hostile",
            built_at=datetime.now(UTC),
            papers=1,
            path=hostile,
            builder="attacker",
            store=True,
        )
        with caplog.at_level(logging.WARNING, logger="paperboy.jobs.ranking.corpus"):
            corpus = load_corpus(b, storage)
        assert not marker.exists()  # the payload never ran
        assert "index generation 2 in the database was written by an older Paperboy" in (
            caplog.text
        )
        assert corpus.index is not None  # generation 1, kept
        assert b.index.read_bytes() == before
