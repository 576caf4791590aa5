"""The shipped sentence encoder against reference vectors computed with sentence-transformers.

The fixture (tests/fixtures/encoder/) holds 20 real seed-corpus papers and their
all-MiniLM-L6-v2 vectors from the reference forward pass (256 tokens, mean pooling, L2):
the bundled int8 ONNX model must stay within cosine 0.99 of each.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paperboy.recommender.encoder import (
    DIM,
    MODEL_DIR,
    MODEL_ID,
    Encoder,
    EncoderError,
    encoder_text,
    load_encoder,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "encoder"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder()


@pytest.fixture(scope="module")
def papers() -> list[dict[str, str]]:
    with (FIXTURES / "papers.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def texts(papers: list[dict[str, str]]) -> list[str]:
    return [encoder_text(p["title"], p["abstract"]) for p in papers]


def test_encoder_text_is_the_reference_recipe() -> None:
    assert encoder_text("  A  title\n", "An\tabstract  here ") == "A title. An abstract here"


def test_vectors_match_the_reference(encoder: Encoder, papers: list[dict[str, str]]) -> None:
    reference = np.load(FIXTURES / "reference.npz")
    assert [str(i) for i in reference["ids"]] == [p["id"] for p in papers]
    ref = reference["emb"].astype(np.float32)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    got = encoder.encode([encoder_text(p["title"], p["abstract"]) for p in papers])
    assert got.dtype == np.float32 and got.shape == (len(papers), DIM)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(got * ref, axis=1)
    ids = [p["id"] for p in papers]
    assert cosines.min() >= 0.99, dict(zip(ids, cosines.round(4), strict=True))
    # and the vectors carry meaning: each paper is nearest to its own reference vector
    assert (np.argmax(got @ ref.T, axis=1) == np.arange(len(papers))).all()


class CountingSession:
    """The encoder's ONNX session, counting runs and the rows of each."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.rows: list[int] = []

    def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
        self.rows.append(int(feeds["input_ids"].shape[0]))
        return self.session.run(names, feeds)


def test_neighbours_and_order_do_not_change_vectors(texts: list[str]) -> None:
    """A paper's vector is the same whichever papers are encoded with it and in what order:
    each text is its own model run (int8 activation scales are per run; a padded batch
    would make a vector depend on its neighbours), and there is no batch size to ignore."""
    encoder = Encoder()
    counting = CountingSession(encoder._session)
    encoder._session = counting
    together = encoder.encode(texts)
    assert counting.rows == [1] * len(texts)  # one unpadded run per text
    alone = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    reversed_rows = encoder.encode(texts[::-1])[::-1]
    np.testing.assert_allclose(together, reversed_rows, atol=1e-5)
    assert "batch_size" not in inspect.signature(Encoder.encode).parameters


def test_empty_input_gives_no_rows(encoder: Encoder) -> None:
    assert encoder.encode([]).shape == (0, DIM)


def test_long_text_is_truncated_to_max_tokens(encoder: Encoder, texts: list[str]) -> None:
    long_text = " ".join(texts) * 5  # tens of thousands of tokens
    head = encoder.encode([long_text])
    assert head.shape == (1, DIM) and np.isfinite(head).all()
    # only the first 256 tokens count: appending more text changes nothing
    np.testing.assert_allclose(head, encoder.encode([long_text + " unrelated words"]), atol=1e-5)


def test_markup_empty_and_odd_text_encode(encoder: Encoder) -> None:
    odd = [
        "<script>alert('x')</script> & <b>bold</b>",
        r"Bounds for $\alpha$-mixing: $\sum_{i=1}^n \mathbb{E}[X_i^2] \leq \frac{C}{\epsilon}$",
        "",
        ". ",
        "日本語のテキストと emoji 🙂",
    ]
    vectors = encoder.encode(odd)
    assert vectors.shape == (len(odd), DIM) and np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_string_is_not_a_list_of_texts(encoder: Encoder) -> None:
    with pytest.raises(TypeError):
        encoder.encode("one text")  # type: ignore[arg-type]


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="model file missing"):
        Encoder(tmp_path / "nowhere")


def test_corrupt_model_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copy(MODEL_DIR / "tokenizer.json", tmp_path / "tokenizer.json")
    data = (MODEL_DIR / "model.onnx").read_bytes()
    (tmp_path / "model.onnx").write_bytes(data[: len(data) // 3])  # cut short
    with pytest.raises(EncoderError, match="unreadable"):
        Encoder(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EncoderError, match="tokenizer unreadable"):
        Encoder(tmp_path)


def test_load_encoder_is_cached_per_process() -> None:
    assert load_encoder() is load_encoder()
    assert load_encoder().threads == 1


def test_model_files_ship_with_license_and_notice() -> None:
    notice = (MODEL_DIR / "NOTICE").read_text(encoding="utf-8")
    assert "all-MiniLM-L6-v2" in notice and "1110a243" in notice and "53aa5117" in notice
    assert "Apache License" in (MODEL_DIR / "LICENSE").read_text(encoding="utf-8")
    assert MODEL_ID.startswith("all-MiniLM-L6-v2@1110a243/")


@pytest.mark.parametrize(
    "module", ["paperboy.recommender", "paperboy.jobs.cli", "paperboy.recommender.encoder"]
)
def test_importing_does_not_load_onnxruntime(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "loaded = [m for m in ('onnxruntime', 'tokenizers') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"importing {module} loaded {done.stdout.strip()}"
