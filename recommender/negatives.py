"""The words view's negatives, prepared once for every user who shares them.

A digest run ranks every user against the same background sample (5,000 earlier papers):
the words view's logistic regression used to stack that sample's TF-IDF rows under each
user's saved papers, count every term's document frequency, cut the matrix down to the
columns the fit uses and convert it to float32 — per user, about 12 ms of a 100 ms fit,
spent on the same 5,000 rows each time. :class:`Negatives` does the user-independent part
once: the counts, the columns every user's fit keeps (terms in at least ``min_df``
negatives), those columns in float32, and the rest by column for the few a user adds.

Which columns a fit keeps (:func:`recommender.model.logistic_scores`): the terms of the
saved papers, and the terms in at least ``min_df`` training papers. A term outside the
saved papers is in no saved or disliked row (disliked rows keep the saved papers' terms
only), so its training count is its count among the negatives: the kept columns are
exactly ``base`` (count >= min_df among the negatives) plus the saved papers' other terms.
A user's own papers inside the shared background are left out of the fit by giving them
no weight (:func:`training_rows`' ``skip``): the same loss, terms and model as removing
the rows, without copying the sample.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["Negatives", "TrainingRows", "prepared", "training_rows"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Negatives:
    """Negatives' TF-IDF rows ready for the words view's fits; build with :meth:`of`.

    ``df`` counts each term's negatives, ``base`` the columns kept for every user (count
    >= ``min_df``), ``base_rows`` the rows on those columns (float32, columns in ``base``
    order), ``by_column`` every row by column (float32 CSC) for the columns a user adds,
    and ``position`` each term's column among ``base`` (-1 outside it).
    """

    min_df: int
    df: IntArray
    base: IntArray
    base_rows: sp.csr_matrix
    by_column: sp.csc_matrix
    position: IntArray

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.base_rows.shape[0]), len(self.df)

    @classmethod
    def of(cls, rows: sp.csr_matrix, min_df: int) -> Negatives:
        """Prepare ``rows`` (negatives x vocabulary) for fits that keep terms in at least
        ``min_df`` training papers."""
        if min_df < 1:
            raise ValueError(f"min_df must be at least 1, got {min_df!r}")
        rows = sp.csr_matrix(rows, dtype=np.float32)
        n_terms = int(rows.shape[1])
        df = np.bincount(rows.indices, minlength=n_terms).astype(np.int64)
        base = np.flatnonzero(df >= min_df).astype(np.int64)
        position = np.full(n_terms, -1, dtype=np.int64)
        position[base] = np.arange(len(base), dtype=np.int64)
        base_rows = sp.csr_matrix(rows[:, base])
        base_rows.sort_indices()
        return cls(
            min_df=min_df,
            df=df,
            base=base,
            base_rows=base_rows,
            by_column=sp.csc_matrix(rows),
            position=position,
        )


@dataclass(frozen=True, slots=True)
class TrainingRows:
    """One fit's training matrix (float32, saved rows, negatives, disliked rows) on the
    columns ``columns`` of the vocabulary, in that order."""

    X: sp.csr_matrix
    columns: IntArray


def training_rows(
    positives: sp.csr_matrix, negatives: Negatives, disliked: sp.csr_matrix
) -> TrainingRows:
    """Stack saved rows, the prepared negatives and disliked rows on the fit's columns.

    The columns are ``negatives.base`` followed by the saved papers' terms outside it
    (ascending); ``disliked`` must hold saved papers' terms only (model.logistic_scores
    restricts them so). A logistic regression does not depend on the order of its
    columns, so this is the fit of the plain column cut, without cutting the negatives'
    5,000 rows again for every user.
    """
    saved_terms = np.unique(positives.indices).astype(np.int64)
    extra = saved_terms[negatives.position[saved_terms] < 0]
    n_base = len(negatives.base)
    width = n_base + len(extra)
    position = negatives.position.copy()
    position[extra] = n_base + np.arange(len(extra), dtype=np.int64)

    def own(rows: sp.csr_matrix) -> sp.csr_matrix:
        """Rows whose terms are all among the columns, moved onto them."""
        out = sp.csr_matrix(
            (rows.data.astype(np.float32), position[rows.indices], rows.indptr),
            shape=(rows.shape[0], width),
        )
        out.sort_indices()
        return out

    neg = negatives.base_rows
    base_wide = sp.csr_matrix((neg.data, neg.indices, neg.indptr), shape=(neg.shape[0], width))
    if len(extra) and negatives.df[extra].any():
        # The negatives' entries in the added columns: few (each such term is in fewer
        # than min_df of them), read from the column-wise copy.
        rare = sp.csr_matrix(negatives.by_column[:, extra])
        rare = sp.csr_matrix(
            (rare.data, rare.indices + n_base, rare.indptr), shape=(neg.shape[0], width)
        )
        neg_rows = sp.csr_matrix(base_wide + rare)
    else:
        neg_rows = base_wide
    X = sp.vstack([own(positives), neg_rows, own(disliked)], format="csr")
    return TrainingRows(X=X, columns=np.concatenate([negatives.base, extra]))


# Prepared negatives for the last few matrices: a digest run ranks every user against
# the same one. Each is kept with its matrix, so the matrix's id cannot be another
# matrix's while it is here.
_PREPARED: list[tuple[sp.csr_matrix, int, Negatives]] = []
PREPARED_SIZE = 2
_prepared_lock = threading.Lock()


def prepared(rows: sp.csr_matrix, min_df: int) -> Negatives:
    """``Negatives.of(rows, min_df)``, made once per matrix (recommender.Index.features
    returns the same matrix for the same large request, e.g. a run's background)."""
    with _prepared_lock:
        for held, held_min_df, made in _PREPARED:
            if held is rows and held_min_df == min_df:
                return made
    made = Negatives.of(rows, min_df)
    with _prepared_lock:
        _PREPARED.insert(0, (rows, min_df, made))
        del _PREPARED[PREPARED_SIZE:]
    return made
