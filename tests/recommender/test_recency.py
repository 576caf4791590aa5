"""recommender.recency: saved papers weighted by age, and the weights in the models."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from paperboy.recommender.model import balanced_weights, embedding_scores
from paperboy.recommender.recency import ranking_day, recency_weights
from paperboy.recommender.types import Paper


def paper(pid: str, day: date | None) -> Paper:
    return Paper(id=pid, title=pid, announced=day)


def test_weight_halves_every_half_life() -> None:
    today = date(2026, 7, 1)
    saved = [paper("a", today), paper("b", date(2026, 6, 1)), paper("c", date(2026, 5, 2))]
    w = recency_weights(saved, today, 30.0)
    assert w == pytest.approx([1.0, 0.5, 0.25], rel=1e-9)


def test_undated_paper_weighs_as_the_median_and_future_as_today() -> None:
    today = date(2026, 7, 1)
    saved = [
        paper("a", date(2026, 7, 5)),  # after today: as today's
        paper("b", date(2026, 6, 1)),
        paper("c", date(2026, 5, 2)),
        paper("d", None),
    ]
    w = recency_weights(saved, today, 30.0)
    assert w == pytest.approx([1.0, 0.5, 0.25, 0.5], rel=1e-9)


def test_no_dates_means_equal_weights() -> None:
    w = recency_weights([paper("a", None), paper("b", None)], date(2026, 1, 1), 10.0)
    assert list(w) == [1.0, 1.0]


@pytest.mark.parametrize("bad", [0.0, -3.0, float("nan")])
def test_half_life_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="half_life_days must be positive"):
        recency_weights([paper("a", None)], date(2026, 1, 1), bad)


def test_ranking_day_is_the_newest_candidate() -> None:
    cands = [paper("a", date(2026, 3, 2)), paper("b", None), paper("c", date(2026, 3, 4))]
    assert ranking_day(cands) == date(2026, 3, 4)
    assert ranking_day([paper("b", None)]) is None


def test_saved_weights_share_the_class_total() -> None:
    _, equal = balanced_weights(4, 10, 0)
    _, shared = balanced_weights(4, 10, 0, np.asarray([1.0, 1.0, 0.5, 0.5]))
    assert shared[:4].sum() == pytest.approx(equal[:4].sum())
    assert shared[0] == pytest.approx(2 * shared[2])
    assert list(shared[4:]) == list(equal[4:])
    with pytest.raises(ValueError, match="4 positive numbers"):
        balanced_weights(4, 10, 0, np.asarray([1.0, 0.0, 1.0, 1.0]))


def test_a_heavier_saved_paper_pulls_its_neighbours_up() -> None:
    rng = np.random.default_rng(0)
    old, new = rng.normal(size=16), rng.normal(size=16)
    saved = np.vstack(
        [old + 0.3 * rng.normal(size=16) for _ in range(3)]
        + [new + 0.3 * rng.normal(size=16) for _ in range(3)]
    )
    negatives = rng.normal(size=(200, 16))
    cands = np.vstack([old, new])
    flat = embedding_scores(saved, negatives, cands).raw
    recent = embedding_scores(
        saved, negatives, cands, saved_weights=np.asarray([0.1] * 3 + [1.0] * 3)
    ).raw
    assert recent[1] - recent[0] > flat[1] - flat[0] + 0.5
