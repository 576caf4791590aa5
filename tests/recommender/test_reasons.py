"""Reasons are read off the model, and change when the evidence behind them goes away."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from paperboy.recommender import Paper, Profile, Ranked, rank
from paperboy.recommender.model import centroid_scores, squash
from paperboy.recommender.reasons import (
    Evidence,
    closest_saved,
    format_reason,
    interest_terms,
    shorten,
    top_terms,
)
from paperboy.recommender.text import paper_text
from tests.recommender.corpus import ALL, ASTRO, NLP

# "Attention Is All You Need" and "Multi-Head Attention Heads Can Be Pruned" in one: close
# enough to a saved paper that the words view votes for it (a logit > 0), which it does
# for no ordinary on-topic paper of this small corpus (they score 0.15-0.30).
CANDIDATE = Paper(
    id="twin",
    title=f"{NLP[0].title}: {NLP[4].title}",
    abstract=f"{NLP[0].abstract} {NLP[4].abstract}",
)


def ranked_for(saved: tuple[Paper, ...], candidate: Paper = CANDIDATE) -> Ranked:
    others = [p for p in ALL if p.id != CANDIDATE.id]
    ranked = rank(Profile(saved=saved), [candidate, *ASTRO], others)
    return next(r for r in ranked if r.paper.id == candidate.id)


def test_reason_names_the_closest_saved_paper_and_the_top_terms() -> None:
    r = ranked_for(tuple(NLP[:3]))
    assert r.closest == ("nlp-00",)
    assert r.why.startswith('close to your saved "Attention Is All You Need"; matches: ')
    assert r.terms and len(r.terms) <= 3
    assert r.why.endswith("matches: " + ", ".join(r.terms))
    assert "attention" in " ".join(r.terms)
    text = paper_text(CANDIDATE)
    assert all(term in text for term in r.terms)  # only terms present in the candidate


def test_removing_the_cited_saved_paper_changes_the_closest() -> None:
    before = ranked_for(tuple(NLP[:3]))
    after = ranked_for(tuple(NLP[1:3]))
    assert before.closest == ("nlp-00",)
    assert after.closest != before.closest
    assert "Attention Is All You Need" not in after.why


def test_removing_a_term_from_the_candidate_drops_it_from_the_reason() -> None:
    before = ranked_for(tuple(NLP[:3]))
    term = before.terms[0]
    stripped = dataclasses.replace(
        CANDIDATE,
        title=CANDIDATE.title.lower().replace(term, "zzz"),
        abstract=CANDIDATE.abstract.lower().replace(term, "zzz"),
    )
    after = ranked_for(tuple(NLP[:3]), stripped)
    assert term not in after.terms
    assert term not in after.why


def test_unrelated_candidate_gets_an_honest_fallback() -> None:
    ranked = rank(Profile(saved=tuple(NLP[:3])), ASTRO, [])
    assert ranked
    for r in ranked:
        assert r.score < 0.5  # the words view voted against every one of them
        assert r.closest == () and "close to your saved" not in r.why
    silent = [r for r in ranked if not r.terms]
    assert all(r.why == "little in common with your saved papers" for r in silent)


def shares_a_term(paper: Paper, saved: tuple[Paper, ...]) -> bool:
    """Whether the paper has a TF-IDF cosine > 0 with a saved paper (the old rule's test)."""
    from paperboy.recommender.index import Index

    index = Index.build([*saved, paper])
    _, sims = closest_saved(index.features([paper]), index.features(saved))
    return bool(sims[0] > 0)


def test_off_topic_papers_sharing_words_get_no_reason_and_on_topic_ones_do() -> None:
    """Words-only path: astronomy papers share words with the saved NLP papers (cosine >
    0), but the model scores them background-like: no "close to your saved" for them;
    while the NLP candidates, which it voted for, name one."""
    saved = tuple(NLP[:3])
    cands = [CANDIDATE, *ASTRO]
    ranked = rank(Profile(saved=saved), cands, [p for p in ALL if p not in cands])
    by_id = {r.paper.id: r for r in ranked}
    off = [by_id[p.id] for p in ASTRO]
    assert any(shares_a_term(r.paper, saved) for r in off)  # the old rule would name one
    for r in off:
        assert r.score < 0.5, r
        assert "close to your saved" not in r.why and r.closest == (), r
    on = by_id[CANDIDATE.id]
    assert on.score > 0.5
    assert on.closest == ("nlp-00",) and 'close to your saved "Attention' in on.why


def test_top_terms_are_the_largest_positive_contributions() -> None:
    vocabulary = ["alpha", "beta", "gamma", "alpha beta", "delta"]
    X = sp.csr_matrix(np.array([[0.5, 0.5, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]))
    weights = np.array([3.0, 1.0, -5.0, 2.0, 9.0])
    # Contributions in row 0: alpha 1.5, alpha beta 1.0 (repeats "alpha": skipped), beta 0.5,
    # gamma negative (never shown). Row 1: delta is the only term present.
    assert top_terms(X, weights, vocabulary, k=3) == [("alpha", "beta"), ("delta",)]
    assert top_terms(X, weights, vocabulary, k=1) == [("alpha",), ("delta",)]


def test_closest_saved_is_minus_one_without_overlap() -> None:
    cands = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    saved = sp.csr_matrix(np.array([[0.6, 0.0], [0.8, 0.0]]))
    best, sims = closest_saved(cands, saved)
    assert best.tolist() == [1, -1]
    assert sims.tolist() == [0.8, 0.0]


def test_shorten_cuts_at_a_word_and_renders_latex() -> None:
    long = "A Very Long Title About " + "Transformers " * 10
    out = shorten(long)
    assert len(out) <= 60 and out.endswith("…")
    assert not out[:-1].endswith(" ")
    assert shorten(r"$\alpha$-Nets  for  \emph{All}") == "α-Nets for All"


def test_format_reason_orders_evidence() -> None:
    e = Evidence(
        closest_title="Attention Is All You Need",
        terms=("attention", "transformer"),
        followed=("Ada Lovelace",),
        keywords=("bandits",),
        muted=("cs.CR",),
        fallback="unused",
    )
    assert format_reason(e) == (
        'by Ada Lovelace (followed); keyword: bandits; close to your saved "Attention Is All'
        ' You Need"; matches: attention, transformer; muted: cs.CR'
    )
    assert format_reason(Evidence(muted=("x",), fallback="nothing")) == "nothing; muted: x"


def test_centroid_fallback_scores_by_cosine() -> None:
    saved = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    cands = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    scores = centroid_scores(saved, cands)
    assert np.allclose(scores.score, [np.sqrt(0.5), 0.0])
    assert np.allclose(scores.raw, cands @ scores.weights)


def test_squash_is_monotone_into_unit_interval() -> None:
    raw = np.array([-1e3, -2.0, 0.0, 2.0, 1e3])
    out = squash(raw)
    assert out[2] == 0.5
    assert np.all(np.diff(out) >= 0) and out.min() >= 0 and out.max() <= 1


def _interest_terms_over_the_whole_vocabulary(
    saved: sp.csr_matrix,
    members: np.ndarray,
    vocabulary: list[str],
    doc_freq: np.ndarray,
) -> tuple[str, ...]:
    """interest_terms as first written: dense means over every vocabulary column."""
    inside = np.zeros(saved.shape[0], dtype=bool)
    inside[members] = True
    mean_in = np.asarray(saved[inside].mean(axis=0)).ravel()
    rest = saved[~inside]
    mean_out = np.asarray(rest.mean(axis=0)).ravel() if rest.shape[0] else np.zeros_like(mean_in)
    row = sp.csr_matrix(np.maximum(mean_in - mean_out, 0.0).reshape(1, -1))
    return top_terms(row, np.ones(row.shape[1]), vocabulary, k=2, doc_freq=doc_freq)[0]


def test_interest_terms_read_the_interests_own_columns_only_with_the_same_names() -> None:
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(400)] + ["reward", "rewards", "model"]
    for trial in range(40):
        saved = sp.random(12, len(words), density=0.05, format="csr", random_state=trial)
        saved = sp.csr_matrix(saved.toarray().round(1))  # ties, to check they break alike
        members = rng.choice(12, size=int(rng.integers(1, 12)), replace=False)
        freq = rng.uniform(0, 0.1, size=len(words))
        expected = _interest_terms_over_the_whole_vocabulary(saved, members, words, freq)
        assert interest_terms(saved, members, words, doc_freq=freq) == expected
    assert interest_terms(saved, np.array([], dtype=np.int64), words) == ()
