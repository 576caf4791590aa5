"""Sentence embeddings of papers that are not in a database: one-off rankings of files.

``paperboy rank --saved F --candidates C`` ranks papers read from files. Encoding costs
about 50 ms a paper, so the vectors are kept in a small SQLite file keyed by the model
and a hash of the exact text encoded: ranking the same files again, or tomorrow's file
against the same saved papers, encodes only what is new.

    vectors = cached_embeddings(papers)            # recommender.Embeddings, by paper id
    keep_embeddings(papers, vectors)               # vectors computed elsewhere, kept

The cache lives in ``$PAPERBOY_CACHE`` (a file), else
``$XDG_CACHE_HOME/paperboy/embeddings.sqlite`` (``~/.cache`` by default). A cache that
cannot be opened or written is not an error: the vectors are computed all the same, and
a warning says why they were not kept.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import numpy.typing as npt

from paperboy import recommender
from paperboy.jobs.core.errors import StorageError
from paperboy.recommender.encoder import text_hash

__all__ = ["cache_path", "cached_embeddings", "keep_embeddings"]

log = logging.getLogger(__name__)

Encode = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def cache_path() -> Path:
    """Where one-off embeddings are kept (see the module's docstring)."""
    explicit = os.environ.get("PAPERBOY_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "paperboy" / "embeddings.sqlite"


_VECTORS = (
    "CREATE TABLE IF NOT EXISTS vectors ("
    " model TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL,"
    " PRIMARY KEY (model, hash))"
)


def open_cache(path: Path, table: str = _VECTORS) -> sqlite3.Connection:
    """The cache file at `path` (made if missing), with `table` (its CREATE TABLE IF NOT
    EXISTS statement; the vectors' by default) in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.execute(table)
    return conn


def _lookup(path: Path, model: str, hashes: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with closing(open_cache(path)) as conn:
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                [model, *chunk],
            )
            found.update((h, bytes(v)) for h, v in rows)
    return found


def _store(path: Path, model: str, rows: list[tuple[str, bytes]]) -> None:
    with closing(open_cache(path)) as conn, conn:
        conn.executemany(
            "INSERT OR REPLACE INTO vectors (model, hash, vector) VALUES (?, ?, ?)",
            [(model, h, v) for h, v in rows],
        )


def cached_embeddings(
    papers: Sequence[recommender.Paper],
    *,
    path: Path | None = None,
    encode: Encode | None = None,
    model_id: str | None = None,
    encode_at_most: int | None = None,
) -> recommender.Embeddings:
    """The papers' embeddings by id, from the cache where it has them, else encoded now.

    ``encode`` and ``model_id`` default to the shipped encoder (tests pass their own).
    ``encode_at_most`` bounds the papers encoded in this call (None: all); the others
    not in the cache are left out of the result (a later call encodes them).
    """
    from paperboy.recommender.encoder import DIM, MODEL_ID, encoder_text, load_encoder

    model = model_id or MODEL_ID
    unique = {p.id: p for p in papers}
    texts = {pid: encoder_text(p.title, p.abstract) for pid, p in unique.items()}
    hashes = {pid: text_hash(t) for pid, t in texts.items()}
    where = path or cache_path()
    try:
        known = _lookup(where, model, sorted(set(hashes.values())))
    except (OSError, sqlite3.Error) as e:
        log.warning("embedding cache %s unusable (%s): encoding every paper", where, e)
        known = {}
    todo = sorted({h: pid for pid, h in hashes.items() if h not in known}.items())
    if encode_at_most is not None:
        todo = todo[: max(encode_at_most, 0)]
    if todo:
        run = encode or load_encoder().encode
        fresh = np.asarray(run([texts[pid] for _, pid in todo]), dtype=np.float32)
        rows = [(h, fresh[i].tobytes()) for i, (h, _) in enumerate(todo)]
        known.update(rows)
        try:
            _store(where, model, rows)
        except (OSError, sqlite3.Error) as e:
            log.warning("embedding cache %s not written (%s)", where, e)
    ids = [pid for pid in unique if hashes[pid] in known]
    if not ids:
        return recommender.Embeddings.from_mapping({}, DIM)
    matrix = np.vstack([np.frombuffer(known[hashes[pid]], dtype=np.float32) for pid in ids])
    return recommender.Embeddings.from_arrays(ids, matrix)


def keep_embeddings(
    papers: Sequence[recommender.Paper],
    vectors: Mapping[str, npt.ArrayLike],
    *,
    path: Path | None = None,
    model_id: str | None = None,
) -> int:
    """Keep vectors computed elsewhere (``vectors``: by paper id, as the encoder gave them)
    for the papers that have one, keyed by their text as :func:`cached_embeddings` looks
    them up; returns how many. StorageError when the cache cannot be written.

    ``model_id`` (default: the shipped encoder's) must be the model that made them: e.g.
    benchmarks/embed_cache.py's file of every listing's vectors, so a benchmark of
    one-off rankings starts from a cache that has seen every paper.
    """
    from paperboy.recommender.encoder import MODEL_ID, encoder_text

    rows: dict[str, bytes] = {}
    for p in papers:
        if p.id in vectors:
            row = np.asarray(vectors[p.id], dtype=np.float32)
            rows[text_hash(encoder_text(p.title, p.abstract))] = row.tobytes()
    where = path or cache_path()
    try:
        _store(where, model_id or MODEL_ID, sorted(rows.items()))
    except (OSError, sqlite3.Error) as e:
        raise StorageError(f"embedding cache {where} not written: {e}") from e
    return len(rows)
