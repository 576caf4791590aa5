"""TF-IDF features: one vocabulary, fitted once on all the text the ranker is given.

Kept in a small class so that a later change can fit it once per morning on the whole
listing and store it, instead of refitting for every user.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["Featurizer", "adaptive_min_df"]


def adaptive_min_df(n_docs: int) -> int:
    """How many documents a term must appear in to be kept, given the corpus size.

    A term seen in one document cannot link a saved paper to a candidate, so it only adds
    noise once the corpus is big enough for that to matter; on tiny corpora (tests, a
    one-off ranking of a few papers) every term is kept, or nothing would remain.
    """
    if n_docs < 100:
        return 1
    if n_docs < 20_000:
        return 2
    return 5


class Featurizer:
    """TF-IDF over word 1-2 grams (sublinear tf, English stop words, l2-normalised rows).

    Texts are expected already normalised (:func:`recommender.text.paper_text`). A corpus
    with no usable word at all (empty or stop words only) gives an empty vocabulary and
    zero-width matrices instead of an error, so callers can degrade gracefully.
    """

    def __init__(self, *, min_df: int | None = None) -> None:
        """``min_df=None`` picks :func:`adaptive_min_df` of the corpus at fit time."""
        self._min_df = min_df
        self._vectorizer: TfidfVectorizer | None = None
        self._vocabulary: tuple[str, ...] = ()

    def _make(self, min_df: int) -> TfidfVectorizer:
        return TfidfVectorizer(
            lowercase=False,  # already folded by paper_text
            ngram_range=(1, 2),
            stop_words="english",
            sublinear_tf=True,
            min_df=min_df,
            norm="l2",
            dtype=np.float32,  # the solvers fit in float32; halves a stored index
        )

    def fit(self, texts: Sequence[str]) -> Featurizer:
        """Learn the vocabulary and idf weights from ``texts``; returns ``self``."""
        min_df = self._min_df if self._min_df is not None else adaptive_min_df(len(texts))
        for attempt in dict.fromkeys((min_df, 1)):  # min_df may prune everything: retry at 1
            vectorizer = self._make(attempt)
            try:
                vectorizer.fit(texts)
            except ValueError:  # "empty vocabulary" / "no terms remain"
                continue
            # The terms min_df/max_df dropped: millions of bigrams at arXiv scale, never
            # used after fitting; removing them (as scikit-learn's docs allow) keeps the
            # pickled index small.
            vectorizer.stop_words_ = None
            self._vectorizer = vectorizer
            self._vocabulary = tuple(str(t) for t in vectorizer.get_feature_names_out())
            return self
        self._vectorizer = None
        self._vocabulary = ()
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (CSR, one per text, l2-normalised; all-zero for texts with no known term)."""
        if self._vectorizer is None:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        return sp.csr_matrix(self._vectorizer.transform(texts))

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``fit(texts)`` then ``transform(texts)``."""
        return self.fit(texts).transform(texts)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The terms, in column order (empty before ``fit`` or when nothing was usable)."""
        return self._vocabulary
