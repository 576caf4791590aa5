"""The corpus index: features of every stored paper, built once and shared by all users.

Ranking one user must cost milliseconds, so everything that depends only on the corpus
(vocabulary, idf weights, the TF-IDF rows) is computed here once, after each fetch,
instead of once per user. An :class:`Index` is plain data: :meth:`Index.to_arrays` gives
it as numpy arrays of numbers and UTF-8 JSON text (no Python objects), which the jobs side
stores (``np.savez``) and loads (``np.load(..., allow_pickle=False)``) for the digest run,
and :meth:`Index.from_arrays` checks and takes back; the fitted scikit-learn vectoriser is
rebuilt from its vocabulary and idf weights. A stored index is thus data, never code (a
pickle would run whatever its writer put in it). ``recommender`` itself never touches
files. The other view of a paper, its sentence embedding, is computed once per
paper and kept by the jobs side (see :class:`recommender.embeddings.Embeddings`).

Example::

    index = Index.build(all_stored_papers)          # once per fetch (about a minute at 75k)
    ranked = rank(profile, todays, background, index=index)   # milliseconds per user
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from paperboy.recommender.features import Featurizer
from paperboy.recommender.text import paper_text
from paperboy.recommender.types import Paper

__all__ = ["Index"]

MEMO_MIN = 500  # requests this large (backgrounds, a day's candidates) are remembered
MEMO_SIZE = 4
DOC_FREQ_MIN = 1000  # papers needed before a term's document frequency rules it out
LAYOUT = 1  # of to_arrays' arrays: bump when they change (from_arrays refuses others)
# The arrays of to_arrays, each with the kind of numbers it must hold (numpy's dtype.kind;
# "u": uint8, the bytes of UTF-8 JSON text).
ARRAYS = {
    "layout": "i",
    "ids": "u",
    "vocabulary": "u",
    "idf": "f",
    "doc_freq": "f",
    "matrix_data": "f",
    "matrix_indices": "i",
    "matrix_indptr": "i",
    "matrix_shape": "i",
}


@dataclass(slots=True)
class Index:
    """Fitted featuriser plus the corpus' TF-IDF rows.

    ``ids[i]`` is the paper of row ``i`` of ``matrix`` (l2-normalised TF-IDF, CSR).
    Stored as arrays (:meth:`to_arrays`, :meth:`from_arrays`), picklable within a process;
    treat as read-only once built. In float32 (the solver fits in float32 anyway).
    """

    featurizer: Featurizer
    ids: tuple[str, ...]
    matrix: sp.csr_matrix
    row_of: dict[str, int]
    # Per term, the share of the indexed papers holding it: a reason never names a term
    # found in so many papers that it says nothing of a topic (recommender.reasons). All 0
    # (no such rule) under DOC_FREQ_MIN papers, where a share says more of the sample.
    doc_freq: npt.NDArray[np.float64]
    # Recent large requests (a digest run asks for the same background and candidates for
    # every user): id tuple -> rows. Not stored; the rows returned are shared, read-only.
    _memo: dict[tuple[str, ...], sp.csr_matrix] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __getstate__(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_memo"}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_memo", {})

    @classmethod
    def build(cls, papers: Sequence[Paper], *, texts: Mapping[str, str] | None = None) -> Index:
        """Fit the features on ``papers`` (first text per id wins) and keep their rows.

        ``texts`` may give papers' normalised texts by id (what :func:`paper_text` returns
        for the first paper of that id): the caller kept them from an earlier run, and
        rendering LaTeX is the slowest part of a build. The others are computed here.
        """
        unique: dict[str, Paper] = {}
        for p in papers:
            unique.setdefault(p.id, p)
        ids = tuple(unique)
        known = texts or {}
        corpus = [known[pid] if pid in known else paper_text(p) for pid, p in unique.items()]
        featurizer = Featurizer()
        matrix = featurizer.fit_transform(corpus)
        counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
        if len(ids) < DOC_FREQ_MIN:
            counts = np.zeros_like(counts)
        return cls(
            featurizer=featurizer,
            ids=ids,
            matrix=matrix,
            row_of={pid: i for i, pid in enumerate(ids)},
            doc_freq=np.asarray(counts / max(len(ids), 1), dtype=np.float64),
        )

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The index as named numpy arrays of plain numbers, for ``np.savez``: the CSR
        matrix as its components, the idf weights and document frequencies, and the ids and
        vocabulary as UTF-8 JSON (uint8). Nothing in them needs pickle to load."""
        vocabulary, idf = self.featurizer.state()
        return {
            "layout": np.asarray([LAYOUT], dtype=np.int64),
            "ids": _json_bytes(list(self.ids)),
            "vocabulary": _json_bytes(list(vocabulary)),
            "idf": idf,
            "doc_freq": self.doc_freq,
            "matrix_data": self.matrix.data,
            "matrix_indices": self.matrix.indices,
            "matrix_indptr": self.matrix.indptr,
            "matrix_shape": np.asarray(self.matrix.shape, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]]) -> Index:
        """The index :meth:`to_arrays` gave, after checking that every array is there, holds
        the kind of numbers it should and fits the others (a sparse matrix whose indices
        point outside it must never reach scipy's compiled code). ValueError saying what is
        wrong otherwise."""
        missing = sorted(set(ARRAYS) - set(arrays))
        if missing:
            raise ValueError(f"not a Paperboy index: no {', '.join(missing)}")
        for name, kind in ARRAYS.items():
            array = arrays[name]
            if array.ndim != 1 or array.dtype.kind != kind or (kind == "u" and array.itemsize != 1):
                raise ValueError(f"{name}: {array.dtype} of shape {array.shape}, not {kind}")
        layout = [int(v) for v in arrays["layout"]]
        if layout != [LAYOUT]:
            raise ValueError(f"index arrays of layout {layout}, not [{LAYOUT}]")
        ids = _json_strings(arrays["ids"], "ids")
        vocabulary = _json_strings(arrays["vocabulary"], "vocabulary")
        featurizer = Featurizer.restore(vocabulary, arrays["idf"])
        shape = tuple(int(v) for v in arrays["matrix_shape"])
        if shape != (len(ids), len(vocabulary)):
            raise ValueError(
                f"a matrix of shape {shape} for {len(ids)} papers, {len(vocabulary)} terms"
            )
        matrix = sp.csr_matrix(
            (arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]),
            shape=shape,
        )
        matrix.check_format(full_check=True)  # indptr monotone, indices inside the matrix
        doc_freq = np.asarray(arrays["doc_freq"], dtype=np.float64)
        if doc_freq.shape != (len(vocabulary),):
            raise ValueError(f"{len(doc_freq)} document frequencies for {len(vocabulary)} terms")
        row_of = dict(zip(ids, range(len(ids)), strict=True))
        if len(row_of) != len(ids):
            raise ValueError("a paper id twice")
        return cls(
            featurizer=featurizer, ids=tuple(ids), matrix=matrix, row_of=row_of, doc_freq=doc_freq
        )

    def features(self, papers: Sequence[Paper]) -> sp.csr_matrix:
        """TF-IDF rows of ``papers``: stored rows for known ids, else computed.

        A paper not in the index (announced after it was built, or from a file) is
        featurised with the index's vocabulary, so it lives in the same space. Requests
        of at least ``MEMO_MIN`` stored papers are remembered (the last ``MEMO_SIZE``):
        the matrix returned then is shared between callers and must not be modified.
        """
        key = tuple(p.id for p in papers)
        if key in self._memo:
            return self._memo[key]
        rows = [self.row_of.get(pid, -1) for pid in key]
        missing = [i for i, r in enumerate(rows) if r < 0]
        known = np.asarray([max(r, 0) for r in rows], dtype=np.int64)
        sparse = sp.csr_matrix(self.matrix[known])
        if missing:
            extra = self.featurizer.transform([paper_text(papers[i]) for i in missing])
            # Rows of known papers come from the stored matrix, the others from ``extra``.
            take = np.arange(len(rows), dtype=np.int64)
            take[missing] = len(rows) + np.arange(len(missing))
            sparse = sp.csr_matrix(sp.vstack([sparse, extra], format="csr")[take])
        elif len(key) >= MEMO_MIN:  # only stored rows: the ids alone decide the result
            if len(self._memo) >= MEMO_SIZE:
                del self._memo[next(iter(self._memo))]
            self._memo[key] = sparse
        return sparse

    def __len__(self) -> int:
        return len(self.ids)


def _json_bytes(strings: list[str]) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(strings, ensure_ascii=False).encode(), dtype=np.uint8)


def _json_strings(array: npt.NDArray[np.generic], name: str) -> list[str]:
    """The list of strings in `array` (UTF-8 JSON); ValueError if it holds anything else."""
    try:
        value = json.loads(array.tobytes().decode())
    except (UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{name}: {e}") from e
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:
        raise ValueError(f"{name}: not a list of strings")
    return value
