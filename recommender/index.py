"""The corpus index: features of every stored paper, built once and shared by all users.

Ranking one user must cost milliseconds, so everything that depends only on the corpus
(vocabulary, idf weights, the TF-IDF rows) is computed here once, after each fetch,
instead of once per user. An :class:`Index` is plain data (scipy arrays and a fitted
scikit-learn vectoriser): it pickles, so the jobs side can store it atomically (write a
temporary file, then rename) and load it for the digest run. ``recommender`` itself never
touches files. The other view of a paper, its sentence embedding, is computed once per
paper and kept by the jobs side (see :class:`recommender.embeddings.Embeddings`).

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

from paperboy.recommender.features import Featurizer
from paperboy.recommender.text import paper_text
from paperboy.recommender.types import Paper

__all__ = ["Index"]

MEMO_MIN = 500  # requests this large (backgrounds, a day's candidates) are remembered
MEMO_SIZE = 4
DOC_FREQ_MIN = 1000  # papers needed before a term's document frequency rules it out


@dataclass(slots=True)
class Index:
    """Fitted featuriser plus the corpus' TF-IDF rows.

    ``ids[i]`` is the paper of row ``i`` of ``matrix`` (l2-normalised TF-IDF, CSR).
    Picklable; treat as read-only once built. Stored in float32 (the solver fits in
    float32 anyway).
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
    # every user): id tuple -> rows. Not pickled; the rows returned are shared, read-only.
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
    def build(cls, papers: Sequence[Paper]) -> Index:
        """Fit the features on ``papers`` (first text per id wins) and keep their rows."""
        unique: dict[str, Paper] = {}
        for p in papers:
            unique.setdefault(p.id, p)
        ids = tuple(unique)
        texts = [paper_text(p) for p in unique.values()]
        featurizer = Featurizer().fit(texts)
        matrix = featurizer.transform(texts)
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
