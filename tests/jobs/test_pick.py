"""jobs.ranking.pick: which ranked papers go into a digest, and the note about how it was
ranked. Pure functions: plain values in, no database, no configuration."""

from __future__ import annotations

import pytest

from paperboy.jobs.ranking.pick import (
    RELATIVE_FLOOR,
    WEAK_SCORE,
    WEAK_SHOWN,
    basis_note,
    pick,
)
from paperboy.recommender import Paper, Profile, Ranked


def ranked(*scores: float) -> list[Ranked]:
    return [Ranked(Paper(id=f"p{i}", title="t", abstract="a"), s, "") for i, s in enumerate(scores)]


def scores(picked: list[Ranked]) -> list[float]:
    return [r.score for r in picked]


def test_the_thresholds_are_the_documented_ones() -> None:
    assert (WEAK_SCORE, WEAK_SHOWN, RELATIVE_FLOOR) == (0.10, 3, 0.25)


def test_an_empty_ranking_picks_nothing() -> None:
    assert pick([], min_score=0.0, max_papers=10) == []


def test_nothing_at_or_above_the_users_threshold_picks_nothing() -> None:
    assert pick(ranked(0.4, 0.3), min_score=0.5, max_papers=10) == []


def test_the_users_threshold_is_inclusive() -> None:
    assert scores(pick(ranked(0.5, 0.49), min_score=0.5, max_papers=10)) == [0.5]


def test_never_more_than_max_papers_and_in_ranked_order() -> None:
    picked = pick(ranked(0.9, 0.8, 0.7, 0.6, 0.5), min_score=0.0, max_papers=3)
    assert [r.paper.id for r in picked] == ["p0", "p1", "p2"]
    assert pick(ranked(0.9, 0.8), min_score=0.0, max_papers=0) == []


def test_a_weak_paper_never_pads_a_digest_of_good_ones() -> None:
    # best 0.6: floor = min(WEAK_SCORE, 0.6 * RELATIVE_FLOOR) = 0.10
    assert scores(pick(ranked(0.6, 0.5, 0.099, 0.05), min_score=0.0, max_papers=10)) == [
        0.6,
        0.5,
    ]


def test_on_a_thin_day_a_quarter_of_the_best_is_the_floor() -> None:
    # best 0.2: floor = 0.05, so 0.06 is in (under WEAK_SCORE), 0.04 is not
    assert scores(pick(ranked(0.2, 0.12, 0.06, 0.04), min_score=0.0, max_papers=10)) == [
        0.2,
        0.12,
        0.06,
    ]
    # exactly at the relative floor: in
    assert scores(pick(ranked(0.2, 0.05), min_score=0.0, max_papers=10)) == [0.2, 0.05]


def test_a_best_exactly_at_weak_score_is_not_weak() -> None:
    picked = pick(ranked(0.10, 0.09, 0.08, 0.07, 0.06), min_score=0.0, max_papers=10)
    assert scores(picked) == [0.10, 0.09, 0.08, 0.07, 0.06]  # floor 0.025: all in


def test_all_weak_shows_at_most_weak_shown() -> None:
    weak = pick(ranked(*[0.07 - i / 1000 for i in range(20)]), min_score=0.0, max_papers=10)
    assert scores(weak) == [0.07, 0.069, 0.068]
    assert len(pick(ranked(0.05, 0.04), min_score=0.0, max_papers=10)) == 2
    assert len(pick(ranked(0.05, 0.04, 0.03), min_score=0.0, max_papers=1)) == 1


SAVED = Profile(saved=(Paper(id="s", title="s", abstract="s"),))


@pytest.mark.parametrize(
    ("profile", "picked", "expected"),
    [
        (SAVED, ranked(0.5, 0.05), ""),  # one good paper: nothing to say
        (None, ranked(0.5), ""),  # no candidates, no profile
        (SAVED, [], ""),  # nothing picked: not "weak matches"
    ],
)
def test_no_note_when_there_is_nothing_to_say(
    profile: Profile | None, picked: list[Ranked], expected: str
) -> None:
    assert basis_note(profile, picked) == expected


def test_weak_matches_only_says_how_many() -> None:
    note = basis_note(SAVED, ranked(0.07, 0.06))
    assert note == (
        "Weak matches only: no paper scored 10% or more, so this digest shows just the best 2."
    )


def test_keywords_only_and_nothing_to_rank_against() -> None:
    keywords = basis_note(Profile(saved=(), keywords=("x",)), ranked(0.5))
    assert keywords.startswith("Ranked on your keywords and authors only")
    authors = basis_note(Profile(saved=(), authors=("Ada",)), ranked(0.5))
    assert authors.startswith("Ranked on your keywords and authors only")
    nothing = basis_note(Profile(saved=()), [])
    assert nothing.startswith("Nothing to rank against yet") and "Weak" not in nothing


def test_both_notes_at_once() -> None:
    note = basis_note(Profile(saved=(), keywords=("x",)), ranked(0.05))
    assert note.startswith("Ranked on your keywords and authors only")
    assert note.endswith("shows just the best 1.")
