"""The digest run's vectors: library-file papers, and whether the meaning view may vote."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.ranking.corpus import to_paper
from paperboy.jobs.ranking.encoding import stored_text_hash, vectors_for
from paperboy.jobs.storage import Storage
from paperboy.recommender import Paper
from paperboy.recommender.embeddings import MIN_MEANING_NEGATIVES
from paperboy.recommender.encoder import MODEL_ID
from tests.jobs.test_embeddings import fixture_papers


class FakeEncoder:
    """Deterministic 384-d vectors from the text, counting what it encodes."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.texts.extend(texts)
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=384) for t in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 384)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    with Storage.open(database_url) as s:
        yield s


def test_a_library_file_paper_does_not_sink_the_batch_of_stored_saved_papers(
    storage: Storage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PAPERBOY_CACHE", str(tmp_path / "cache.sqlite"))
    stored = fixture_papers(3)
    storage.upsert_papers(stored, source="arxiv", listed=True)
    saved = [to_paper(p) for p in storage.get_papers([p.id for p in stored]).values()]
    from_file = Paper(id="doi:10.1000/xyz", title="A paper from my BibTeX", abstract="Kept.")
    encoder = FakeEncoder()
    with caplog.at_level(logging.WARNING):
        vectors = vectors_for(storage, [], profiles=[*saved, from_file], encoder=encoder)
    assert "not encoded" not in caplog.text
    assert {p.id for p in saved} | {from_file.id} == set(vectors.row_of)
    # The stored saved papers' vectors are in the table; the file's paper is not sent there.
    assert set(storage.embeddings([p.id for p in saved], MODEL_ID)) == {p.id for p in saved}
    assert storage.embeddings([from_file.id], MODEL_ID) == {}
    # The next run encodes nothing: the file's paper comes from the cache.
    encoder.texts.clear()
    again = vectors_for(storage, [], profiles=[*saved, from_file], encoder=encoder)
    assert encoder.texts == [] and from_file.id in again


def _init(tmp_path: Path) -> tuple[str, str]:
    from paperboy.jobs.config.load import load_config

    assert CliRunner().invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    config = str(tmp_path / "config.toml")
    return config, load_config(Path(config)).database


def test_status_says_the_meaning_view_waits_for_background_vectors(tmp_path: Path) -> None:
    config, url = _init(tmp_path)
    papers = fixture_papers(MIN_MEANING_NEGATIVES + 50)
    rng = np.random.default_rng(0)

    def encode(some: Sequence[object]) -> list[tuple[str, str, np.ndarray]]:
        return [
            (p.id, stored_text_hash(p), rng.normal(size=384).astype(np.float32))  # type: ignore[attr-defined]
            for p in some
        ]

    with Storage.open(url) as s:
        s.upsert_papers(papers, source="arxiv", listed=True)
        s.store_embeddings(MODEL_ID, encode(papers[:120]))
    out = CliRunner().invoke(cli, ["--config", config, "status"]).output
    assert (
        f"meaning view: waiting for vectors (120 of {len(papers)} background papers "
        f"encoded, {MIN_MEANING_NEGATIVES} needed)" in out
    )
    with Storage.open(url) as s:
        s.store_embeddings(MODEL_ID, encode(papers[120:]))
    result = CliRunner().invoke(cli, ["--config", config, "status", "--format", "json"])
    background = json.loads(result.stdout)["embeddings"]["background"]
    assert background == {
        "papers": len(papers),
        "encoded": len(papers),
        "needed": MIN_MEANING_NEGATIVES,
        "meaning_view": True,
    }
    out = CliRunner().invoke(cli, ["--config", config, "status"]).output
    assert "meaning view" not in out
