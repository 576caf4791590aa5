"""The corpus index: features of every stored paper, built once and shared by all users.

Ranking one user must cost milliseconds, so everything that depends only on the corpus
(vocabulary, idf weights, the TF-IDF rows, a dense LSA projection and its covariance) is
computed here once, after each fetch, instead of once per user. An :class:`Index` is plain
data (numpy/scipy arrays and a fitted scikit-learn vectoriser): it pickles, so the jobs
side can store it atomically (write a temporary file, then rename) and load it for the
digest run. ``recommender`` itself never touches files.

Example::

    index = Index.build(all_stored_papers)          # once per fetch (about a minute at 75k)
    ranked = rank(profile, todays, background, index=index)   # milliseconds per user
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from recommender.features import Featurizer
from recommender.text import paper_text
from recommender.types import Paper

__all__ = ["DENSE_DIMS", "Index", "dense_dims_for"]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]

DENSE_DIMS = 256  # LSA dimensions for an arXiv-sized corpus
MEMO_MIN = 500  # requests this large (backgrounds, a day's candidates) are remembered
MEMO_SIZE = 4
SHRINKAGE = 0.01  # ridge on the LSA covariance: keeps the discriminant stable (see model.py)


def dense_dims_for(n_docs: int, n_terms: int) -> int:
    """LSA dimensions worth fitting: 256 at scale, fewer on small corpora, 0 when tiny.

    A projection needs many more documents than dimensions to find shared topics; under
    200 documents (tests, a one-off ranking of a short file) it is skipped.
    """
    if n_docs < 200 or n_terms < 50:
        return 0
    return int(min(DENSE_DIMS, n_docs // 8, n_terms - 1))


@dataclass(slots=True)
class Index:
    """Fitted featuriser plus the corpus' TF-IDF rows, LSA rows and the LSA covariance.

    ``ids[i]`` is the paper of row ``i`` of ``matrix`` (l2-normalised TF-IDF, CSR) and of
    ``dense`` (l2-normalised LSA vectors, or a zero-width array when LSA was skipped).
    ``components`` is the LSA projection (dims x terms): a new paper's LSA row is its
    TF-IDF row times its transpose. ``precision`` is the inverse of the shrunk LSA
    covariance over the corpus, used by the dense discriminant. Picklable; treat as
    read-only once built.

    Stored in float32 (the solvers fit in float32 anyway): at arXiv scale (75k papers,
    ~290k terms) that halves the index, whose largest part is ``components``.
    """

    featurizer: Featurizer
    ids: tuple[str, ...]
    matrix: sp.csr_matrix
    components: Float32Array
    dense: Float32Array
    precision: FloatArray
    row_of: dict[str, int]
    # Recent large requests (a digest run asks for the same background and candidates for
    # every user): id tuple -> rows. Not pickled; the rows returned are shared, read-only.
    _memo: dict[tuple[str, ...], tuple[sp.csr_matrix, Float32Array]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __getstate__(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_memo"}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_memo", {})

    @classmethod
    def build(cls, papers: Sequence[Paper], *, dense_dims: int | None = None) -> Index:
        """Fit the features on ``papers`` (first text per id wins) and keep their rows.

        ``dense_dims=None`` picks :func:`dense_dims_for` the corpus; 0 turns LSA off.
        """
        unique: dict[str, Paper] = {}
        for p in papers:
            unique.setdefault(p.id, p)
        ids = tuple(unique)
        texts = [paper_text(p) for p in unique.values()]
        featurizer = Featurizer().fit(texts)
        matrix = featurizer.transform(texts)
        dims = dense_dims_for(len(ids), matrix.shape[1]) if dense_dims is None else dense_dims
        components = np.zeros((0, matrix.shape[1]), dtype=np.float32)
        dense = np.zeros((len(ids), 0), dtype=np.float32)
        precision = np.zeros((0, 0), dtype=np.float64)
        if dims > 0 and matrix.shape[1] > dims:
            svd = TruncatedSVD(n_components=dims, algorithm="randomized", random_state=0)
            dense = _unit_rows(np.asarray(svd.fit_transform(matrix), dtype=np.float32))
            components = np.asarray(svd.components_, dtype=np.float32)
            covariance = np.cov(dense, rowvar=False, dtype=np.float64)
            shrunk = covariance + SHRINKAGE * np.eye(dims)
            precision = np.asarray(np.linalg.inv(shrunk), dtype=np.float64)
        return cls(
            featurizer=featurizer,
            ids=ids,
            matrix=matrix,
            components=components,
            dense=dense,
            precision=precision,
            row_of={pid: i for i, pid in enumerate(ids)},
        )

    def features(self, papers: Sequence[Paper]) -> tuple[sp.csr_matrix, Float32Array]:
        """TF-IDF and LSA rows of ``papers``: stored rows for known ids, else computed.

        A paper not in the index (announced after it was built, or from a file) is
        featurised with the index's vocabulary, so it lives in the same space. Requests
        of at least ``MEMO_MIN`` stored papers are remembered (the last ``MEMO_SIZE``):
        the arrays returned then are shared between callers and must not be modified.
        """
        key = tuple(p.id for p in papers)
        if key in self._memo:
            return self._memo[key]
        rows = [self.row_of.get(pid, -1) for pid in key]
        missing = [i for i, r in enumerate(rows) if r < 0]
        known = np.asarray([max(r, 0) for r in rows], dtype=np.int64)
        sparse = sp.csr_matrix(self.matrix[known])
        dense = self.dense[known]
        if missing:
            extra = self.featurizer.transform([paper_text(papers[i]) for i in missing])
            # Rows of known papers come from the stored matrix, the others from ``extra``.
            take = np.arange(len(rows), dtype=np.int64)
            take[missing] = len(rows) + np.arange(len(missing))
            sparse = sp.csr_matrix(sp.vstack([sparse, extra], format="csr")[take])
            if self.components.shape[0] > 0:
                dense = dense.copy()
                dense[missing] = _unit_rows(np.asarray(extra @ self.components.T, dtype=np.float32))
        elif len(key) >= MEMO_MIN:  # only stored rows: the ids alone decide the result
            if len(self._memo) >= MEMO_SIZE:
                del self._memo[next(iter(self._memo))]
            self._memo[key] = (sparse, dense)
        return sparse, dense

    def __len__(self) -> int:
        return len(self.ids)


def _unit_rows(m: Float32Array) -> Float32Array:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(m / norms, dtype=np.float32)
