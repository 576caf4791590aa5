"""The sample's bundled vectors (jobs/data/sample/vectors.npz): what the shipped encoder
gives for the sample's papers, so that `paperboy demo` need not encode them (14 s of its
16 s before), and used only where they are what encoding would store."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.ranking.encoding import stored_text_hash
from paperboy.jobs.runners import demo
from paperboy.jobs.storage import Storage
from paperboy.recommender import encoder as encoder_module
from paperboy.recommender.encoder import MODEL_ID, encoder_text, load_encoder

NOW = datetime(2026, 7, 1, 6, tzinfo=UTC)


def bundled() -> dict[str, np.ndarray]:
    with (demo.sample_dir() / demo.VECTORS_FILE).open("rb") as f, np.load(f) as data:
        return {key: data[key] for key in data.files}


def sample_storage(tmp_path: Path) -> Storage:
    (tmp_path / "config.toml").write_text(demo.demo_config(), encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    storage = Storage.open(config.database)
    demo.store_sample(config, storage)
    demo.ingest_sample_trending(storage, NOW.date())
    return storage


def test_the_bundled_vectors_are_the_shipped_encoders_for_every_sample_paper(
    tmp_path: Path,
) -> None:
    """Same encoder, every stored paper covered, and a sample of them encoded again
    matches (float16 as stored). Regenerate with
    `python -m paperboy.jobs.runners.demo --write-vectors` when the encoder or the
    sample changes.

    The model's weights are 7-bit (scripts/export_encoder.py), so no sum of products can
    saturate and a CPU with VNNI and one with AVX2 only compute the same integer sums.
    With 8-bit weights an AVX2-only CPU (AMD EPYC) gave vectors within cosine
    0.987-0.999 of the VNNI machine's that wrote this file (mean 0.993 over 40 sample
    papers): this test caught it there."""
    data = bundled()
    assert str(data["model_id"]) == MODEL_ID
    with sample_storage(tmp_path) as storage:
        papers = {p.id: p for p in storage.recent_papers(storage.count_papers())}
    by_id = dict(zip(map(str, data["ids"]), map(str, data["hashes"]), strict=True))
    assert set(by_id) == set(papers)  # every paper the demo stores, no other
    assert all(by_id[pid] == stored_text_hash(p) for pid, p in papers.items())
    rows = {str(pid): i for i, pid in enumerate(data["ids"])}
    chosen = random.Random(0).sample(sorted(papers), 12)
    fresh = load_encoder().encode(
        [encoder_text(papers[pid].title, papers[pid].abstract) for pid in chosen]
    )
    stored = np.stack([data["vectors"][rows[pid]].astype(np.float32) for pid in chosen])
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    cosines = fresh @ stored.T  # fresh rows are unit vectors
    own = np.diag(cosines)
    assert own.min() > 0.999, dict(zip(chosen, own.round(4), strict=True))
    assert (cosines.argmax(axis=1) == np.arange(len(chosen))).all()


def test_the_demo_runs_without_loading_the_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_encoder(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo loaded the encoder: its vectors are bundled")

    monkeypatch.setattr(encoder_module, "load_encoder", no_encoder)
    result = demo.run_demo(tmp_path / "demo")
    [digest] = result.digests
    assert digest.status == "sent" and len(digest.picked) == 10
    with Storage.open(result.config.database) as storage:
        assert storage.count_embeddings(MODEL_ID) == storage.count_papers() == 522


def test_a_vector_is_used_only_for_the_text_it_was_computed_from(tmp_path: Path) -> None:
    """A paper whose text is not the bundled vector's (the parser changed, say) is left
    to the encoder; vectors of another encoder are not used at all."""
    data = bundled()
    hashes = data["hashes"].copy()
    hashes[0] = "0" * 64
    changed = tmp_path / "changed.npz"
    np.savez_compressed(changed, **{**data, "hashes": hashes})
    other = tmp_path / "other.npz"
    np.savez_compressed(other, **{**data, "model_id": np.array("another-encoder")})
    with sample_storage(tmp_path) as storage:
        assert demo.store_sample_vectors(storage, other) == 0
        assert demo.store_sample_vectors(storage, changed) == len(hashes) - 1
        assert storage.embeddings([str(data["ids"][0])], MODEL_ID) == {}
        assert demo.store_sample_vectors(storage) == 1  # the right one, now
