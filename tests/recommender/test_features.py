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


def test_fit_transform_reads_the_texts_once_and_gives_transforms_rows_bit_for_bit() -> None:
    # One pass (the counts of the fit are the rows) must change nothing: the same
    # vocabulary, idf weights and rows, down to the last bit, as fitting and then
    # transforming, and as scikit-learn's own TfidfVectorizer with the same settings.
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [paper_text(p) for p in ALL] * 3 + ["alpha beta", "beta gamma delta alpha"]
    one = Featurizer()
    X = one.fit_transform(texts)
    two = Featurizer().fit(texts)
    Y = two.transform(texts)
    reference = TfidfVectorizer(
        lowercase=False,
        ngram_range=(1, 2),
        stop_words="english",
        sublinear_tf=True,
        min_df=adaptive_min_df(len(texts)),
        norm="l2",
        dtype=np.float32,
    ).fit(texts)
    Z = reference.transform(texts)
    assert one.vocabulary == two.vocabulary == tuple(reference.get_feature_names_out())
    assert np.array_equal(one.state()[1], reference.idf_)
    for M in (Y, Z):
        assert M.dtype == X.dtype == np.float32
        for part in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(X, part), getattr(M, part)), part


def test_fit_transform_of_texts_with_no_usable_word_is_zero_width() -> None:
    assert Featurizer().fit_transform(["the of", "and"]).shape == (2, 0)
