"""Embeddings stored once per paper: storage, incremental encoding, kill -9, the commands."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import paperboy.recommender.encoder as encoder_module
from paperboy.jobs.cli import cli
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.ranking.embedding_cache import text_hash as cache_text_hash
from paperboy.jobs.ranking.encoding import encode_missing, encode_stored, stored_text_hash
from paperboy.jobs.storage import Storage, StoredPaper
from paperboy.recommender.encoder import (
    MODEL_ID,
    Encoder,
    encoder_text,
    load_encoder,
    text_hash,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def fixture_papers(n: int) -> list[SourcePaper]:
    """``n`` distinct papers made from the 20 real abstracts of the encoder fixture."""
    with (FIXTURES / "encoder" / "papers.jsonl").open(encoding="utf-8") as f:
        real = [json.loads(line) for line in f]
    out = []
    for i in range(n):
        r = real[i % len(real)]
        title = r["title"] if i < len(real) else f"{r['title']} (part {i // len(real) + 1})"
        out.append(
            SourcePaper(
                id=f"2601.{i:05d}",
                title=title,
                abstract=r["abstract"],
                authors=("A. Author",),
                categories=("cs.LG",),
                link=f"https://arxiv.org/abs/2601.{i:05d}",
            )
        )
    return out


class Clock:
    """Storage time that moves one second per reading."""

    def __init__(self) -> None:
        self.t = datetime(2026, 7, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    with Storage.open(database_url, now=Clock()) as s:
        yield s


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder()


def test_store_read_count_and_what_is_missing(storage: Storage) -> None:
    papers = fixture_papers(5)
    storage.upsert_papers(papers, source="arxiv", listed=True)
    missing = _missing(storage, 10)
    assert {p.id for p in missing} == {p.id for p in papers}
    assert len(_missing(storage, 2)) == 2
    rng = np.random.default_rng(0)
    vectors = {p.id: rng.standard_normal(384).astype(np.float32) for p in papers[:3]}
    rows = [(pid, stored_text_hash(p), vectors[pid]) for p in papers[:3] if (pid := p.id)]
    assert storage.store_embeddings(MODEL_ID, rows) == 3
    assert storage.count_embeddings(MODEL_ID) == 3
    assert storage.count_embeddings("another-model") == 0
    got = storage.embeddings([p.id for p in papers], MODEL_ID)
    assert set(got) == {p.id for p in papers[:3]}
    for pid, v in vectors.items():
        assert got[pid].dtype == np.float32 and got[pid].shape == (384,)
        np.testing.assert_allclose(got[pid], v, rtol=1e-3, atol=1e-3)  # stored as float16
    assert {p.id for p in _missing(storage, 10)} == {p.id for p in papers[3:]}
    # storing again replaces, never duplicates
    storage.store_embeddings(MODEL_ID, rows[:1])
    assert storage.count_embeddings(MODEL_ID) == 3


def test_a_changed_text_is_encoded_again_other_changes_are_not(
    storage: Storage, encoder: Encoder
) -> None:
    papers = fixture_papers(3)
    storage.upsert_papers(papers, source="arxiv", listed=True)
    assert encode_missing(storage, encoder) == 3
    assert _missing(storage, 10) == []
    first = storage.embeddings([papers[0].id], MODEL_ID)[papers[0].id]
    # a new category changes the row but not the text: the vector stays, and is not redone
    storage.upsert_papers(
        [SourcePaper(**{**_fields(papers[1]), "categories": ("cs.LG", "cs.CL")})],
        source="arxiv",
        listed=True,
    )
    assert _missing(storage, 10) == []
    # a revised abstract (version 2) makes the paper due again
    revised = SourcePaper(**{**_fields(papers[0]), "abstract": "A new abstract.", "version": 2})
    storage.upsert_papers([revised], source="arxiv", listed=True)
    assert [p.id for p in _missing(storage, 10)] == [papers[0].id]
    assert encode_missing(storage, encoder) == 1
    again = storage.embeddings([papers[0].id], MODEL_ID)[papers[0].id]
    assert float(first @ again) < 0.99  # another text, another vector
    expected = encoder.encode([encoder_text(revised.title, revised.abstract)])[0]
    assert float(again @ expected) > 0.999
    assert storage.count_embeddings(MODEL_ID) == 3


def test_the_stored_text_hash_is_what_it_always_was() -> None:
    """The embeddings table keeps each vector's text hash: a new recipe would make every
    stored paper look changed and be encoded again. The digests below were computed with
    the code before storage stopped hashing (jobs/storage's text_hash(title, abstract))."""
    title = "  Attention Is\n All You Need "
    abstract = "The dominant  sequence transduction models\tare based on ... Ünïcode — “quotes”."
    assert text_hash(encoder_text(title, abstract)) == (
        "a6c0e71ef5ab02346a05721b1b81b485a512a32e0ac636463d9b0fcae8720f83"
    )
    assert text_hash(encoder_text("", "")) == (
        "8dccf256f6d5783e62bba717ef04a6cfcea41d9befffa5ade55235e0b6a0eeb0"
    )
    paper = StoredPaper("2401.00001", title, abstract, (), (), 1, None, None, None, None)
    assert stored_text_hash(paper) == text_hash(encoder_text(title, abstract))
    assert cache_text_hash is text_hash  # the one-off cache keys vectors the same way


def test_vectors_of_the_model_before_are_not_used_and_are_encoded_again(
    storage: Storage,
) -> None:
    """An upgrade that changes the model's id (the 7-bit weights of 2026-12-05): the stored
    vectors of the model before neither count nor serve, and every paper is encoded
    again; nothing of the model before is overwritten."""
    papers = fixture_papers(3)
    storage.upsert_papers(papers, source="arxiv", listed=True)
    before = "all-MiniLM-L6-v2@1110a243/int8-256"
    assert before != MODEL_ID
    rows = [(p.id, stored_text_hash(p), np.ones(384, dtype=np.float32)) for p in papers]
    storage.store_embeddings(before, rows)
    ids = [p.id for p in papers]
    assert storage.count_embeddings(MODEL_ID) == 0
    assert storage.embeddings(ids, MODEL_ID) == {}
    assert {p.id for p in _missing(storage, 10)} == set(ids)
    storage.store_embeddings(MODEL_ID, rows[:1])
    assert {p.id for p in _missing(storage, 10)} == set(ids[1:])
    assert storage.count_embeddings(before) == 3


def _missing(storage: Storage, limit: int) -> list[StoredPaper]:
    return storage.papers_missing_embeddings(MODEL_ID, limit, text_hash_of=stored_text_hash)


def _fields(p: SourcePaper) -> dict[str, object]:
    return {f: getattr(p, f) for f in SourcePaper.__dataclass_fields__}


def test_encode_missing_stores_the_encoder_vectors_batch_by_batch(
    storage: Storage, encoder: Encoder
) -> None:
    papers = fixture_papers(23)
    storage.upsert_papers(papers, source="arxiv", listed=True)
    seen: list[tuple[int, int]] = []
    assert (
        encode_missing(storage, encoder, batch=10, progress=lambda d, t: seen.append((d, t))) == 23
    )
    assert seen == [(10, 23), (20, 23), (23, 23)]
    stored = storage.embeddings([p.id for p in papers], MODEL_ID)
    direct = encoder.encode([encoder_text(p.title, p.abstract) for p in papers])
    for p, v in zip(papers, direct, strict=True):
        assert float(stored[p.id] @ v) > 0.9999
    assert encode_missing(storage, encoder) == 0  # nothing left: a rerun is a no-op


def test_stop_is_asked_between_batches(storage: Storage, encoder: Encoder) -> None:
    storage.upsert_papers(fixture_papers(12), source="arxiv", listed=True)
    calls = iter([False, True])
    assert encode_missing(storage, encoder, batch=5, stop=lambda: next(calls)) == 5
    assert storage.count_embeddings(MODEL_ID) == 5
    assert encode_missing(storage, encoder, batch=5) == 7


def test_encode_stored_keeps_to_its_budget(storage: Storage) -> None:
    storage.upsert_papers(fixture_papers(4), source="arxiv", listed=True)
    ticks = iter(range(100))
    done = encode_stored(storage, seconds=0.5, clock=lambda: float(next(ticks)))
    assert done.encoded == 0 and done.missing == 4 and done.error is None
    assert "Encoded 0 papers" in str(done.summary()) and "4 left" in str(done.summary())
    done = encode_stored(storage, seconds=None)
    assert (done.encoded, done.missing, done.model_id) == (4, 0, MODEL_ID)
    assert encode_stored(storage).summary() is None  # nothing to do, nothing to say


def test_a_broken_encoder_is_logged_not_raised(
    storage: Storage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage.upsert_papers(fixture_papers(2), source="arxiv", listed=True)
    monkeypatch.setattr(encoder_module, "MODEL_DIR", tmp_path / "no-model")
    monkeypatch.setattr(encoder_module, "_CACHE", {})
    with caplog.at_level(logging.WARNING):
        done = encode_stored(storage)
    assert done.encoded == 0 and done.error and "model file missing" in done.error
    assert "papers not encoded" in caplog.text
    assert str(done.summary()).startswith("Papers not encoded: encoder model file missing")
    assert storage.count_papers() == 2  # nothing stored is lost


WORKER = textwrap.dedent(
    """
    import sys
    from paperboy.jobs.ranking.encoding import encode_missing
    from paperboy.jobs.storage import Storage, StoredPaper
    from paperboy.recommender.encoder import load_encoder

    with Storage.open(sys.argv[1]) as storage:
        encode_missing(
            storage,
            load_encoder(),
            batch=8,
            progress=lambda done, total: print(done, flush=True),
        )
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_kill_9_mid_run_then_a_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    papers = fixture_papers(120)
    with Storage.open(url) as s:
        s.upsert_papers(papers, source="arxiv", listed=True)
    child = subprocess.Popen(
        [sys.executable, "-c", WORKER, url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == "finished" or int(line) >= 24:  # three batches committed
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with Storage.open(url) as s:
        partial = s.count_embeddings(MODEL_ID)
    assert 24 <= partial < 120, "the kill came too late to test anything"
    rerun = subprocess.run(
        [sys.executable, "-c", WORKER, url], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0 and "finished" in rerun.stdout, rerun.stderr
    with Storage.open(url) as s:
        assert s.count_embeddings(MODEL_ID) == 120
        assert _missing(s, 10) == []
        stored = s.embeddings([p.id for p in papers], MODEL_ID)
    encoder = load_encoder()
    direct = encoder.encode([encoder_text(p.title, p.abstract) for p in papers])
    for p, v in zip(papers, direct, strict=True):  # every vector whole and right
        assert float(stored[p.id] @ v) > 0.9999


def test_index_encodes_what_is_missing_and_status_counts_it(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    config = str(tmp_path / "config.toml")
    code = runner.invoke(cli, ["--config", config, "status"]).exit_code
    assert code in (0, 1)
    feed = FIXTURES / "arxiv-rss" / "arxiv-rss-2025-08-06-40.xml"
    fetched = runner.invoke(cli, ["--config", config, "fetch", "--from-file", str(feed)])
    assert fetched.exit_code == 0, fetched.output
    url = _database_url(tmp_path)
    with Storage.open(url) as s:
        total = s.count_papers()
        assert s.count_embeddings(MODEL_ID) == total > 0  # the fetch encoded its papers
        s.upsert_papers(fixture_papers(3), source="arxiv", listed=True)
    status = runner.invoke(cli, ["--config", config, "status"])
    assert f"Embeddings: {total} of {total + 3} papers encoded ({MODEL_ID})" in status.output
    indexed = runner.invoke(cli, ["--config", config, "index", "--format", "json"])
    assert indexed.exit_code == 0, indexed.output
    [row] = json.loads(indexed.stdout)
    assert "encoded 3 of 3 papers" in indexed.stderr  # a line per batch when not on a terminal
    assert row["embeddings"] == {"model": MODEL_ID, "encoded": 3, "missing": 0, "error": None}
    status = runner.invoke(cli, ["--config", config, "status", "--format", "json"])
    state = json.loads(status.stdout)
    assert state["embeddings"]["model"] == MODEL_ID
    assert state["embeddings"]["encoded"] == total + 3


def _database_url(directory: Path) -> str:
    from paperboy.jobs.config.load import load_config

    return load_config(directory / "config.toml").database


# --- the digest run's vectors (jobs.ranking.encoding.vectors_for) ----------------------------


class CountingEncoder:
    """The real encoder, counting the texts it was given."""

    def __init__(self, real: Encoder) -> None:
        self.real, self.model_id = real, real.model_id
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.real.encode(texts)


def test_a_run_reads_stored_vectors_and_encodes_only_lagging_profile_papers(
    storage: Storage, encoder: Encoder
) -> None:
    from paperboy.jobs.ranking.corpus import to_paper
    from paperboy.jobs.ranking.encoding import vectors_for

    stored = fixture_papers(8)
    storage.upsert_papers(stored, source="arxiv", listed=True)
    counting = CountingEncoder(encoder)
    encode_missing(storage, counting)
    assert len(counting.texts) == 8
    late = fixture_papers(12)[8:]  # stored after the encoder ran: no vectors yet
    storage.upsert_papers(late, source="arxiv", listed=True)
    papers = {
        pid: to_paper(p)
        for pid, p in storage.get_papers([p.id for p in fixture_papers(12)]).items()
    }
    candidates = [papers[p.id] for p in [*stored[:6], *late[:2]]]
    saved = [papers[late[2].id]]
    counting.texts.clear()
    vectors = vectors_for(storage, candidates, profiles=saved, encoder=counting)
    assert counting.texts == [encoder_text(saved[0].title, saved[0].abstract)]
    assert {p.id for p in stored[:6]} | {late[2].id} == set(vectors.row_of)
    assert late[0].id not in vectors  # a candidate is never waited for
    # The saved paper's vector was stored: the next run does not encode it again.
    assert late[2].id in storage.embeddings([late[2].id], MODEL_ID)
    counting.texts.clear()
    vectors_for(storage, candidates, profiles=saved, encoder=counting)
    assert counting.texts == []


def test_a_broken_encoder_leaves_the_run_with_what_is_stored(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    from paperboy.jobs.ranking.corpus import to_paper
    from paperboy.jobs.ranking.encoding import vectors_for
    from paperboy.recommender.encoder import EncoderError

    class Broken:
        model_id = MODEL_ID

        def encode(self, texts: list[str]) -> np.ndarray:
            raise EncoderError("model.onnx is damaged")

    storage.upsert_papers(fixture_papers(3), source="arxiv", listed=True)
    papers = [to_paper(p) for p in storage.get_papers([p.id for p in fixture_papers(3)]).values()]
    with caplog.at_level(logging.WARNING):
        vectors = vectors_for(storage, papers[:2], profiles=papers[2:], encoder=Broken())
    assert len(vectors) == 0 and "damaged" in caplog.text


def test_a_runs_batches_read_the_shared_vectors_once(storage: Storage, encoder: Encoder) -> None:
    from sqlalchemy import delete

    from paperboy.jobs.ranking.corpus import to_paper
    from paperboy.jobs.ranking.encoding import vectors_for
    from paperboy.jobs.storage.schema import embeddings

    storage.upsert_papers(fixture_papers(10), source="arxiv", listed=True)
    encode_missing(storage, encoder)
    papers = [to_paper(p) for p in storage.get_papers([p.id for p in fixture_papers(10)]).values()]
    shared, saved = papers[:8], papers[8:]
    alone = vectors_for(storage, shared, profiles=saved, encoder=encoder)
    known: dict[str, np.ndarray] = {}
    first = vectors_for(storage, shared, profiles=saved, encoder=encoder, known=known)
    assert set(known) == {p.id for p in shared}  # profile papers are not kept: they grow
    for pid in alone.row_of:
        assert np.array_equal(first.matrix[first.row_of[pid]], alone.matrix[alone.row_of[pid]])
    # The next batch takes the shared vectors from `known`, not from the database.
    with storage.engine.begin() as conn:
        conn.execute(delete(embeddings).where(embeddings.c.paper_id == shared[0].id))
    later = vectors_for(storage, shared, profiles=saved, encoder=encoder, known=known)
    assert set(later.row_of) == set(alone.row_of)
    assert shared[0].id not in vectors_for(storage, shared, profiles=saved, encoder=encoder)
