"""The stored corpus index (jobs.ranking.corpus): built after a fetch, written atomically,
loaded once per digest run, and never a reason to lose a digest when it is damaged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import paperboy.jobs.ranking.corpus as features
from paperboy.jobs.cli import cli
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.mailing.send import make_transport
from paperboy.jobs.ranking.corpus import (
    FORMAT,
    build_index,
    index_after_fetch,
    load_corpus,
    read_index,
    read_info,
    refresh_index,
    write_index,
)
from paperboy.jobs.storage import Storage
from tests.jobs.test_index_format import _container, _npz
from tests.jobs.test_pipeline import NOW, SAVED, config_for, load_sample


@pytest.fixture
def outbox_config(tmp_path: Path) -> Config:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'paperboy.db'}", 25)
    return replace(config, email=replace(config.email, transport="outbox"))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    features._cache.clear()


def test_index_lives_next_to_the_config_by_default(outbox_config: Config, tmp_path: Path) -> None:
    assert outbox_config.index == tmp_path / "paperboy.index"


def test_refresh_builds_an_index_of_every_stored_paper(
    outbox_config: Config, database_url: str
) -> None:
    config = replace(outbox_config, database=database_url)
    with Storage.open(config.database) as storage:
        assert refresh_index(config, storage) is None  # nothing stored: nothing to index
        assert not config.index.exists()
        load_sample(storage)
        info = refresh_index(config, storage)
        assert info is not None and info.papers == storage.count_papers()
        index, header = read_index(config.index)
        assert header == info and header.format == FORMAT
        assert set(index.ids) == {p.id for p in storage.recent_papers(10_000)}
        assert read_info(config.index) == info


def test_digest_loads_the_index_once_for_all_users(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    others = "".join(
        f'\n[[users]]\nname = "u{i}"\nemail = "u{i}@example.org"\nsaved = ["{pid}"]\n'
        for i, pid in enumerate(p.id for p in SAVED[:3])
    )
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'paperboy.db'}", 25, others)
    config = replace(config, email=replace(config.email, transport="outbox"))
    calls: list[Path] = []
    real = features.read_index

    def counting(path: Path) -> object:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(features, "read_index", counting)
    with Storage.open(config.database) as storage:
        load_sample(storage)
        refresh_index(config, storage)
        corpus = load_corpus(config, storage)
        assert corpus.index is not None and len(corpus.background) > 0
        assert load_corpus(config, storage) is corpus  # cached while the file is unchanged
        results = run_digests(config, storage, now=NOW, force=True)
        assert [r.status for r in results] == ["sent"] * 4
        assert len(calls) == 1
        refresh_index(config, storage)  # a new file (new inode): loaded again
        assert load_corpus(config, storage) is not corpus
        assert len(calls) == 2


def test_digest_with_the_index_matches_the_digest_without(outbox_config: Config) -> None:
    """The stored index changes where the features come from, not what the user gets:
    the top of the digest is (nearly) the same as with features fitted on the spot."""
    with Storage.open(outbox_config.database) as storage:
        load_sample(storage)
        [without] = run_digests(outbox_config, storage, now=NOW, force=True, dry_run=True)
        refresh_index(outbox_config, storage)
        [with_index] = run_digests(outbox_config, storage, now=NOW, force=True, dry_run=True)
    assert without.status == with_index.status == "dry-run"
    ids_without = [r.paper.id for r in without.picked]
    ids_with = [r.paper.id for r in with_index.picked]
    assert len(ids_with) == 8
    assert len(set(ids_with) & set(ids_without)) >= 6, (ids_with, ids_without)


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "cut-short-by-one",
        "bit-flipped",
        "garbage",
        "other-format",
        "other-sklearn",
        "not-an-index",
        "missing",
    ],
)
def test_an_unusable_index_costs_speed_not_the_digest(
    outbox_config: Config, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = outbox_config
    with Storage.open(config.database) as storage:
        load_sample(storage)
        info = refresh_index(config, storage)
        assert info is not None
        data = config.index.read_bytes()
        header = data.split(b"\n", 2)[1]
        if damage == "truncated":
            config.index.write_bytes(data[: len(data) // 2])
        elif damage == "cut-short-by-one":
            config.index.write_bytes(data[:-1])
        elif damage == "bit-flipped":  # in the middle of the arrays: the zip's CRC
            middle = len(data) // 2
            config.index.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
        elif damage == "garbage":
            config.index.write_bytes(b"\x00not an index at all" * 100)
        elif damage == "other-format":
            config.index.write_bytes(data.replace(b'"format": 5', b'"format": 6', 1))
        elif damage == "other-sklearn":
            changed = header.replace(f'"{info.sklearn}"'.encode(), b'"0.1"')
            config.index.write_bytes(data.replace(header, changed, 1))
        elif damage == "not-an-index":  # a well-formed file holding other arrays
            config.index.write_bytes(_container(header, _npz(index=np.zeros(3))))
        else:
            config.index.unlink()
        with pytest.raises(StorageError) as excinfo:
            read_index(config.index)
        assert str(config.index) in str(excinfo.value)
        papers_before = storage.count_papers()
        with caplog.at_level(logging.WARNING, logger="paperboy.jobs.ranking.corpus"):
            [result] = run_digests(config, storage, now=NOW, transport=make_transport(config))
        assert result.status == "sent" and len(result.picked) == 8
        assert "ranking without a stored index" in caplog.text
        assert storage.count_papers() == papers_before
        # The next fetch, even one that stored nothing new, replaces the unusable file.
        assert index_after_fetch(config, storage, changed=False) is not None
        read_index(config.index)
        assert index_after_fetch(config, storage, changed=False) is None  # current: kept


def test_a_failed_write_leaves_the_previous_index_whole(
    outbox_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = outbox_config
    with Storage.open(config.database) as storage:
        load_sample(storage)
        first = refresh_index(config, storage)
        assert first is not None
        before = config.index.read_bytes()
        index, info = build_index(storage)

        def disk_full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(features.os, "replace", disk_full)
        with pytest.raises(StorageError, match="No space left"):
            write_index(config.index, index, info)
        assert refresh_index(config, storage) is None  # logged, not raised
    assert config.index.read_bytes() == before
    assert [p.name for p in config.index.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_kill_9_while_writing_keeps_the_previous_index(outbox_config: Config) -> None:
    """A process killed in the middle of writing leaves the old index readable."""
    config = outbox_config
    with Storage.open(config.database) as storage:
        load_sample(storage)
        refresh_index(config, storage)
    before = config.index.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        import numpy
        from paperboy.jobs.ranking.corpus import read_index, write_index
        index, info = read_index(Path({str(config.index)!r}))
        real_savez = numpy.savez
        def savez_then_die(file, **arrays):
            real_savez(file, **arrays)
            # the whole index is in the temporary file, not renamed
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        numpy.savez = savez_then_die
        write_index(Path({str(config.index)!r}), index, info)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert config.index.read_bytes() == before
    read_index(config.index)
    [leftover] = config.index.parent.glob(".paperboy.index.*.tmp")
    index, info = read_index(config.index)
    write_index(config.index, index, info)
    assert leftover.exists()  # young: it could be another write in progress
    os.utime(leftover, (0, 0))
    write_index(config.index, index, info)
    assert not leftover.exists()  # an hour old: a killed write's, removed


def test_fetch_command_builds_the_index_and_status_shows_it(tmp_path: Path) -> None:
    runner = CliRunner()
    directory = tmp_path / "demo"
    result = runner.invoke(cli, ["demo", "--dir", str(directory)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    config_file = directory / "config.toml"
    assert (directory / "paperboy.index").exists()  # the demo indexes as fetch does
    (directory / "paperboy.index").unlink()
    status = runner.invoke(cli, ["--config", str(config_file), "status"])
    assert "Index: none usable" in status.output and "no index yet" in status.output
    sample = min((Path(__file__).parents[2] / "jobs/data/sample").glob("arxiv-*.xml"))
    fetched = runner.invoke(
        cli, ["--config", str(config_file), "fetch", "--from-file", str(sample)]
    )
    assert fetched.exit_code == 0, fetched.output
    status = runner.invoke(cli, ["--config", str(config_file), "status", "--format", "json"])
    assert '"index"' in status.output and '"papers"' in status.output
    info = read_info(directory / "paperboy.index")
    assert info.papers > 400
    assert os.stat(directory / "paperboy.index").st_size > 0


def test_the_shared_background_leaves_out_the_last_weeks_listings(tmp_path: Path) -> None:
    """Recent papers are (or were) someone's candidates: the background is drawn from
    older ones, so it is the same request for every user (served from memory)."""
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'paperboy.db'}", 25)
    clock = [NOW - timedelta(days=60)]
    with Storage.open(config.database, now=lambda: clock[0]) as storage:
        load_sample(storage, days=3)  # listed 60 days ago
        old = storage.listed_ids(after=clock[0] - timedelta(seconds=1))
        clock[0] = NOW
        load_sample(storage)  # the fourth day: listed now
        new = storage.listed_ids(after=NOW - timedelta(days=1))
        assert old and new and not old & new
        refresh_index(config, storage)
        corpus = load_corpus(config, storage, background_size=len(old), now=NOW)
    background = {p.id for p in corpus.background}
    assert background and not background & new
    assert background <= old | {r.id for r in SAVED}


def test_index_command_rebuilds_and_reports(tmp_path: Path) -> None:
    runner = CliRunner()
    directory = tmp_path / "demo"
    assert runner.invoke(cli, ["demo", "--dir", str(directory)]).exit_code == 0
    config_file = str(directory / "config.toml")
    index_file = directory / "paperboy.index"
    index_file.write_bytes(b"left by an older Paperboy")
    result = runner.invoke(cli, ["--config", config_file, "index", "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["path"] == str(index_file) and row["papers"] == read_info(index_file).papers
    read_index(index_file)
    before = index_file.read_bytes()
    # Where the file cannot be written: exit 1 and a clear error.
    text = Path(config_file).read_text()
    (directory / "a-file").write_text("not a folder")
    Path(config_file).write_text(
        text.replace("[paperboy]\n", '[paperboy]\nindex = "a-file/paperboy.index"\n', 1)
    )
    failed = runner.invoke(cli, ["--config", config_file, "index"])
    assert failed.exit_code == 1 and "cannot write the index" in failed.output
    assert index_file.read_bytes() == before  # the previous file is untouched


def test_index_command_on_an_empty_database(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[paperboy]\ndatabase = "sqlite:///paperboy.db"\n')
    result = CliRunner().invoke(cli, ["--config", str(config_file), "index"])
    assert result.exit_code == 0 and "nothing to index" in result.output
    assert not (tmp_path / "paperboy.index").exists()


def test_fetch_can_leave_encoding_to_the_daemon(tmp_path: Path) -> None:
    """`paperboy fetch --encode-for 0` (a big import) stores and indexes and encodes
    nothing: the daemon's encode job or `paperboy index` does that later."""
    config_file = tmp_path / "config.toml"
    config_file.write_text('[paperboy]\ndatabase = "sqlite:///paperboy.db"\n')
    sample = Path(__file__).resolve().parents[2] / "jobs" / "data" / "sample"
    day = sorted(sample.glob("arxiv-*.xml"))[0]
    result = CliRunner().invoke(
        cli,
        ["--config", str(config_file), "fetch", "--from-file", str(day), "--encode-for", "0"],
    )
    assert result.exit_code == 0, result.output
    with Storage.open(f"sqlite:///{tmp_path / 'paperboy.db'}") as storage:
        from paperboy.recommender.encoder import MODEL_ID

        assert storage.count_papers() > 0 and storage.count_embeddings(MODEL_ID) == 0
