"""Recency weights for a user's saved papers: interests drift, so newer papers count more.

A saved paper's weight halves every ``half_life_days`` of its age, measured from its
announcement date to the ranking's day (the newest candidate's date). The weights only
share out the saved class's total weight in a user's model
(:func:`recommender.model.logistic_scores`), so they change which saved papers the model
listens to, not how strongly it separates saved from background.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

from paperboy.recommender.types import Paper

__all__ = ["ranking_day", "recency_weights"]

FloatArray = npt.NDArray[np.float64]


def ranking_day(candidates: Sequence[Paper]) -> date | None:
    """The day a ranking is for: the newest announcement date among its candidates."""
    days = [p.announced for p in candidates if p.announced is not None]
    return max(days) if days else None


def recency_weights(saved: Sequence[Paper], today: date, half_life_days: float) -> FloatArray:
    """Per saved paper ``0.5 ** (age_days / half_life_days)``, the newest weighing 1.

    A paper without a date weighs as the median dated one (neither new nor old); with no
    dated paper at all every weight is 1. A paper dated after ``today`` counts as today's.
    """
    if not half_life_days > 0:  # also rejects NaN
        raise ValueError(f"half_life_days must be positive, got {half_life_days!r}")
    ages = np.asarray(
        [(today - p.announced).days if p.announced is not None else np.nan for p in saved],
        dtype=np.float64,
    )
    dated = ~np.isnan(ages)
    if not dated.any():
        return np.ones(len(saved), dtype=np.float64)
    ages[~dated] = float(np.median(ages[dated]))
    weights = np.power(0.5, np.maximum(ages, 0.0) / half_life_days)
    return np.asarray(weights / weights.max(), dtype=np.float64)
