"""The user's own feedback in recommender.rank (issue #21 item 5): papers opened from a
digest (Profile.clicked) as extra positives, papers shown and ignored (Profile.ignored) as
extra negatives, each weighing a fraction of a saved paper; weight 0 is today's ranking.

Made-up vectors as in test_meaning_view.py, so "close in meaning" is under control.
"""

from __future__ import annotations

import numpy as np
import pytest

from paperboy.recommender import Paper, Profile, rank
from paperboy.recommender.model import balanced_weights
from tests.recommender.corpus import ALL, BANDIT, NLP, PROT
from tests.recommender.test_meaning_view import FEW, topic_vectors

VECTORS = topic_vectors(ALL)
SAVED = tuple(NLP[:4])


def ranked(profile: Profile, candidates: list[Paper] = ALL, **options: float) -> dict[str, float]:
    out = rank(profile, candidates, ALL, embeddings=VECTORS, min_negatives=FEW, **options)
    return {r.paper.id: r.score for r in out}


def mean_position(profile: Profile, papers: list[Paper], **options: float) -> float:
    out = rank(profile, ALL, ALL, embeddings=VECTORS, min_negatives=FEW, **options)
    position = {r.paper.id: k for k, r in enumerate(out)}
    return float(np.mean([position[p.id] for p in papers]))


@pytest.mark.parametrize("with_vectors", [True, False])
def test_weight_zero_is_exactly_the_ranking_without_feedback(with_vectors: bool) -> None:
    clicked, ignored = tuple(BANDIT[:3]), tuple(PROT[:3])
    rest = [p for p in ALL if p not in clicked]
    vectors = VECTORS if with_vectors else None
    plain = rank(Profile(saved=SAVED), rest, ALL, embeddings=vectors, min_negatives=FEW)
    off = rank(
        Profile(saved=SAVED, clicked=clicked, ignored=ignored),
        ALL,
        ALL,
        embeddings=vectors,
        min_negatives=FEW,
        click_weight=0.0,
        ignored_weight=0.0,
    )
    assert [(r.paper.id, r.score, r.why, r.closest) for r in off] == [
        (r.paper.id, r.score, r.why, r.closest) for r in plain
    ]


def test_a_clicked_paper_raises_papers_like_it() -> None:
    profile = Profile(saved=SAVED, clicked=tuple(BANDIT[:3]))
    others = BANDIT[3:]
    before = ranked(profile, click_weight=0.0)
    after = ranked(profile, click_weight=1.0)
    assert all(after[p.id] > before[p.id] for p in others)
    assert mean_position(profile, others, click_weight=1.0) < mean_position(
        profile, others, click_weight=0.0
    )


def test_a_larger_click_weight_raises_them_more() -> None:
    profile = Profile(saved=SAVED, clicked=tuple(BANDIT[:3]))
    half, full = ranked(profile, click_weight=0.5), ranked(profile, click_weight=1.0)
    assert all(full[p.id] > half[p.id] for p in BANDIT[3:])


def test_ignored_papers_lower_papers_like_them() -> None:
    # Shown and ignored: papers like the saved ones that the user passed over.
    profile = Profile(saved=(*SAVED, *BANDIT[:2]), ignored=tuple(BANDIT[2:5]))
    others = BANDIT[5:]
    before = ranked(profile, ignored_weight=0.0)
    after = ranked(profile, ignored_weight=1.0)
    assert all(after[p.id] < before[p.id] for p in others)


def test_clicked_papers_are_not_recommended_again_and_never_named_as_saved() -> None:
    clicked = tuple(BANDIT[:3])
    out = rank(
        Profile(saved=SAVED, clicked=clicked),
        ALL,
        ALL,
        embeddings=VECTORS,
        min_negatives=FEW,
        click_weight=1.0,
    )
    assert not {p.id for p in clicked} & {r.paper.id for r in out}
    saved_ids = {p.id for p in SAVED}
    for r in out:
        assert set(r.closest) <= saved_ids, (r.paper.id, r.closest)
        assert all(p.title[:20] not in r.why for p in clicked)


def test_saved_and_disliked_win_over_clicked_and_ignored() -> None:
    """A paper both saved and clicked counts as saved once; both disliked and ignored, as
    disliked: the ranking is the one without the click or the ignore."""
    disliked = (PROT[0],)
    plain = ranked(Profile(saved=SAVED, disliked=disliked))
    both = ranked(
        Profile(saved=SAVED, disliked=disliked, clicked=SAVED[:2], ignored=disliked),
        click_weight=1.0,
        ignored_weight=1.0,
    )
    assert both == plain


@pytest.mark.parametrize("option", ["click_weight", "ignored_weight"])
@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_bad_weights_are_refused(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        rank(Profile(saved=SAVED), ALL, ALL, **{option: value})


def test_sample_weights_without_feedback_are_as_before() -> None:
    n_pos, n_neg, n_bad = 4, 100, 2
    y, w = balanced_weights(n_pos, n_neg, n_bad)
    n = n_pos + n_neg + n_bad
    pos_w, neg_w = n / (2 * n_pos), n / (2 * (n_neg + n_bad))
    assert list(y) == [1] * n_pos + [0] * (n_neg + n_bad)
    assert np.allclose(w, [pos_w] * n_pos + [neg_w] * n_neg + [max(pos_w, neg_w)] * n_bad)


def test_sample_weights_of_clicked_and_ignored_rows_are_fractions_of_a_saved_paper() -> None:
    # 4 saved + 2 clicked positives; 100 negatives; 1 disliked + 2 ignored bad rows.
    y, w = balanced_weights(
        6, 100, 3, clicked_weights=np.array([0.5, 0.5]), bad_weights=np.array([1.0, 0.2, 0.2])
    )
    saved_w = w[0]
    assert np.allclose(w[:4], saved_w) and np.allclose(w[4:6], 0.5 * saved_w)
    assert np.isclose(w[-3], saved_w) and np.allclose(w[-2:], 0.2 * saved_w)
    # Balanced on the weighted count: the positives weigh half of all the rows.
    assert np.isclose(w[:6].sum(), (6 + 100 + 3) / 2)
    assert list(y) == [1] * 6 + [0] * 103
