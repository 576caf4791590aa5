"""The second view: logistic regression on sentence embeddings, fused with the words view.

The vectors here are made up (a direction per topic plus noise), so each test controls
exactly what "close in meaning" is; the shipped encoder has its own tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from paperboy.recommender import Embeddings, Paper, Profile, rank
from paperboy.recommender.model import balanced_weights, embedding_scores, fuse
from tests.recommender.corpus import ALL, ASTRO, BANDIT, NLP, PROT, SEC

DIM = 384
# This corpus has 42 papers, far below recommender.ranker.MIN_MEANING_NEGATIVES; its
# made-up vectors are clean enough for the view to be fitted on a few dozen.
FEW = 2


def topic_vectors(papers: list[Paper], seed: int = 0) -> Embeddings:
    """One random direction per topic (the id's prefix), each paper near its topic's."""
    rng = np.random.default_rng(seed)
    topics: dict[str, np.ndarray] = {}
    rows = []
    for p in papers:
        topic = p.id.split("-")[0]
        if topic not in topics:
            topics[topic] = rng.normal(size=DIM)
        rows.append(topics[topic] + 0.6 * rng.normal(size=DIM))
    return Embeddings.from_arrays([p.id for p in papers], np.vstack(rows))


def ids(ranked: list) -> list[str]:  # type: ignore[type-arg]
    return [r.paper.id for r in ranked]


def test_saved_pull_is_each_saved_papers_share_of_the_weights() -> None:
    """w = C * sum_i s_i (y_i - p_i) x_i: the pull is what a reason may cite."""
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(6, 16)) + 1.0
    neg = rng.normal(size=(40, 16))
    cands = rng.normal(size=(5, 16))
    scores = embedding_scores(pos, neg, cands, C=1.0)
    X = np.vstack([pos, neg])
    y, s = balanced_weights(6, 40, 0)
    exact = LogisticRegression(C=1.0, max_iter=10_000, tol=1e-10).fit(X, y, sample_weight=s)
    alpha = 1.0 * s * (y - exact.predict_proba(X)[:, 1])
    assert np.allclose(alpha @ X, exact.coef_[0], atol=1e-5)  # the representer identity
    # The ranker's fit stops at sklearn's default tolerance: the same up to that.
    assert np.allclose(scores.saved_pull, alpha[:6], rtol=0.05, atol=1e-3)
    assert np.allclose(scores.raw, exact.decision_function(cands), atol=0.05)
    assert np.all(scores.saved_pull > 0)


def test_fuse_averages_the_views_that_scored_each_candidate() -> None:
    words = np.array([2.0, -1.0, 0.5])
    meaning = np.array([4.0, 0.0, 123.0])
    has = np.array([True, True, False])
    fused = fuse([(words, np.ones(3, dtype=bool)), (meaning, has)])
    assert fused.tolist() == [3.0, -0.5, 0.5]  # the third has no embedding: words alone


def test_a_paper_close_in_meaning_ranks_up_and_its_reason_names_the_saved_paper() -> None:
    vectors = topic_vectors(ALL)
    # A paper about proteins in words, but whose vector sits in the NLP topic: only the
    # meaning view can find it.
    odd = Paper(id="odd", title=PROT[5].title, abstract=PROT[5].abstract)
    vectors = vectors.merged(Embeddings.from_arrays(["odd"], vectors.matrix[[1]]))
    profile = Profile(saved=tuple(NLP[:4]))
    cands = [odd, *PROT, *ASTRO, *NLP[4:]]
    words_only = ids(rank(profile, cands, ALL))
    both = rank(profile, cands, ALL, embeddings=vectors, min_negatives=FEW)
    assert ids(both).index("odd") < words_only.index("odd")
    top = both[0]
    assert top.paper.id.startswith("nlp")
    assert "close to your saved" in top.why
    assert top.closest and top.closest[0] in {p.id for p in NLP[:4]}


def test_papers_without_an_embedding_are_still_ranked_on_the_same_scale() -> None:
    lacking = ("nlp-05", "astro-02", "prot-04")
    vectors = topic_vectors([p for p in ALL if p.id not in lacking])
    profile = Profile(saved=tuple(NLP[:3]))
    ranked = rank(profile, ALL, ALL, embeddings=vectors, min_negatives=FEW)
    assert sorted(ids(ranked)) == sorted(p.id for p in ALL if p not in NLP[:3])
    words_only = {r.paper.id: r.score for r in rank(profile, ALL, ALL)}
    fused = {r.paper.id: r.score for r in ranked}
    # No vector: the words view's verdict, mapped onto the fused scale (an increasing map,
    # so their order among themselves is the words view's).
    assert sorted(lacking, key=fused.__getitem__) == sorted(lacking, key=words_only.__getitem__)
    assert all(0.0 <= r.score <= 1.0 for r in ranked)


def test_a_damaged_vector_is_no_vector_and_the_paper_is_ranked_on_its_words() -> None:
    """A stored vector holding a NaN or an infinity (a damaged row) must not reach the fit,
    which no longer checks its input (recommender.solver): that paper ranks as one not
    yet encoded, every score a number."""
    damaged = ("nlp-05", "astro-02", "prot-04")
    clean = topic_vectors(ALL)
    matrix = clean.matrix.copy()
    matrix[clean.row_of["nlp-05"], 7] = np.nan
    matrix[clean.row_of["astro-02"], 0] = np.inf
    matrix[clean.row_of["prot-04"], 3] = -np.inf
    vectors = Embeddings.from_arrays([p.id for p in ALL], matrix)
    assert all(pid not in vectors for pid in damaged) and len(vectors) == len(ALL) - 3
    profile = Profile(saved=tuple(NLP[:3]))
    ranked = rank(profile, ALL, ALL, embeddings=vectors, min_negatives=FEW)
    assert all(np.isfinite(r.score) and 0.0 <= r.score <= 1.0 for r in ranked)
    lacking = topic_vectors([p for p in ALL if p.id not in damaged])
    as_lacking = rank(profile, ALL, ALL, embeddings=lacking, min_negatives=FEW)
    # The same ranking as without those three vectors at all (the others' vectors are
    # drawn anew there, so compare what the damaged papers get: the words view's order).
    fused = {r.paper.id: r.score for r in ranked}
    words_only = {r.paper.id: r.score for r in rank(profile, ALL, ALL)}
    assert sorted(damaged, key=fused.__getitem__) == sorted(damaged, key=words_only.__getitem__)
    assert len(as_lacking) == len(ranked)


def test_fuse_puts_partly_scored_candidates_on_the_scale_of_the_fully_scored() -> None:
    """benchmarks/missing_vectors.py: with the plain mean, papers without a vector were
    0.1 of the top 10 instead of 5. Moments matched on the fully scored candidates."""
    rng = np.random.default_rng(3)
    n = 200
    words = rng.normal(-3.0, 1.0, size=n)  # the words view: low and spread out
    meaning = 0.5 * words + rng.normal(1.0, 0.3, size=n) + 3.0
    has = rng.random(n) < 0.5
    fused = fuse([(words, np.ones(n, dtype=bool)), (meaning, has)])
    both = (words + meaning) / 2
    assert np.allclose(fused[has], both[has])
    b = both[has].std() / words[has].std()
    expected = both[has].mean() + b * (words[~has] - words[has].mean())
    assert np.allclose(fused[~has], expected)
    # Same level and spread: the unencoded are not pushed to the bottom (or the top).
    assert abs(fused[~has].mean() - fused[has].mean()) < 0.3
    assert abs(fused[~has].std() / fused[has].std() - 1) < 0.2
    top = np.argsort(-fused)[:20]
    assert 4 <= int((~has[top]).sum()) <= 16


def test_the_meaning_view_names_no_saved_paper_for_papers_it_voted_against() -> None:
    vectors = topic_vectors(ALL)
    ranked = rank(Profile(saved=tuple(NLP[:3])), ALL, ALL, embeddings=vectors, min_negatives=FEW)
    for r in ranked:
        if r.paper.id.startswith(("astro", "prot")):
            assert "close to your saved" not in r.why, r


def test_no_embedding_at_all_is_the_words_view_alone() -> None:
    profile = Profile(saved=tuple(BANDIT[:3]))
    plain = rank(profile, ALL, ALL)
    assert rank(profile, ALL, ALL, embeddings=Embeddings.from_mapping({}, DIM)) == plain
    only_candidates = topic_vectors([*PROT, *ASTRO])  # no saved paper has a vector
    assert rank(profile, ALL, ALL, embeddings=only_candidates) == plain


def test_disliked_papers_push_down_their_neighbours_in_meaning() -> None:
    vectors = topic_vectors(ALL)
    saved = (*NLP[:2], *BANDIT[:2])
    plain = ids(rank(Profile(saved=saved), ALL, ALL, embeddings=vectors, min_negatives=FEW))
    disliked = ids(
        rank(
            Profile(saved=saved, disliked=tuple(BANDIT[2:4])),
            ALL,
            ALL,
            embeddings=vectors,
            min_negatives=FEW,
        )
    )

    def mean_bandit(order: list[str]) -> float:
        return sum(order.index(p.id) for p in BANDIT[4:]) / len(BANDIT[4:])

    assert mean_bandit(disliked) > mean_bandit(plain)


def test_embeddings_lookup() -> None:
    e = Embeddings.from_arrays(["a", "b"], [[3.0, 4.0], [0.0, 0.0]])
    assert np.allclose(e.matrix[0], [0.6, 0.8])  # unit length
    rows, has = e.rows([Paper(id="b", title=""), Paper(id="x", title="")])
    assert has.tolist() == [True, False] and not rows[1].any()
    more = e.merged(Embeddings.from_arrays(["b", "c"], [[1.0, 0.0], [0.0, 1.0]]))
    assert len(more) == 3 and np.allclose(more.rows([Paper(id="b", title="")])[0], [[1, 0]])
    with pytest.raises(ValueError):
        Embeddings.from_arrays(["a"], [[1.0], [2.0]])
    assert "sec-00" not in e and len(SEC) > 0


def test_papers_without_a_vector_get_a_close_to_reason_only_if_the_words_view_voted() -> None:
    """The words-only path inside a fused ranking: no vector, so the TF-IDF closest saved
    paper would be named; but only where the words view's own logit is > 0."""
    lacking = {"astro-02", "astro-05", "prot-03"}
    vectors = topic_vectors([p for p in ALL if p.id not in lacking])
    ranked = rank(Profile(saved=tuple(NLP[:3])), ALL, ALL, embeddings=vectors, min_negatives=FEW)
    by_id = {r.paper.id: r for r in ranked}
    for pid in lacking:
        assert by_id[pid].score < 0.5
        assert by_id[pid].closest == () and "close to your saved" not in by_id[pid].why
    on = [r for r in ranked if r.paper.id.startswith("nlp")]
    assert on and all("close to your saved" in r.why for r in on[:3])


def test_the_meaning_view_sits_out_below_the_minimum_of_encoded_negatives() -> None:
    """Right after an upgrade only a few background papers have a vector: the ranking is
    the words view's, and no reason is read off the meaning view."""
    from paperboy.recommender.embeddings import MIN_MEANING_NEGATIVES

    assert MIN_MEANING_NEGATIVES >= 100
    profile = Profile(saved=tuple(NLP[:3]))
    words_only = rank(profile, ALL, ALL)
    few = topic_vectors([*NLP, *PROT[:2], *ASTRO[:2]])  # 11 of the 39 negatives encoded
    assert rank(profile, ALL, ALL, embeddings=few) == words_only
    assert rank(profile, ALL, ALL, embeddings=few, min_negatives=12) == words_only
    assert rank(profile, ALL, ALL, embeddings=few, min_negatives=11) != words_only
