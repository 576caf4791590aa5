"""TF-IDF features: one vocabulary, fitted once on all the text the ranker is given.

Kept in a small class so that it is fitted once per corpus (recommender.index) and stored
as plain data: its vocabulary and idf weights (:meth:`Featurizer.state`), from which
:meth:`Featurizer.restore` rebuilds a featuriser whose transform is identical, so the
stored index never holds a pickled scikit-learn object.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer

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

    @staticmethod
    def _options(min_df: int, vocabulary: dict[str, int] | None = None) -> dict[str, Any]:
        """What the counting takes (the weighting adds sublinear tf, idf and l2 rows)."""
        return {
            "lowercase": False,  # already folded by paper_text
            "ngram_range": (1, 2),
            "stop_words": "english",
            "min_df": min_df,
            "dtype": np.float32,  # the solvers fit in float32; halves a stored index
            "vocabulary": vocabulary,
        }

    def _make(self, min_df: int, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(**self._options(min_df, vocabulary), sublinear_tf=True, norm="l2")

    def fit(self, texts: Sequence[str]) -> Featurizer:
        """Learn the vocabulary and idf weights from ``texts``; returns ``self``."""
        self._fit(texts)
        return self

    def _fit(self, texts: Sequence[str]) -> sp.csr_matrix | None:
        """Fit, and return the texts' TF-IDF rows (None when nothing was usable).

        One pass over the texts: the counts the vocabulary is learnt from are the rows'
        counts too. Tokenising is most of a fit (TfidfVectorizer.fit then transform reads
        every text twice), and a one-off ranking fits on every call. The vocabulary, idf
        weights and rows are those of TfidfVectorizer.fit then transform, bit for bit
        (tests/recommender/test_features.py).
        """
        min_df = self._min_df if self._min_df is not None else adaptive_min_df(len(texts))
        for attempt in dict.fromkeys((min_df, 1)):  # min_df may prune everything: retry at 1
            counted = _count(CountVectorizer(**self._options(attempt)), texts, attempt)
            if counted is None:  # no usable term at all, or none in min_df texts
                continue
            counts, vocabulary = counted
            weighting = TfidfTransformer(norm="l2", sublinear_tf=True).fit(counts)
            # The vocabulary and idf weights in a vectoriser as restore() builds one; the
            # terms min_df dropped (millions of bigrams at arXiv scale) are not kept.
            vectorizer = self._make(1, vocabulary)
            vectorizer.idf_ = weighting.idf_
            self._vectorizer = vectorizer
            self._vocabulary = tuple(vocabulary)
            return sp.csr_matrix(weighting.transform(counts, copy=False), dtype=np.float32)
        self._vectorizer = None
        self._vocabulary = ()
        return None

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (CSR, one per text, l2-normalised; all-zero for texts with no known term)."""
        if self._vectorizer is None:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        return sp.csr_matrix(self._vectorizer.transform(texts))

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``fit(texts)`` then ``transform(texts)``, in one pass over the texts."""
        rows = self._fit(texts)
        return rows if rows is not None else self.transform(texts)

    def state(self) -> tuple[tuple[str, ...], npt.NDArray[np.floating]]:
        """What transforming needs, as plain data: the terms in column order and their idf
        weights (both empty when nothing was fitted). :meth:`restore` takes them back."""
        if self._vectorizer is None:
            return (), np.zeros(0, dtype=np.float32)
        return self._vocabulary, np.asarray(self._vectorizer.idf_)

    @classmethod
    def restore(cls, vocabulary: Sequence[str], idf: npt.NDArray[np.generic]) -> Featurizer:
        """A fitted featuriser from :meth:`state`'s vocabulary and idf weights: the same
        parameters with a fixed vocabulary, so its transform gives the very same rows as the
        featuriser that was fitted (min_df only matters while fitting). ValueError when
        they do not fit together (lengths differ, a term twice, idf not finite)."""
        if len(vocabulary) != len(idf) or idf.ndim != 1:
            raise ValueError(f"{len(vocabulary)} terms but idf weights of shape {idf.shape}")
        if not set(map(type, vocabulary)) <= {str}:  # (C loops: a million terms at scale)
            raise ValueError("the vocabulary holds something other than terms")
        columns = dict(zip(vocabulary, range(len(vocabulary)), strict=True))
        if len(columns) != len(vocabulary):
            raise ValueError("the vocabulary holds a term twice")
        if idf.dtype.kind != "f" or not np.isfinite(idf).all():
            raise ValueError("the idf weights are not finite numbers")
        featurizer = cls()
        if not vocabulary:
            return featurizer
        vectorizer = featurizer._make(1, columns)
        vectorizer.idf_ = idf  # scikit-learn's documented way to transfer fitted weights
        featurizer._vectorizer = vectorizer
        featurizer._vocabulary = tuple(vocabulary)
        return featurizer

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The terms, in column order (empty before ``fit`` or when nothing was usable)."""
        return self._vocabulary


def _count(
    counter: CountVectorizer, texts: Sequence[str], min_df: int
) -> tuple[sp.csr_matrix, dict[str, int]] | None:
    """The texts' term counts (CSR, float32, columns in term order, indices sorted) and the
    vocabulary (term -> column) of the terms in at least ``min_df`` texts; None when no
    term is left.

    What ``counter.fit_transform`` gives (its analyser makes the terms), counted at C
    speed: scikit-learn counts term by term in Python, then walks its whole vocabulary
    (every bigram seen once included) in Python twice to prune and sort it; here each
    text's terms go through a Counter, and the pruning and the column order are numpy's.
    """
    analyze = counter.build_analyzer()
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__  # a new term: the next column
    column = vocabulary.__getitem__
    columns: list[int] = []
    values: list[int] = []
    indptr = [0]
    for text in texts:
        terms = Counter(analyze(text))
        columns.extend(map(column, terms))
        values.extend(terms.values())
        indptr.append(len(columns))
    if not vocabulary:
        return None
    cols = np.asarray(columns, dtype=np.int64)
    kept = np.flatnonzero(np.bincount(cols, minlength=len(vocabulary)) >= min_df)
    if not len(kept):
        return None
    every = list(vocabulary)
    terms_kept = [every[i] for i in kept]
    order = sorted(range(len(kept)), key=terms_kept.__getitem__)
    counts = sp.csr_matrix(
        (np.asarray(values, dtype=np.float32), cols, np.asarray(indptr, dtype=np.int64)),
        shape=(len(indptr) - 1, len(vocabulary)),
    )[:, kept[order]]
    counts.sort_indices()  # (scipy keeps 32-bit indices where they fit, as scikit-learn)
    return counts, {terms_kept[i]: new for new, i in enumerate(order)}
