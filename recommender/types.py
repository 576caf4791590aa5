"""Plain data that goes in and out of the ranker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as the ranker sees it: an id and its text. Nothing else is required."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    announced: date | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What one user has told us: papers they saved, plus optional hints.

    ``disliked`` papers ("not for me") are explicit negatives, each weighing as much as a
    saved paper, far more than one background paper. A saved paper's ``announced`` date
    serves recency weighting when it is turned on.

    The user's own feedback from their digests (issue #21): ``clicked`` papers (opened
    from a digest) are extra positives and ``ignored`` ones (shown in a digest, neither
    opened nor liked) extra negatives, each weighing a fraction of a saved paper
    (``recommender.ranker.CLICK_WEIGHT`` and ``IGNORED_WEIGHT``). A paper that is also
    saved counts as saved, one also disliked as disliked.
    """

    saved: tuple[Paper, ...]
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()
    disliked: tuple[Paper, ...] = ()
    clicked: tuple[Paper, ...] = ()
    ignored: tuple[Paper, ...] = ()


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate with its score (higher is better, in [0, 1]) and why it scored so."""

    paper: Paper
    score: float
    why: str
    closest: tuple[str, ...] = field(default=())  # ids of the saved papers it is closest to
    terms: tuple[str, ...] = field(default=())  # terms that contributed most to the score
