"""The words view's shared negatives (recommender.negatives): preparing them once and
leaving a user's own papers out by weight gives the fit of the plain per-user column cut.

The reference is written out here as the ranker did it before: stack saved rows,
negatives without the user's papers and disliked rows, keep the terms of the saved
papers and those in at least ``min_df`` training rows, fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from paperboy.recommender import Index, Profile, rank
from paperboy.recommender.model import balanced_weights, logistic_scores
from paperboy.recommender.negatives import Negatives, prepared, training_rows
from paperboy.recommender.ranker import _min_df
from tests.recommender.corpus import ALL, ASTRO, NLP
from tests.recommender.test_meaning_view import FEW, topic_vectors


def reference_raw(
    pos: sp.csr_matrix,
    neg: sp.csr_matrix,
    cand: sp.csr_matrix,
    bad: sp.csr_matrix,
    min_df: int,
) -> np.ndarray:
    """The words view fitted the way it was before negatives were prepared."""
    in_saved = np.zeros(pos.shape[1])
    in_saved[pos.indices] = 1.0
    bad = sp.csr_matrix(bad.multiply(in_saved.reshape(1, -1)))
    bad.eliminate_zeros()
    train = sp.vstack([pos, neg, bad], format="csr")
    used = np.bincount(train.indices, minlength=pos.shape[1]) >= min_df
    used[pos.indices] = True
    columns = np.flatnonzero(used)
    y, w = balanced_weights(pos.shape[0], neg.shape[0], bad.shape[0])
    model = LogisticRegression(C=10.0, solver="lbfgs", max_iter=1000, tol=1e-8)
    model.fit(train[:, columns].astype(np.float32), y, sample_weight=w)
    weights = np.zeros(pos.shape[1])
    weights[columns] = model.coef_[0]
    return np.asarray(cand @ weights).ravel() + model.intercept_[0]


def random_rows(rng: np.random.Generator, n: int, terms: int) -> sp.csr_matrix:
    """Sparse non-negative rows, each a few dozen terms, Zipf-like term frequencies."""
    popularity = 1.0 / np.arange(1, terms + 1)
    popularity /= popularity.sum()
    rows = []
    for _ in range(n):
        cols = np.unique(rng.choice(terms, size=int(rng.integers(5, 40)), p=popularity))
        row = np.zeros(terms)
        row[cols] = rng.random(len(cols))
        rows.append(row / np.linalg.norm(row))
    return sp.csr_matrix(np.asarray(rows))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("min_df", [1, 2, 3, 5])
def test_prepared_negatives_with_skipped_rows_fit_as_the_plain_column_cut(
    seed: int, min_df: int
) -> None:
    rng = np.random.default_rng(seed)
    terms = 400
    pos = random_rows(rng, 8, terms)
    others = random_rows(rng, 118, terms)
    # The user's own papers are in the shared background (rows 3 and 50).
    background = sp.vstack([others[:3], pos[0], others[3:49], pos[5], others[49:]], format="csr")
    skip = np.zeros(120, dtype=bool)
    skip[[3, 50]] = True
    bad = random_rows(rng, 2, terms)
    cand = random_rows(rng, 30, terms)
    expected = reference_raw(pos, background[~skip], cand, bad, min_df)
    prepared = Negatives.of(background, min_df)
    got = logistic_scores(pos, prepared, cand, disliked=bad, skip=skip, tol=1e-8).raw
    # The solvers stop at slightly different points (float32, other column order).
    np.testing.assert_allclose(got, expected, atol=1e-2)
    # A plain matrix is prepared on the spot, with the min_df given.
    plain = logistic_scores(pos, background[~skip], cand, disliked=bad, min_df=min_df, tol=1e-8)
    np.testing.assert_allclose(plain.raw, expected, atol=1e-2)


def test_the_training_columns_are_the_base_terms_then_the_saved_papers_other_terms() -> None:
    neg = sp.csr_matrix(
        np.array(
            [
                [1.0, 1.0, 0.0, 0.0, 0.0],
                [1.0, 0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 1.0],
            ]
        )
    )
    pos = sp.csr_matrix(np.array([[0.0, 0.5, 0.0, 0.5, 0.0]]))
    prepared = Negatives.of(neg, 2)
    assert prepared.base.tolist() == [0]  # only term 0 is in two negatives
    rows = training_rows(pos, prepared, sp.csr_matrix((0, 5)))
    assert rows.columns.tolist() == [0, 1, 3]  # base, then saved terms 1 and 3
    dense = rows.X.toarray()
    assert dense.tolist() == [
        [0.0, 0.5, 0.5],  # the saved paper
        [1.0, 1.0, 0.0],  # term 1 of the first negative is kept: a saved paper has it
        [1.0, 0.0, 0.0],  # term 2 is in one negative and no saved paper: left out
        [0.0, 0.0, 0.0],
    ]
    assert rows.X.dtype == np.float32


def test_a_bad_min_df_or_a_mismatched_vocabulary_is_refused() -> None:
    neg = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match="min_df"):
        Negatives.of(neg, 0)
    with pytest.raises(ValueError, match="terms"):
        logistic_scores(
            sp.csr_matrix(np.ones((1, 4))), Negatives.of(neg, 2), sp.csr_matrix(np.ones((1, 4)))
        )
    with pytest.raises(ValueError, match="skip"):
        logistic_scores(sp.csr_matrix(np.ones((1, 3))), neg, neg, skip=np.zeros(2, dtype=bool))


def test_the_ranker_prepares_a_background_once_per_matrix_and_min_df() -> None:
    index = Index.build(ALL)
    rows = index.features(ALL)
    assert prepared(rows, 2) is prepared(rows, 2)
    assert prepared(rows, 3) is not prepared(rows, 2)
    assert prepared(rows, 3).min_df == 3


@pytest.mark.parametrize("meaning", [False, True])
def test_a_saved_paper_in_the_background_ranks_as_if_it_were_not_there(meaning: bool) -> None:
    saved = (*NLP[:6], *ASTRO[:3])  # two interests when the meaning view is on
    others = [p for p in ALL if p not in saved]
    index = Index.build(ALL)
    options: dict[str, Any] = {"index": index}
    if meaning:
        options.update(embeddings=topic_vectors(ALL), min_negatives=FEW, min_silhouette=0.0)
    with_own = rank(Profile(saved=saved), ALL, ALL, **options)
    without = rank(Profile(saved=saved), ALL, others, **options)
    assert [r.paper.id for r in with_own] == [r.paper.id for r in without]
    assert [r.why for r in with_own] == [r.why for r in without]
    if meaning:
        assert any(r.why.startswith("for your interest in") for r in with_own)
    np.testing.assert_allclose([r.score for r in with_own], [r.score for r in without], atol=1e-4)


@pytest.mark.parametrize(
    ("option", "value"),
    [("words_min_df", 0), ("words_tol", 0.0), ("words_negatives", 0), ("meaning_negatives", 0)],
)
def test_bad_words_view_options_are_refused(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        rank(Profile(saved=NLP[:3]), ALL, ALL, **{option: value})  # type: ignore[arg-type]


def test_the_words_view_can_fit_on_the_first_negatives_only() -> None:
    index = Index.build(ALL)
    saved = tuple(NLP[:4])
    assert set(saved) <= set(ALL[:16])  # the first 16: the saved papers (sitting out), 12 more
    some = rank(Profile(saved=saved), ALL, ALL, index=index, words_negatives=16)
    alone = rank(Profile(saved=saved), ALL, ALL[:16], index=index)
    assert [r.paper.id for r in some] == [r.paper.id for r in alone]


def test_the_minimum_count_scales_with_the_negatives() -> None:
    # 5 of a digest's 5,000 negatives; never under 2 (a small one-off background).
    assert [_min_df(n) for n in (0, 40, 1999, 2000, 2001, 5000, 20000)] == [2, 2, 2, 2, 3, 5, 20]


def test_a_clicked_paper_in_the_background_counts_once_as_a_click() -> None:
    saved, clicked = tuple(NLP[:4]), (NLP[5],)
    index = Index.build(ALL)
    profile = Profile(saved=saved, clicked=clicked)
    with_it = rank(profile, ALL, ALL, index=index)
    without = rank(profile, ALL, [p for p in ALL if p not in clicked], index=index)
    assert [r.paper.id for r in with_it] == [r.paper.id for r in without]
    np.testing.assert_allclose([r.score for r in with_it], [r.score for r in without], atol=1e-4)


def test_the_meaning_view_can_fit_on_the_first_negatives_only() -> None:
    index = Index.build(ALL)
    saved = tuple(NLP[:4])
    vectors = topic_vectors(ALL)
    options: dict[str, Any] = {"index": index, "embeddings": vectors, "min_negatives": FEW}
    # Both views on the first 16 negatives: as if the background were those 16.
    first = rank(Profile(saved=saved), ALL, ALL[:16], **options)
    both_first = rank(
        Profile(saved=saved), ALL, ALL, words_negatives=16, meaning_negatives=16, **options
    )
    assert [r.paper.id for r in both_first] == [r.paper.id for r in first]
    assert [r.why for r in both_first] == [r.why for r in first]
    # The meaning view alone on them differs from every negative (the test has teeth).
    some = rank(Profile(saved=saved), ALL, ALL, meaning_negatives=16, **options)
    every = rank(Profile(saved=saved), ALL, ALL, **options)
    assert [r.score for r in some] != [r.score for r in every]
