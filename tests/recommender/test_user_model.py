"""The per-user model's issue #21 options in recommender.rank: several interests (and
their reasons), recency weights, the views' shares, and bad values refused.

Made-up vectors (a direction per topic plus noise) as in test_meaning_view.py, so each
test controls what "close in meaning" is.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from paperboy.recommender import Paper, Profile, rank
from paperboy.recommender.reasons import Evidence, format_reason
from tests.recommender.corpus import ALL, ASTRO, BANDIT, NLP
from tests.recommender.test_meaning_view import FEW, topic_vectors

TWO = (*NLP[:6], *ASTRO[:3])  # a main interest and a minority one


def interests_ranked(share: float, silhouette: float = 0.0) -> dict[str, object]:
    ranked = rank(
        Profile(saved=TWO),
        ALL,
        ALL,
        embeddings=topic_vectors(ALL),
        min_negatives=FEW,
        interest_share=share,
        min_silhouette=silhouette,
    )
    return {r.paper.id: r for r in ranked}


def test_a_paper_picked_for_an_interest_names_the_interest_and_its_saved_paper() -> None:
    by_id = interests_ranked(0.5)
    astro_saved = {p.id for p in ASTRO[:3]}
    nlp_saved = {p.id for p in NLP[:6]}
    astro_text = " ".join(f"{p.title} {p.abstract}".lower() for p in ASTRO[:3])
    for p in ASTRO[3:]:
        r = by_id[p.id]
        assert r.why.startswith("for your interest in "), r.why  # type: ignore[attr-defined]
        assert set(r.closest) <= astro_saved and r.closest  # type: ignore[attr-defined]
        named = r.why.split("for your interest in ")[1].split(":")[0]  # type: ignore[attr-defined]
        assert all(term in astro_text for term in named.split(", ")), named
    for p in NLP[6:]:
        r = by_id[p.id]
        assert r.why.startswith("for your interest in "), r.why  # type: ignore[attr-defined]
        assert set(r.closest) <= nlp_saved and r.closest  # type: ignore[attr-defined]


def test_off_topic_papers_are_not_said_to_fit_an_interest() -> None:
    by_id = interests_ranked(0.5)
    for p in BANDIT:
        assert "for your interest" not in by_id[p.id].why  # type: ignore[attr-defined]


def test_without_interests_no_interest_is_named() -> None:
    by_id = interests_ranked(0.0)
    assert not any("for your interest" in r.why for r in by_id.values())  # type: ignore[attr-defined]


def test_one_topic_is_one_interest_and_ranks_as_without() -> None:
    saved = tuple(NLP[:8])
    vectors = topic_vectors(ALL)
    kwargs = {"embeddings": vectors, "min_negatives": FEW}
    plain = rank(Profile(saved=saved), ALL, ALL, **kwargs)  # type: ignore[arg-type]
    mixed = rank(
        Profile(saved=saved),
        ALL,
        ALL,
        interest_share=0.5,
        min_silhouette=0.2,
        **kwargs,  # type: ignore[arg-type]
    )
    assert [r.paper.id for r in plain] == [r.paper.id for r in mixed]
    assert [r.why for r in plain] == [r.why for r in mixed]


def test_reason_wording_for_an_interest() -> None:
    e = Evidence(closest_title="Galaxy Rotation Curves", interest=("galaxy", "dark matter"))
    assert format_reason(e) == (
        'for your interest in galaxy, dark matter: close to your saved "Galaxy Rotation Curves"'
    )
    unnamed = dataclasses.replace(e, interest=())
    assert format_reason(unnamed).startswith("for one of your interests: close to your saved")


def dated(papers: list[Paper], day: date) -> tuple[Paper, ...]:
    return tuple(dataclasses.replace(p, announced=day) for p in papers)


def test_recency_lets_the_newer_interest_lead() -> None:
    """Five saved NLP papers two years old and five bandit papers from last month: with a
    30-day half-life the bandit papers of today come first."""
    today = date(2026, 7, 1)
    saved = (
        *dated(NLP[:5], today - timedelta(days=730)),
        *dated(BANDIT[:5], today - timedelta(days=30)),
    )
    cands = dated([*NLP[5:], *BANDIT[5:]], today)
    kwargs = {"embeddings": topic_vectors(ALL), "min_negatives": FEW}
    recent = rank(Profile(saved=saved), cands, ALL, half_life_days=30.0, **kwargs)  # type: ignore[arg-type]
    assert all(r.paper.id.startswith("bandit") for r in recent[:5])
    flat = rank(Profile(saved=saved), cands, ALL, **kwargs)  # type: ignore[arg-type]
    assert not all(r.paper.id.startswith("bandit") for r in flat[:5])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("meaning_share", 0.0, "meaning_share must be between 0 and 1"),
        ("meaning_share", 1.0, "meaning_share must be between 0 and 1"),
        ("meaning_C", 0.0, "meaning_C must be positive"),
        ("half_life_days", -5.0, "half_life_days must be None or positive"),
        ("interest_share", 1.5, r"interest_share must be in \[0, 1\]"),
    ],
)
def test_bad_options_are_refused(option: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rank(Profile(saved=(NLP[0],)), ALL, ALL, **{option: value})  # type: ignore[arg-type]
