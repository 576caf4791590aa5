"""A reason names each thing once and only things with a topic (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from paperboy.recommender import Profile, rank
from paperboy.recommender.reasons import Evidence, format_reason, is_generic, stem, top_terms
from tests.recommender.corpus import ALL, ASTRO, NLP


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("reward", "rewards", "rewarded", "rewarding"), True),
        (("study", "studies"), True),
        (("sample", "samples", "sampling"), True),
        (("model", "models", "modeling"), True),
        (("attention", "bandits"), False),
        (("loss", "lose"), False),
    ],
)
def test_stems_fold_inflections(words: tuple[str, ...], same: bool) -> None:
    assert (len({stem(w) for w in words}) == 1) is same


def test_a_keyword_is_not_repeated_under_matches() -> None:
    evidence = Evidence(
        keywords=("GRPO", "verifiable rewards"), terms=("grpo", "reward", "rewards")
    )
    assert format_reason(evidence) == "keyword: GRPO, verifiable rewards"
    evidence = Evidence(keywords=("GRPO",), terms=("grpo", "reward", "rewards", "policy"))
    assert format_reason(evidence) == "keyword: GRPO; matches: reward, policy"


def test_generic_words_are_never_named() -> None:
    assert is_generic("models") and is_generic("sampling") and is_generic("work")
    assert is_generic("proposed method") and not is_generic("reinforcement learning")
    assert is_generic("self") and not is_generic("self attention")
    evidence = Evidence(terms=("sampling", "models", "work"), fallback="little in common")
    assert format_reason(evidence) == "little in common"
    assert "models" not in format_reason(Evidence(terms=("models", "diffusion")))


def test_top_terms_fold_inflections_and_skip_generic_words() -> None:
    vocabulary = ["rewards", "reward", "models", "policy", "gradient"]
    X = sp.csr_matrix(np.array([[0.5, 0.5, 0.5, 0.4, 0.3]]))
    weights = np.array([3.0, 2.9, 5.0, 1.0, 0.5])
    assert top_terms(X, weights, vocabulary, k=3) == [("rewards", "policy", "gradient")]


def test_top_terms_skip_words_common_across_the_corpus() -> None:
    vocabulary = ["transformer", "graph", "pruning"]
    X = sp.csr_matrix(np.array([[0.6, 0.5, 0.4]]))
    weights = np.array([3.0, 2.0, 1.0])
    doc_freq = np.array([0.30, 0.01, 0.02])  # "transformer" in 30% of the corpus' papers
    assert top_terms(X, weights, vocabulary, doc_freq=doc_freq) == [("graph", "pruning")]
    assert top_terms(X, weights, vocabulary) == [("transformer", "graph", "pruning")]


def test_ranked_reasons_name_nothing_twice() -> None:
    others = [p for p in ALL if p.id not in {p.id for p in NLP[:3]}]
    profile = Profile(saved=tuple(NLP[:3]), keywords=("attention heads",))
    for r in rank(profile, [*NLP[3:], *ASTRO], others):
        if "matches: " not in r.why:
            continue
        named = r.why.split("matches: ", 1)[1].split("; ")[0].split(", ")
        stems = [frozenset(stem(w) for w in term.split()) for term in named]
        assert len(set(stems)) == len(stems), r.why
        if "keyword: attention heads" in r.why:
            assert not any(s <= {stem("attention"), stem("heads")} for s in stems), r.why
        assert not any(is_generic(term) for term in named), r.why
