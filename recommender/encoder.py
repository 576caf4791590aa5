"""The sentence encoder: a paper's text -> 384 numbers that place it by meaning.

all-MiniLM-L6-v2 (sentence-transformers), shipped inside the package as an ONNX file
(``recommender/encoder_model/``, built by ``scripts/export_encoder.py``) and run with
ONNX Runtime; the Hugging Face ``tokenizers`` library splits the text. No PyTorch and
nothing downloaded at run time. The graph ends with mean pooling over the attention mask
and L2 normalisation, so :meth:`Encoder.encode` returns unit vectors: a dot product is a
cosine.

ONNX Runtime and ``tokenizers`` are imported when an :class:`Encoder` is built, and numpy
when it encodes, never when this module is imported: commands that only name the model
(``paperboy status``: :data:`MODEL_ID`) stay quick to start.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float32]

__all__ = [
    "DIM",
    "MIN_MEANING_NEGATIVES",
    "MODEL_DIR",
    "MODEL_ID",
    "Encoder",
    "EncoderError",
    "encoder_text",
    "load_encoder",
    "text_hash",
]

# Names the vectors: any change that would change them (weights, quantisation, tokens,
# text recipe) must change this id, so stored embeddings of the old model are recomputed.
MODEL_ID = "all-MiniLM-L6-v2@1110a243/int8w7-256"
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (tokenizer says 128)
MODEL_DIR = Path(__file__).resolve().parent / "encoder_model"

# The ranker's meaning view sits out below this many negatives with a vector (kept here,
# beside the model's id, so `paperboy status` can say so without importing numpy; the
# ranker takes it from recommender.embeddings). Encoding
# runs newest first and the background is older than 30 days, so right after an upgrade
# or a big import a 5,000-paper background may have a few dozen vectors, all from its
# newest days: a 384-weight model fitted on so few (fewer points than dimensions are
# separable whatever they are about) says more about which papers happened to be encoded
# than about the user. 200 is a third of the smallest setting measured (topic profiles:
# 658 negatives; replay: 5,000) and 4 % of a full background: the view joins as soon as
# encoding has gone that far, and no benchmark number moves.
MIN_MEANING_NEGATIVES = 200


class EncoderError(RuntimeError):
    """The bundled encoder cannot be loaded or run (missing or corrupt model files)."""


def encoder_text(title: str, abstract: str) -> str:
    """The text a paper is encoded from: whitespace-normalised title + ". " + abstract."""
    return " ".join(title.split()) + ". " + " ".join(abstract.split())


def text_hash(text: str) -> str:
    """The key of one encoded text: the sha256 of its UTF-8 bytes, hex. With MODEL_ID it
    names a vector (the database's embeddings, the one-off cache): a paper whose
    ``encoder_text`` changes is encoded again. Stored values: never change the recipe."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Encoder:
    """all-MiniLM-L6-v2 on ONNX Runtime: ``encode(texts) -> float32 (n, 384)``, unit rows.

    ``threads`` sets ONNX Runtime's intra-op threads (inter-op is 1, execution sequential):
    on a small machine several one-thread processes beat one many-thread process, so the
    caller chooses. ``max_tokens`` truncates longer texts (256, as sentence-transformers).
    """

    def __init__(
        self, model_dir: Path | None = None, *, threads: int = 1, max_tokens: int = MAX_TOKENS
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if max_tokens < 8:
            raise ValueError(f"max_tokens must be >= 8, got {max_tokens}")
        folder = MODEL_DIR if model_dir is None else Path(model_dir)
        model_path = folder / "model.onnx"
        tokenizer_path = folder / "tokenizer.json"
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EncoderError(
                    f"encoder model file missing: {path} (reinstall paperboy, or rebuild it "
                    "with scripts/export_encoder.py)"
                )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as e:  # tokenizers raises its own Exception subclass
            raise EncoderError(f"encoder tokenizer unreadable: {tokenizer_path} ({e})") from e
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()  # encode() runs one text at a time: nothing to pad
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no optimiser chatter on stderr
        try:
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # ORT raises several types for unreadable or invalid graphs
            raise EncoderError(f"encoder model unreadable: {model_path} ({e})") from e
        outputs = session.get_outputs()
        if len(outputs) != 1 or outputs[0].shape[-1] != DIM:
            raise EncoderError(f"encoder model {model_path} does not output {DIM} numbers")
        self.model_dir = folder
        # Vectors of another model folder or token limit are other vectors: another id.
        default = model_dir is None and max_tokens == MAX_TOKENS
        self.model_id = MODEL_ID if default else f"{MODEL_ID}:{folder}:{max_tokens}"
        self.threads = threads
        self.max_tokens = max_tokens
        self._tokenizer = tokenizer
        self._session: Any = session

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors of ``texts`` (float32, one row each, in the input order).

        Each text goes through the model on its own: dynamic int8 quantisation takes one
        activation scale per run, so in a padded batch a paper's vector would depend on
        its neighbours (and on the padding). One text per run has no padding at all and
        measured fastest per CPU-second too (256 tokens: 63 papers/CPU-s alone, 51 in
        length-sorted batches of 32), so there is no batch size to choose. Tokenising one
        text at a time also keeps
        ``tokenizers`` from starting its own thread pool (``threads`` means what it says,
        and a process that forks later gets no warning about it).
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string")
        import numpy as np

        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = np.asarray([self._tokenizer.encode(text).ids], dtype=np.int64)
            try:
                (vector,) = self._session.run(
                    None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
                )
            except Exception as e:  # onnxruntime's errors have no common public base
                raise EncoderError(f"encoder failed on text {row}: {e}") from e
            out[row] = vector[0]
        return out


_CACHE: dict[int, Encoder] = {}
_CACHE_LOCK = threading.Lock()


def load_encoder(threads: int = 1) -> Encoder:
    """The bundled encoder, loaded once per process (and per thread count)."""
    with _CACHE_LOCK:
        encoder = _CACHE.get(threads)
        if encoder is None:
            encoder = _CACHE[threads] = Encoder(threads=threads)
        return encoder
