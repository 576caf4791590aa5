"""A user's several interests: clusters of their saved papers in the embedding space.

One model trained on every saved paper is pulled towards the user's main topic; a paper
of a minority interest then scores like background. Here the saved papers' sentence
embeddings are split into interests (spherical k-means; the number of interests is
chosen from the data by the silhouette, one interest unless the split is clear), each
interest gets its own saved-vs-background model, and a candidate's interest score is the
best of those: the interest it fits best (PinnerSage's per-cluster view of a user,
arxiv-sanity-lite's model per tag). The ranker mixes that score with the global model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from paperboy.recommender.model import Rows, balanced_weights, dense_fit

__all__ = ["InterestScores", "find_interests", "interest_scores"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_INTERESTS = 6  # more than this is rarely a user's interests, more often noise
MIN_INTEREST_SIZE = 3  # saved papers an interest needs: fewer is one stray paper
KMEANS_ROUNDS = 30
RANDOM_SEED = 0


def _kmeans(E: Rows, k: int, seed: int) -> IntArray:
    """Spherical k-means (cosine) with k-means++ seeding; labels per row."""
    rng = np.random.default_rng(seed)
    n = E.shape[0]
    centres = np.empty((k, E.shape[1]), dtype=np.float64)
    centres[0] = E[int(rng.integers(n))]
    closest = 1.0 - E @ centres[0]
    for j in range(1, k):
        d = np.maximum(closest, 0.0) ** 2
        total = float(d.sum())
        pick = int(rng.choice(n, p=d / total)) if total > 0 else int(rng.integers(n))
        centres[j] = E[pick]
        closest = np.minimum(closest, 1.0 - E @ centres[j])
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(KMEANS_ROUNDS):
        new = np.asarray((E @ centres.T).argmax(axis=1), dtype=np.int64)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = E[labels == j]
            if len(members):
                mean = members.sum(axis=0)
                norm = float(np.linalg.norm(mean))
                centres[j] = mean / norm if norm > 0 else centres[j]
    return labels


def _silhouette(sims: FloatArray, labels: IntArray, k: int) -> float:
    """Mean silhouette with cosine distance, from the rows' cosine matrix."""
    n = len(labels)
    dist = 1.0 - sims
    member = np.zeros((n, k), dtype=np.float64)
    member[np.arange(n), labels] = 1.0
    sizes = member.sum(axis=0)
    sums = dist @ member  # per row, the summed distance to each cluster's members
    own = sizes[labels] - 1.0
    a = np.where(own > 0, sums[np.arange(n), labels] / np.maximum(own, 1.0), 0.0)
    other = sums / np.maximum(sizes, 1.0)
    other[np.arange(n), labels] = np.inf
    b = other.min(axis=1)
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def find_interests(
    E: Rows,
    *,
    min_silhouette: float,
    max_interests: int = MAX_INTERESTS,
    min_size: int = MIN_INTEREST_SIZE,
    seed: int = RANDOM_SEED,
) -> IntArray:
    """Interest number per saved paper (rows of unit embeddings ``E``), 0..k-1.

    Tries k = 2 .. ``max_interests`` (as far as every interest keeps ``min_size``
    papers) and keeps the split with the best mean silhouette if that reaches
    ``min_silhouette``; otherwise (or with too few papers) one interest, all zeros.
    Deterministic for a given ``seed``.
    """
    n = E.shape[0]
    one = np.zeros(n, dtype=np.int64)
    top = min(max_interests, n // max(min_size, 1))
    if top < 2:
        return one
    X = np.asarray(E, dtype=np.float64)
    sims = X @ X.T
    best, best_score = one, -np.inf
    for k in range(2, top + 1):
        labels = _kmeans(X, k, seed)
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() < min_size:
            continue
        score = _silhouette(sims, labels, k)
        if score > best_score:
            best, best_score = labels, score
    return best if best_score >= min_silhouette else one


@dataclass(frozen=True, slots=True)
class InterestScores:
    """Per candidate: the best interest's logit, which interest that is, and its pull.

    ``raw[i]`` is ``max_j`` of interest j's model logit, ``interest[i]`` that j; per
    interest j, ``pulls[j]`` is its members' coefficients (model.DenseScores.saved_pull)
    and ``members[j]`` their rows among the saved papers given.
    """

    raw: FloatArray
    interest: IntArray
    pulls: tuple[FloatArray, ...]
    members: tuple[IntArray, ...]


def interest_scores(
    saved: Rows,
    labels: IntArray,
    negatives: Rows,
    candidates: Rows,
    *,
    C: float = 1.0,
    skip: npt.NDArray[np.bool_] | None = None,
) -> InterestScores:
    """One saved-vs-negatives model per interest; each candidate scored by its best one.

    The fits share one set of rows (every saved paper, then the negatives, as two blocks:
    recommender.solver): interest j's fit gives the other interests' papers no weight,
    which is the fit on its own papers and the negatives without copying them for each.
    ``skip`` marks negatives left out of every fit (model.logistic_scores).
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0:
        raise ValueError("no saved papers to find interests in")
    n_saved, n_neg = saved.shape[0], negatives.shape[0]
    pos, neg = np.asarray(saved, dtype=np.float32), np.asarray(negatives, dtype=np.float32)
    y = np.concatenate([np.ones(n_saved), np.zeros(n_neg)]).astype(np.int64)
    logits = np.empty((k, candidates.shape[0]), dtype=np.float64)
    pulls: list[FloatArray] = []
    members: list[IntArray] = []
    for j in range(k):
        rows = np.flatnonzero(labels == j).astype(np.int64)
        if len(rows) == 0:
            raise ValueError(f"interest {j} has no saved paper")
        _, balanced = balanced_weights(len(rows), n_neg, 0, skip=skip)
        weight = np.zeros(n_saved + n_neg, dtype=np.float64)
        weight[rows] = balanced[: len(rows)]
        weight[n_saved:] = balanced[len(rows) :]
        result = dense_fit((pos, neg), y, weight, rows, candidates, C=C)
        logits[j] = result.raw
        pulls.append(result.saved_pull)
        members.append(rows)
    best = np.asarray(logits.argmax(axis=0), dtype=np.int64)
    return InterestScores(
        raw=logits[best, np.arange(candidates.shape[0])],
        interest=best,
        pulls=tuple(pulls),
        members=tuple(members),
    )
