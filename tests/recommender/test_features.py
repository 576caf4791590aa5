"""The TF-IDF featuriser."""

from __future__ import annotations

import numpy as np
import pytest

from paperboy.recommender.features import Featurizer, adaptive_min_df
from paperboy.recommender.text import paper_text
from tests.recommender.corpus import ALL


def test_fit_transform_shapes_and_l2_rows() -> None:
    texts = [paper_text(p) for p in ALL]
    f = Featurizer().fit(texts)
    X = f.transform(texts)
    assert X.shape == (len(texts), len(f.vocabulary))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0)
    assert "attention" in f.vocabulary
    assert "multi armed" in f.vocabulary  # bigrams
    assert "the" not in f.vocabulary  # stop words


def test_unseen_text_gives_zero_row() -> None:
    f = Featurizer().fit(["protein structure", "galaxy halo"])
    assert f.transform(["completely unrelated words"]).nnz == 0


@pytest.mark.parametrize("texts", [[], [""], ["the of and", "a an"]])
def test_empty_vocabulary_degrades_to_zero_width(texts: list[str]) -> None:
    f = Featurizer().fit(texts)
    assert f.vocabulary == ()
    assert f.transform(["anything", "else"]).shape == (2, 0)


def test_min_df_that_prunes_everything_falls_back_to_one() -> None:
    f = Featurizer(min_df=5).fit(["alpha beta", "gamma delta"])
    assert set(f.vocabulary) >= {"alpha", "gamma"}


def test_adaptive_min_df_grows_with_corpus() -> None:
    assert adaptive_min_df(10) == 1
    assert adaptive_min_df(1_000) == 2
    assert adaptive_min_df(75_000) == 5
