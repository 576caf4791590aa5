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

__all__ = [
    "LinearScores",
    "centroid_scores",
    "combine",
    "dense_logistic_scores",
    "discriminant_scores",
    "logistic_scores",
    "query_scores",
    "squash",
    "standardise",
]

FloatArray = npt.NDArray[np.float64]
# Dense feature rows: float32 as stored in an Index, float64 when computed on the fly.
Rows = npt.NDArray[np.float32] | npt.NDArray[np.float64]

# Fixed so that the same input always gives the same ranking.
RANDOM_STATE = 0
# A term must be in this many training papers (or in a saved one) to get a weight.
MIN_TRAINING_DF = 2


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


def _balanced_weights(
    n_pos: int, n_neg: int, n_bad: int, positive_weights: FloatArray | None
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Labels and sample weights for saved (1) vs. negatives and disliked papers (0).

    Balanced: both classes weigh the same in total, as ``class_weight="balanced"`` does;
    a disliked paper weighs like one saved paper (or one negative, if that is more).
    """
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg + n_bad)]).astype(np.int64)
    n = n_pos + n_neg + n_bad
    pos_w = n / (2.0 * n_pos)
    neg_w = n / (2.0 * (n_neg + n_bad))
    weights_pos = pos_w * (positive_weights if positive_weights is not None else np.ones(n_pos))
    sample_weight = np.concatenate(
        [weights_pos, np.full(n_neg, neg_w), np.full(n_bad, max(pos_w, neg_w))]
    )
    return y, np.asarray(sample_weight, dtype=np.float64)


def logistic_scores(
    positives: sp.csr_matrix,
    negatives: sp.csr_matrix,
    candidates: sp.csr_matrix,
    *,
    C: float = 10.0,
    positive_weights: FloatArray | None = None,
    disliked: sp.csr_matrix | None = None,
    saved_terms_only: bool = False,
) -> LinearScores:
    """Train saved-vs-background logistic regression and score the candidates with it.

    C=10 (weak regularisation) and balanced class weights: a user has a handful of saved
    papers against thousands of negatives, and without balancing the model would call
    everything "not for you". ``positive_weights`` (mean 1, e.g. recency) re-weight saved
    papers; ``disliked`` papers are explicit negatives, each weighted like one saved
    paper, on the saved papers' terms only (see below). Scores are
    ``squash(decision_function)``; ``weights`` cover the full vocabulary.

    The model is fitted on the columns of terms that appear in a saved paper or in at
    least two training papers. A column that is zero in every training row would get
    weight exactly 0 anyway (zero loss gradient under L2). A term seen in a single
    background paper only explains that one negative away; leaving those out made no
    difference on either benchmark (replay 0.594 -> 0.594, every list within 0.009; seed
    unchanged) and removes about a third of the columns (benchmarks/RESULTS.md, round 3):
    with a 2,000-5,000-paper background, 60-100k of an arXiv-sized 292k terms remain.

    ``saved_terms_only`` restricts the model further, to the saved papers' terms (the
    previous default; measured in benchmarks/RESULTS.md: better on the replay, worse on
    the seed corpus, and worse on both once averaged with a dense model).
    """
    n_terms = positives.shape[1]
    bad = disliked if disliked is not None else sp.csr_matrix((0, n_terms))
    n_pos, n_neg, n_bad = positives.shape[0], negatives.shape[0], bad.shape[0]
    if bad.shape[0] > 0 and not saved_terms_only:
        # A dislike speaks about what the user otherwise likes: its rows keep the saved
        # papers' terms only. With every column, weakly regularised, the model explains
        # a disliked paper away by its own rare words, and similar papers stay up.
        in_saved = np.zeros(n_terms, dtype=positives.dtype)
        in_saved[positives.indices] = 1.0
        bad = sp.csr_matrix(bad.multiply(in_saved.reshape(1, -1)))
        bad.eliminate_zeros()
    train = sp.vstack([positives, negatives, bad], format="csr")
    if saved_terms_only:
        used = np.zeros(n_terms, dtype=bool)
        used[positives.indices] = True
    else:
        # A term in one training paper only, and not in a saved one, can only explain that
        # one negative away: leave it out (min_df 2 within the training rows).
        used = np.bincount(train.indices, minlength=n_terms) >= MIN_TRAINING_DF
        used[positives.indices] = True
    columns = np.flatnonzero(used)
    # float32 halves the memory traffic of the solver's products; the fitted scores agree
    # with float64 to a correlation of 1.0000 (benchmarks/RESULTS.md).
    X = train[:, columns].astype(np.float32)
    y, sample_weight = _balanced_weights(n_pos, n_neg, n_bad, positive_weights)
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=1000, random_state=RANDOM_STATE)
    model.fit(X, y, sample_weight=sample_weight)
    weights = np.zeros(n_terms, dtype=np.float64)
    weights[columns] = np.asarray(model.coef_[0], dtype=np.float64)
    raw = np.asarray(candidates @ weights, dtype=np.float64).ravel() + float(model.intercept_[0])
    return LinearScores(raw=raw, score=squash(raw), weights=weights)


def dense_logistic_scores(
    positives: Rows,
    negatives: Rows,
    candidates: Rows,
    *,
    C: float = 1.0,
    positive_weights: FloatArray | None = None,
    disliked: Rows | None = None,
) -> FloatArray:
    """Logistic regression saved-vs-background in LSA space; the candidates' logits.

    Same balancing as :func:`logistic_scores`, on the (unit) LSA rows of the Index: dense
    topics catch related papers that share few exact words with the saved ones. C=1 (the
    rows are dense and few: 256 dimensions).
    """
    bad = disliked if disliked is not None else np.zeros((0, positives.shape[1]))
    X = np.vstack([positives, negatives, bad])
    y, sample_weight = _balanced_weights(
        positives.shape[0], negatives.shape[0], bad.shape[0], positive_weights
    )
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=1000, random_state=RANDOM_STATE)
    model.fit(X, y, sample_weight=sample_weight)
    return np.asarray(model.decision_function(candidates), dtype=np.float64)


def discriminant_scores(
    positives: Rows,
    negatives: Rows,
    candidates: Rows,
    precision: FloatArray,
    *,
    positive_weights: FloatArray | None = None,
) -> FloatArray:
    """Fisher's linear discriminant in LSA space: ``x @ P (mean_saved - mean_background)``.

    ``P`` is the inverse of the (shrunk) covariance of the whole corpus, computed once in
    :class:`recommender.index.Index`, so a user costs two means and one product. Dense
    topics catch related papers that share few exact words with the saved ones.
    """
    mean_pos = np.average(positives, axis=0, weights=positive_weights)
    direction = precision @ (mean_pos - negatives.mean(axis=0))
    return np.asarray(candidates @ direction, dtype=np.float64)


def standardise(values: FloatArray) -> FloatArray:
    """``(v - mean) / std`` over the candidates (zeros when all are equal)."""
    std = float(values.std())
    return (values - values.mean()) / std if std > 0 else np.zeros_like(values)


def combine(logit: FloatArray, others: list[FloatArray]) -> FloatArray:
    """Average the standardised scores, expressed on the logistic model's logit scale.

    Each model votes with the same weight (no tuned mixing constant); mapping the mean
    z-score back through the logit's own mean and spread keeps ``squash`` meaningful.
    """
    if not others:
        return logit
    z = np.mean([standardise(logit), *(standardise(o) for o in others)], axis=0)
    return np.asarray(logit.mean() + z * logit.std(), dtype=np.float64)


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
