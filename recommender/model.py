"""Scoring models: each view of a paper (TF-IDF words, sentence embedding) -> a linear logit.

Every model here is linear in the features on purpose: the reasons shown to a person
(:mod:`recommender.reasons`) are read off ``weights``, so they are exactly what moved the
score, not a story told afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit

from paperboy.recommender.negatives import Negatives, training_rows
from paperboy.recommender.solver import TOL, fit_logistic

__all__ = [
    "DenseScores",
    "LinearScores",
    "balanced_weights",
    "centroid_scores",
    "dense_fit",
    "embedding_scores",
    "fuse",
    "logistic_scores",
    "query_scores",
    "squash",
]

FloatArray = npt.NDArray[np.float64]
# Dense feature rows: float32 as stored in an Index, float64 when computed on the fly.
Rows = npt.NDArray[np.float32] | npt.NDArray[np.float64]

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


def balanced_weights(
    n_pos: int,
    n_neg: int,
    n_bad: int,
    saved_weights: FloatArray | None = None,
    skip: npt.NDArray[np.bool_] | None = None,
    *,
    clicked_weights: FloatArray | None = None,
    bad_weights: FloatArray | None = None,
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Labels and sample weights for saved (1) vs. negatives and disliked papers (0).

    Balanced: both classes weigh the same in total, as ``class_weight="balanced"`` does;
    a disliked paper weighs like one (average) saved paper (or one negative, if that is
    more). ``saved_weights`` (positive, one per saved paper) share the saved class's total
    in proportion, e.g. recency weights (:mod:`recommender.recency`); None: equal shares.
    ``skip`` (one per negative) marks negatives that are not in the fit: weight 0, and
    not counted, so the weights are those of the fit without those rows.

    The user's own feedback (issue #21): ``clicked_weights`` are the weights of the last
    ``len(clicked_weights)`` of the ``n_pos`` positive rows (papers the user opened from a
    digest), each relative to an average saved paper (the class is balanced on the
    weighted count, so a click adds to the positives rather than diluting the saved
    papers); ``bad_weights`` (one per bad row) scale each bad row's weight, relative to a
    disliked paper's (1), e.g. papers shown and ignored. None and None: exactly the
    weights without feedback.
    """
    clicks = np.zeros(0) if clicked_weights is None else np.asarray(clicked_weights, float)
    n_saved = n_pos - len(clicks)
    if n_saved < 1 or not np.all(clicks > 0):
        raise ValueError(f"clicked_weights must be at most {n_pos - 1} positive numbers")
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg + n_bad)]).astype(np.int64)
    if skip is not None and skip.shape != (n_neg,):
        raise ValueError(f"skip must mark {n_neg} negatives")
    n_skip = 0 if skip is None else int(skip.sum())
    n_neg -= n_skip
    n = n_pos + n_neg + n_bad
    pos_w = n / (2.0 * (n_saved + float(clicks.sum())))
    neg_w = n / (2.0 * (n_neg + n_bad))
    if saved_weights is None:
        pos = np.full(n_saved, pos_w)
    else:
        share = np.asarray(saved_weights, dtype=np.float64)
        if share.shape != (n_saved,) or not np.all(share > 0):
            raise ValueError(f"saved_weights must be {n_saved} positive numbers")
        pos = pos_w * n_saved * share / share.sum()
    neg = np.full(n_neg + n_skip, neg_w)
    if skip is not None:
        neg[skip] = 0.0
    bad = np.full(n_bad, max(pos_w, neg_w))
    if bad_weights is not None:
        scale = np.asarray(bad_weights, dtype=np.float64)
        if scale.shape != (n_bad,) or not np.all(scale > 0):
            raise ValueError(f"bad_weights must be {n_bad} positive numbers")
        bad = bad * scale
    sample_weight = np.concatenate([pos, pos_w * clicks, neg, bad])
    return y, np.asarray(sample_weight, dtype=np.float64)


def logistic_scores(
    positives: sp.csr_matrix,
    negatives: sp.csr_matrix | Negatives,
    candidates: sp.csr_matrix,
    *,
    C: float = 10.0,
    disliked: sp.csr_matrix | None = None,
    saved_weights: FloatArray | None = None,
    skip: npt.NDArray[np.bool_] | None = None,
    min_df: int = MIN_TRAINING_DF,
    tol: float = TOL,
    clicked_weights: FloatArray | None = None,
    bad_weights: FloatArray | None = None,
) -> LinearScores:
    """Train saved-vs-background logistic regression and score the candidates with it.

    C=10 (weak regularisation) and balanced class weights: a user has a handful of saved
    papers against thousands of negatives, and without balancing the model would call
    everything "not for you". ``disliked`` papers are explicit negatives, each weighted
    like one saved paper, on the saved papers' terms only (see below). Scores are
    ``squash(decision_function)``; ``weights`` cover the full vocabulary. The user's own
    feedback rides on the same rows (:func:`balanced_weights`): clicked papers are the
    last rows of ``positives`` (``clicked_weights``), shown-and-ignored ones rows of
    ``disliked`` (``bad_weights``).

    The model is fitted on the columns of terms that appear in a saved paper or in at
    least ``min_df`` training papers. A column that is zero in every training row would
    get weight exactly 0 anyway (zero loss gradient under L2). A term seen in a single
    background paper only explains that one negative away; leaving those out made no
    difference on either benchmark (replay 0.594 -> 0.594, every list within 0.009; seed
    unchanged) and removes about a third of the columns (benchmarks/RESULTS-archive.md, round 3):
    with a 2,000-5,000-paper background, 60-100k of an arXiv-sized 292k terms remain. The
    ranker asks for 5 of a digest's 5,000 negatives (recommender.ranker.WORDS_MIN_DF_SHARE):
    about 19k columns, 40% less time a fit, the replay unchanged (benchmarks/RESULTS.md).

    ``negatives`` may come prepared (:class:`recommender.negatives.Negatives`, its own
    ``min_df``), as a digest run does once for every user who shares them; ``skip``
    marks negatives left out of this fit (the user's own papers in a shared sample).
    ``tol`` is the solver's stopping tolerance.
    """
    neg = negatives if isinstance(negatives, Negatives) else Negatives.of(negatives, min_df)
    n_terms = positives.shape[1]
    if neg.shape[1] != n_terms:
        raise ValueError(f"negatives have {neg.shape[1]} terms, the saved papers {n_terms}")
    bad = disliked if disliked is not None else sp.csr_matrix((0, n_terms))
    n_pos, n_neg, n_bad = positives.shape[0], neg.shape[0], bad.shape[0]
    if bad.shape[0] > 0:
        # A dislike speaks about what the user otherwise likes: its rows keep the saved
        # papers' terms only. With every column, weakly regularised, the model explains
        # a disliked paper away by its own rare words, and similar papers stay up.
        in_saved = np.zeros(n_terms, dtype=positives.dtype)
        in_saved[positives.indices] = 1.0
        bad = sp.csr_matrix(bad.multiply(in_saved.reshape(1, -1)))
        bad.eliminate_zeros()
    # A term in fewer than min_df training papers, and not in a saved one, can only
    # explain those negatives away: it is left out (recommender.negatives). The rows are
    # float32, which halves the memory traffic of the solver's products; the fitted
    # scores agree with float64 to a correlation of 1.0000 (benchmarks/RESULTS-archive.md).
    train = training_rows(positives, neg, sp.csr_matrix(bad))
    y, sample_weight = balanced_weights(
        n_pos,
        n_neg,
        n_bad,
        saved_weights,
        skip,
        clicked_weights=clicked_weights,
        bad_weights=bad_weights,
    )
    model = fit_logistic(train.X, y, sample_weight, C=C, tol=tol)
    weights = np.zeros(n_terms, dtype=np.float64)
    weights[train.columns] = model.coef
    raw = np.asarray(candidates @ weights, dtype=np.float64).ravel() + model.intercept
    return LinearScores(raw=raw, score=squash(raw), weights=weights)


@dataclass(frozen=True, slots=True)
class DenseScores:
    """Candidates' logits from the logistic regression on sentence embeddings.

    ``saved_pull`` is, per saved paper, its coefficient in the model's weight vector:
    with an L2 penalty the fitted weights are a sum over the training rows,
    ``w = C * sum_i s_i (y_i - p_i) x_i`` (``s_i`` the sample weight, ``p_i`` the model's
    probability), so saved paper ``i`` adds ``saved_pull[i] * (x_i . x)`` to a candidate's
    logit. The saved paper with the largest such term is the one that pulled the
    candidate up most: that, not a separate similarity, is what a reason names.
    """

    raw: FloatArray
    saved_pull: FloatArray


def embedding_scores(
    positives: Rows,
    negatives: Rows,
    candidates: Rows,
    *,
    C: float = 1.0,
    disliked: Rows | None = None,
    saved_weights: FloatArray | None = None,
    skip: npt.NDArray[np.bool_] | None = None,
    clicked_weights: FloatArray | None = None,
    bad_weights: FloatArray | None = None,
) -> DenseScores:
    """Logistic regression saved-vs-background on unit sentence embeddings.

    Same balancing as :func:`logistic_scores`; C=1 because the rows are dense and short
    (384 numbers), where C=10 overfits the handful of saved papers (seed benchmark:
    0.602 vs 0.590 alone). Disliked papers are explicit negatives weighted like a saved
    paper; ``skip`` marks negatives left out (weight 0), and clicked and ignored papers
    weigh as in :func:`logistic_scores` (``saved_pull`` then has a value per positive
    row, the clicked papers' last).
    """
    bad = disliked if disliked is not None else np.zeros((0, positives.shape[1]))
    # float32, as the TF-IDF model: half the memory traffic of the solver's products
    # (8 vs 15 ms a fit with 5,000 negatives; benchmarks/RESULTS-archive.md). The rows go
    # to the solver as blocks: the shared negatives are not copied for each user.
    X = tuple(_float32(rows) for rows in (positives, negatives, bad))
    y, sample_weight = balanced_weights(
        positives.shape[0],
        negatives.shape[0],
        bad.shape[0],
        saved_weights,
        skip,
        clicked_weights=clicked_weights,
        bad_weights=bad_weights,
    )
    return dense_fit(X, y, sample_weight, np.arange(positives.shape[0]), candidates, C=C)


def _float32(rows: Rows) -> npt.NDArray[np.float32]:
    """``rows`` as float32 (no copy when they are already)."""
    return np.asarray(rows, dtype=np.float32)


def dense_fit(
    X: tuple[npt.NDArray[np.float32], ...],
    y: npt.NDArray[np.int64],
    sample_weight: FloatArray,
    saved_rows: npt.NDArray[np.int64],
    candidates: Rows,
    *,
    C: float,
) -> DenseScores:
    """The meaning view's fit on prepared rows: ``X`` (float32 row blocks, see
    recommender.solver) with labels and weights, ``saved_rows`` the saved papers whose
    pull is wanted, rows of the first block (rows of weight 0 take no part: several fits
    can share one ``X``, recommender.interests)."""
    model = fit_logistic(X, y, sample_weight, C=C)
    raw = model.decision(candidates)
    p_saved = model.probability(X[0][saved_rows])
    pull = C * sample_weight[saved_rows] * (1.0 - p_saved)
    return DenseScores(raw=raw, saved_pull=np.asarray(pull, dtype=np.float64))


# Candidates scored by every view needed to put the others on their scale (below: the
# plain mean of the views that scored them).
MIN_CALIBRATION = 20


def fuse(
    views: list[tuple[FloatArray, npt.NDArray[np.bool_]]], shares: Sequence[float] | None = None
) -> FloatArray:
    """Mean of the views' logits per candidate, over the views that scored it, on one scale.

    Each view is a logistic model's decision value, ``log`` of its odds that the
    candidate is saved-like; for a candidate every view scored, their mean (the log of
    the geometric mean of the odds). No mixing constant. Measured against z-score
    averaging and rank fusion in benchmarks/RESULTS-archive.md.

    A candidate only some views scored (no embedding yet) gets the mean of those, which
    is on another scale: the views differ in level and spread (the words view scores
    most candidates far lower than the meaning view), so such papers were systematically
    misplaced (benchmarks/missing_vectors.py: 0.1 of the top 10 instead of 5 with half
    the candidates unencoded). Their mean is mapped onto the full mean's scale by
    matching moments on the candidates every view scored: ``a + b * x`` with ``b`` the
    ratio of the two means' standard deviations there and ``a`` matching their averages,
    so that a paper lands where a paper of its standing among the fully scored ones
    lands. The map is increasing, so it never reorders the partially scored papers among
    themselves. With fewer than :data:`MIN_CALIBRATION` fully scored candidates (or no
    spread) the plain mean is kept.

    ``shares`` weigh the views (a weighted mean; None: equal, the plain mean).
    """
    w = [1.0] * len(views) if shares is None else [float(x) for x in shares]
    if len(w) != len(views) or any(not x > 0 for x in w):
        raise ValueError(f"shares must be {len(views)} positive numbers, got {shares!r}")
    total = np.zeros(len(views[0][0]), dtype=np.float64)
    count = np.zeros(len(views[0][0]), dtype=np.float64)
    for (raw, has), share in zip(views, w, strict=True):
        total += np.where(has, share * raw, 0.0)
        count += share * has
    fused = np.asarray(total / np.where(count > 0, count, 1.0), dtype=np.float64)
    full = np.asarray([has for _, has in views]).all(axis=0)
    if len(views) < 2 or int(full.sum()) < MIN_CALIBRATION or full.all():
        return fused
    target_mean, target_sd = float(fused[full].mean()), float(fused[full].std())
    pattern = np.stack([has for _, has in views], axis=1)
    for subset in {tuple(row) for row in pattern[~full] if any(row)}:
        group = ~full & np.all(pattern == np.asarray(subset), axis=1)
        # The same partial mean, computed for the fully scored candidates.
        on = [(raw[full], share) for (raw, _), share, o in zip(views, w, subset, strict=True) if o]
        partial = np.asarray(
            sum(share * r for r, share in on) / sum(share for _, share in on), dtype=np.float64
        )
        sd = float(partial.std())
        if sd <= 0 or target_sd <= 0:
            continue
        b = target_sd / sd
        fused[group] = target_mean + b * (fused[group] - float(partial.mean()))
    return fused


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
