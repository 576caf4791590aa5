"""Papers' sentence embeddings, looked up by paper id: the ranker's second view.

An embedding is computed once per paper (by :mod:`recommender.encoder`, on the jobs
side, which stores it) and read here as one float32 matrix with an id -> row map. A paper
may have none yet (announced a minute ago, still queued for the encoder): lookups say
which rows are real, and the ranker scores such a paper with its other view.

Example::

    vectors = Embeddings.from_mapping({"2401.00001": v1, "2401.00002": v2})
    rows, has = vectors.rows(papers)   # rows[i] is papers[i]'s vector where has[i]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np
import numpy.typing as npt

# The ranker's meaning view sits out below this many negatives with a vector; defined (and
# explained) beside the encoder's model id, whose module does not import numpy.
from paperboy.recommender.encoder import MIN_MEANING_NEGATIVES
from paperboy.recommender.types import Paper

__all__ = ["MIN_MEANING_NEGATIVES", "Embeddings"]

Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

_paper_id = attrgetter("id")

MEMO_MIN = 500  # a digest run asks for the same background for every user: remember it
MEMO_SIZE = 4


@dataclass(slots=True)
class Embeddings:
    """Unit-length vectors of papers: ``matrix[row_of[id]]``. Treat as read-only."""

    matrix: Float32Array
    row_of: dict[str, int]
    _memo: dict[tuple[str, ...], tuple[Float32Array, BoolArray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def from_arrays(cls, ids: Sequence[str], matrix: npt.ArrayLike) -> Embeddings:
        """Vectors ``matrix[i]`` of papers ``ids[i]``, normalised to unit length.

        A later duplicate id replaces an earlier one. A row holding a NaN or an infinity
        (a damaged stored vector) is left out: that paper has no vector, and the ranker
        scores it with its words, as one not yet encoded. Raises ValueError when the
        shapes disagree.
        """
        m = np.asarray(matrix, dtype=np.float32)
        if m.ndim != 2 or m.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids for an array of shape {m.shape}")
        finite = np.asarray(np.isfinite(m).all(axis=1), dtype=bool)
        if not finite.all():
            ids = [ids[int(i)] for i in np.flatnonzero(finite)]
            m = m[finite]
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return cls(
            matrix=np.ascontiguousarray(m / norms, dtype=np.float32),
            row_of={pid: i for i, pid in enumerate(ids)},
        )

    @classmethod
    def from_mapping(cls, vectors: Mapping[str, npt.ArrayLike], dim: int = 0) -> Embeddings:
        """From ``{paper id: vector}``; ``dim`` is the width used when the mapping is empty."""
        ids = list(vectors)
        if not ids:
            return cls(matrix=np.zeros((0, dim), dtype=np.float32), row_of={})
        return cls.from_arrays(ids, np.vstack([np.asarray(vectors[i]) for i in ids]))

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.row_of)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self.row_of

    def merged(self, more: Embeddings) -> Embeddings:
        """These vectors plus ``more``'s (``more`` wins for an id both have)."""
        if not len(more):
            return self
        if not len(self):
            return more
        ids = [pid for pid in self.row_of if pid not in more.row_of]
        rows = np.asarray([self.row_of[pid] for pid in ids], dtype=np.int64)
        order = ids + list(more.row_of)
        return Embeddings(
            matrix=np.vstack([self.matrix[rows], more.matrix[list(more.row_of.values())]]),
            row_of={pid: i for i, pid in enumerate(order)},
        )

    def rows(self, papers: Iterable[Paper]) -> tuple[Float32Array, BoolArray]:
        """``(vectors, has)``: row i is paper i's vector where ``has[i]``, else zeros.

        Requests of at least ``MEMO_MIN`` papers are remembered (the last ``MEMO_SIZE``);
        the arrays returned then are shared and must not be modified.
        """
        key = tuple(map(_paper_id, papers))
        if key in self._memo:
            return self._memo[key]
        found = np.asarray([self.row_of.get(pid, -1) for pid in key], dtype=np.int64)
        has = found >= 0
        out = np.zeros((len(key), self.dim), dtype=np.float32)
        if has.any():
            out[has] = self.matrix[found[has]]
        if len(key) >= MEMO_MIN:
            if len(self._memo) >= MEMO_SIZE:
                del self._memo[next(iter(self._memo))]
            self._memo[key] = (out, has)
        return out, has
