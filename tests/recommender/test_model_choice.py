"""The ranking model can be chosen, and fitting on the used columns only is exact."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from recommender import Index, Profile, rank
from recommender.model import logistic_scores
from tests.recommender.corpus import ALL, NLP


def test_both_models_rank_and_an_unknown_one_is_refused() -> None:
    profile = Profile(saved=tuple(NLP[:3]))
    with_lsa = Index.build(ALL, dense_dims=8)  # the dense models need an LSA space
    assert with_lsa.dense.shape[1] == 8
    for model in ("lr+lsa-lr", "lrpos+fisher"):
        for index in (None, with_lsa):
            ranked = rank(profile, ALL, ALL, model=model, index=index)
            assert ranked[0].paper.id.startswith("nlp")
    assert rank(profile, ALL, ALL) == rank(profile, ALL, ALL, model="lr+lsa-lr")
    with pytest.raises(ValueError):
        rank(profile, ALL, ALL, model="svm")


def test_unused_columns_do_not_change_the_fit() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((60, 40)) * (rng.random((60, 40)) < 0.2)
    dense[:, 30:] = 0.0  # columns no training row uses
    pos, neg = sp.csr_matrix(dense[:10]), sp.csr_matrix(dense[10:50])
    cands = sp.csr_matrix(rng.random((10, 40)))  # candidates do use them
    scores = logistic_scores(pos, neg, cands, C=10.0)
    assert np.all(scores.weights[30:] == 0.0)
    y = np.r_[np.ones(10), np.zeros(40)]
    w = np.r_[np.full(10, 50 / 20), np.full(40, 50 / 80)]
    full = LogisticRegression(C=10.0, max_iter=1000).fit(sp.vstack([pos, neg]), y, sample_weight=w)
    assert np.allclose(scores.raw, full.decision_function(cands), atol=1e-3)
