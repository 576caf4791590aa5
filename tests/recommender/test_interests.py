"""recommender.interests: a user's saved papers split into interests, each its own model."""

from __future__ import annotations

import numpy as np
import pytest

from paperboy.recommender.interests import find_interests, interest_scores
from paperboy.recommender.model import embedding_scores

DIM = 64


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def topics(sizes: list[int], noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows around one random direction per topic, and each row's topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), DIM))
    rows, labels = [], []
    for t, n in enumerate(sizes):
        rows.append(centres[t] + noise * rng.normal(size=(n, DIM)))
        labels += [t] * n
    return unit(np.vstack(rows)), np.asarray(labels)


def test_two_clear_topics_are_two_interests() -> None:
    E, truth = topics([20, 6], noise=0.5)
    labels = find_interests(E, min_silhouette=0.05)
    assert labels.max() == 1
    # The same partition as the topics, whatever the numbering.
    assert len({(a, b) for a, b in zip(labels, truth, strict=True)}) == 2


def test_one_topic_stays_one_interest() -> None:
    E, _ = topics([30], noise=1.0)
    assert find_interests(E, min_silhouette=0.05).max() == 0


def test_too_few_papers_for_two_interests() -> None:
    E, _ = topics([3, 2], noise=0.3)
    assert not find_interests(E, min_silhouette=0.0).any()


def test_no_interest_smaller_than_the_minimum() -> None:
    E, _ = topics([20, 2], noise=0.3)  # the two strays cannot be an interest of their own
    labels = find_interests(E, min_silhouette=0.0, min_size=3)
    assert np.bincount(labels).min() >= 3


def test_deterministic() -> None:
    E, _ = topics([12, 9, 7], noise=0.6, seed=3)
    first = find_interests(E, min_silhouette=0.0)
    assert np.array_equal(first, find_interests(E, min_silhouette=0.0))


def test_a_minority_interest_is_not_drowned() -> None:
    """With 24 saved papers on A and 6 on B, the global model ranks B's new papers below
    A's; the per-interest score puts them on A's level (the point of the module)."""
    rng = np.random.default_rng(1)
    E, truth = topics([24, 6, 200], noise=0.9, seed=1)
    saved, negatives = E[truth < 2][:30], E[truth == 2]
    new, new_truth = topics([10, 10, 10], noise=0.9, seed=1)
    order = rng.permutation(len(new))
    new, new_truth = new[order], new_truth[order]
    labels = find_interests(saved, min_silhouette=0.0)
    assert labels.max() >= 1
    best = interest_scores(saved, labels, negatives, new)
    glob = embedding_scores(saved, negatives, new).raw
    gap_global = glob[new_truth == 0].mean() - glob[new_truth == 1].mean()
    gap_interest = best.raw[new_truth == 0].mean() - best.raw[new_truth == 1].mean()
    assert gap_global > 0.5
    assert abs(gap_interest) < gap_global / 2
    # Each B paper is scored by the interest holding the B papers.
    b_interest = np.bincount(labels[truth[:30] == 1]).argmax()
    assert (best.interest[new_truth == 1] == b_interest).mean() > 0.8
    assert best.raw.shape == (30,)
    assert [len(m) for m in best.members] == list(np.bincount(labels))
    assert all(len(p) == len(m) for p, m in zip(best.pulls, best.members, strict=True))


def test_interest_scores_rejects_no_saved_papers() -> None:
    with pytest.raises(ValueError, match="no saved papers"):
        interest_scores(np.zeros((0, DIM)), np.zeros(0, dtype=np.int64), np.eye(DIM), np.eye(DIM))


def test_the_shared_matrix_fits_each_interest_as_its_own_papers_against_the_negatives() -> None:
    rng = np.random.default_rng(3)

    def unit(n: int, centre: np.ndarray) -> np.ndarray:
        rows = centre + 0.6 * rng.standard_normal((n, 16))
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    a, b = rng.standard_normal(16), rng.standard_normal(16)
    saved = np.vstack([unit(5, a), unit(4, b)])
    labels = np.array([0] * 5 + [1] * 4)
    negatives = unit(200, np.zeros(16))
    candidates = unit(30, a + b)
    skip = np.zeros(200, dtype=bool)
    skip[[7, 99]] = True
    got = interest_scores(saved, labels, negatives, candidates, C=1.0, skip=skip)
    for j in range(2):
        alone = embedding_scores(saved[labels == j], negatives[~skip], candidates, C=1.0)
        # The shared fit's logits for interest j where j is the best interest.
        picked = got.interest == j
        np.testing.assert_allclose(got.raw[picked], alone.raw[picked], atol=1e-3)
        np.testing.assert_allclose(got.pulls[j], alone.saved_pull, atol=1e-3)
