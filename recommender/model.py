"""Scoring models: each turns TF-IDF rows into a linear score ``raw = X @ weights + bias``.

Every model here is linear in the features on purpose: the reasons shown to a person
(:mod:`recommender.reasons`) are read off ``weights``, so they are exactly what moved the
score, not a story told afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

__all__ = ["LinearScores", "centroid_scores", "logistic_scores", "query_scores", "squash"]

FloatArray = npt.NDArray[np.float64]

# Fixed so that the same input always gives the same ranking.
RANDOM_STATE = 0


@dataclass(frozen=True, slots=True)
class LinearScores:
    """Candidates' scores from one linear model.

    ``raw`` is the model's decision value per candidate (unbounded for the logistic model),
    ``score`` the same mapped monotonically to [0, 1] for people, and ``weights`` the
    per-feature weights with ``raw == X @ weights + bias``.
    """

    raw: FloatArray
    score: FloatArray
    weights: FloatArray


def squash(raw: FloatArray) -> FloatArray:
    """Map decision values to [0, 1] with the logistic sigmoid, ``1 / (1 + exp(-raw))``.

    For the logistic model this is its own estimate of P(saved-like | text) under the
    balanced class weights, i.e. as if a candidate were a priori as likely to be wanted as
    not: 0.5 means "on the fence", and the order is never changed (the map is monotone).
    """
    return np.asarray(expit(raw), dtype=np.float64)


def logistic_scores(
    positives: sp.csr_matrix,
    negatives: sp.csr_matrix,
    candidates: sp.csr_matrix,
    *,
    C: float = 10.0,
) -> LinearScores:
    """Train saved-vs-background logistic regression and score the candidates with it.

    C=10 (weak regularisation) and balanced class weights: a user has a handful of saved
    papers against thousands of negatives, and without balancing the model would call
    everything "not for you". Scores are ``squash(decision_function)``.
    """
    X = sp.vstack([positives, negatives], format="csr")
    y = np.concatenate(
        [np.ones(positives.shape[0], dtype=np.int64), np.zeros(negatives.shape[0], dtype=np.int64)]
    )
    model = LogisticRegression(
        C=C, class_weight="balanced", solver="lbfgs", max_iter=1000, random_state=RANDOM_STATE
    )
    model.fit(X, y)
    weights = np.asarray(model.coef_[0], dtype=np.float64)
    raw = np.asarray(model.decision_function(candidates), dtype=np.float64)
    return LinearScores(raw=raw, score=squash(raw), weights=weights)


def _unit(v: FloatArray) -> FloatArray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def centroid_scores(positives: sp.csr_matrix, candidates: sp.csr_matrix) -> LinearScores:
    """Cosine similarity of each candidate to the (unit) mean of the saved papers' rows.

    The fallback when there is nothing to contrast the saved papers with. Rows are
    l2-normalised and non-negative, so the score is already in [0, 1].
    """
    weights = _unit(np.asarray(positives.mean(axis=0), dtype=np.float64).ravel())
    raw = np.asarray(candidates @ weights, dtype=np.float64).ravel()
    return LinearScores(raw=raw, score=np.clip(raw, 0.0, 1.0), weights=weights)


def query_scores(queries: sp.csr_matrix, candidates: sp.csr_matrix) -> LinearScores:
    """Cosine similarity of each candidate to a query (the sum of the keyword rows).

    Used when a user has keywords but no saved papers yet; in [0, 1] like the centroid.
    """
    weights = _unit(np.asarray(queries.sum(axis=0), dtype=np.float64).ravel())
    raw = np.asarray(candidates @ weights, dtype=np.float64).ravel()
    return LinearScores(raw=raw, score=np.clip(raw, 0.0, 1.0), weights=weights)
