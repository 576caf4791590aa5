"""One-off rankings keep their sentence embeddings in a small cache file."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.ranking.embedding_cache import cache_path, cached_embeddings, keep_embeddings
from paperboy.recommender import Embeddings, Paper
from tests.recommender.corpus import ALL, NLP


class CountingEncoder:
    """A stand-in encoder: a vector from the text's bytes, counting what it encodes."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, t in enumerate(texts):
            data = np.frombuffer(t.encode()[:8].ljust(8, b" "), dtype=np.uint8)
            out[i] = data.astype(np.float32)
        return out


def test_each_text_is_encoded_once(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    enc = CountingEncoder()
    first = cached_embeddings(ALL[:6], path=path, encode=enc, model_id="m")
    assert len(enc.encoded) == 6 and len(first) == 6
    again = cached_embeddings([*ALL[:6], ALL[6]], path=path, encode=enc, model_id="m")
    assert len(enc.encoded) == 7  # only the new paper
    assert np.allclose(again.rows(ALL[:6])[0], first.rows(ALL[:6])[0])
    edited = Paper(id=ALL[0].id, title="Another title altogether", abstract=ALL[0].abstract)
    cached_embeddings([edited], path=path, encode=enc, model_id="m")
    assert len(enc.encoded) == 8  # the text changed: encoded again
    cached_embeddings(ALL[:1], path=path, encode=enc, model_id="other-model")
    assert len(enc.encoded) == 9  # another model's vectors are not these


def test_an_unusable_cache_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    enc = CountingEncoder()
    with caplog.at_level(logging.WARNING):
        vectors = cached_embeddings(
            ALL[:3], path=blocker / "cache.sqlite", encode=enc, model_id="m"
        )
    assert len(vectors) == 3 and len(enc.encoded) == 3
    assert "unusable" in caplog.text and "not written" in caplog.text
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    assert len(cached_embeddings(ALL[:3], path=garbage, encode=enc, model_id="m")) == 3


def test_cache_location_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_CACHE", str(tmp_path / "x.sqlite"))
    assert cache_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("PAPERBOY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_path() == tmp_path / "xdg" / "paperboy" / "embeddings.sqlite"


def _jsonl(path: Path, papers: Sequence[Paper]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) + "\n"
            for p in papers
        )
    )
    return path


def test_one_off_rank_uses_the_shipped_encoder_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.sqlite"
    monkeypatch.setenv("PAPERBOY_CACHE", str(cache))
    saved = _jsonl(tmp_path / "saved.jsonl", NLP[:3])
    cands = _jsonl(tmp_path / "cands.jsonl", [p for p in ALL if p not in NLP[:3]])
    args = ["-v", "rank", "--saved", str(saved), "--candidates", str(cands), "--format", "jsonl"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # stdout is data only, every line a JSON row; log lines (-v) go to stderr, which
    # result.output would mix in.
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["id"].startswith("nlp")
    with sqlite3.connect(cache) as conn:
        (count,) = conn.execute("SELECT count(*) FROM vectors").fetchone()
    assert count == len(ALL)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and again.stdout == result.stdout


def test_vectors_computed_elsewhere_are_kept_and_then_found(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    raw = CountingEncoder()([f"{p.title}. {p.abstract}" for p in ALL[:5]])
    elsewhere = {p.id: raw[i] for i, p in enumerate(ALL[:5])}
    assert keep_embeddings(ALL[:8], elsewhere, path=path, model_id="m") == 5
    enc = CountingEncoder()
    found = cached_embeddings(ALL[:8], path=path, encode=enc, model_id="m")
    assert len(enc.encoded) == 3  # only the three it was not given
    expected = Embeddings.from_mapping(elsewhere)
    assert np.array_equal(found.rows(ALL[:5])[0], expected.rows(ALL[:5])[0])


def test_vectors_that_cannot_be_kept_are_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    vectors = {ALL[0].id: np.ones(8, dtype=np.float32)}
    with pytest.raises(StorageError, match="not written"):
        keep_embeddings(ALL[:2], vectors, path=blocker / "cache.sqlite", model_id="m")
