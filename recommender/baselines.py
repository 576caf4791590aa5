"""Reference methods measured beside Paperboy in the same run (quality-benchmark.md).

- :class:`ArxivSanity`: arxiv-sanity-lite's recipe (its ``compute.py`` vectoriser: word
  1-2 grams, 20,000 features, min_df 5, max_df 0.1, sublinear tf, its token pattern; its
  ``serve.py`` LinearSVC, C=0.01, balanced) trained saved vs. background + candidates.
- :class:`Centroid`: TF-IDF (word 1-2 grams, sublinear tf, English stop words) and the
  cosine to the mean of the saved rows.
- :class:`Paperboy`: :func:`recommender.rank` on the task, with a shared :class:`Index`.

Each is built once over the benchmark's papers (the vocabulary of a deployed system is
fitted on everything it has stored) and then called with one :class:`Task` at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from paperboy.recommender.embeddings import Embeddings
from paperboy.recommender.evaluation import Task
from paperboy.recommender.index import Index
from paperboy.recommender.ranker import rank
from paperboy.recommender.text import paper_text
from paperboy.recommender.types import Paper, Profile

__all__ = ["ArxivSanity", "Centroid", "Paperboy", "sanity_min_df"]

FloatArray = npt.NDArray[np.float64]


def sanity_min_df(n_docs: int) -> int:
    """arxiv-sanity's min_df=5, scaled down on small corpora (3 for the 666-paper seed one)."""
    return max(1, min(5, n_docs // 200))


class ArxivSanity:
    """arxiv-sanity-lite: TF-IDF as its compute.py, LinearSVC as its serve.py."""

    def __init__(self, papers: Sequence[Paper], *, min_df: int | None = None) -> None:
        """Fit its vectoriser on ``papers`` (title + abstract, as arxiv-sanity does)."""
        vectorizer = TfidfVectorizer(
            strip_accents="unicode",
            lowercase=True,
            analyzer="word",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            ngram_range=(1, 2),
            max_features=20000,
            norm="l2",
            use_idf=True,
            smooth_idf=True,
            sublinear_tf=True,
            max_df=0.1,
            min_df=min_df if min_df is not None else sanity_min_df(len(papers)),
            dtype=np.float64,
        )
        texts = [f"{p.title} {p.abstract}" for p in papers]
        self.matrix = sp.csr_matrix(vectorizer.fit_transform(texts))

    def __call__(self, task: Task) -> FloatArray:
        """LinearSVC decision values: saved vs. background and candidates."""
        negatives = list(dict.fromkeys([*task.background, *task.candidates]))
        saved = set(task.saved)
        negatives = [i for i in negatives if i not in saved]
        rows = [*task.saved, *negatives]
        y = np.zeros(len(rows), dtype=np.int64)
        y[: len(task.saved)] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
        clf.fit(self.matrix[rows], y)
        return np.asarray(clf.decision_function(self.matrix[list(task.candidates)]))


class Centroid:
    """TF-IDF centroid cosine (the reference table's "TF-IDF centroid cosine")."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        """Fit TF-IDF (1-2 grams, sublinear tf, English stop words) on ``papers``."""
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, stop_words="english", dtype=np.float64
        )
        self.matrix = sp.csr_matrix(vectorizer.fit_transform([paper_text(p) for p in papers]))

    def __call__(self, task: Task) -> FloatArray:
        """Cosine of each candidate to the mean of the saved rows."""
        centroid = np.asarray(self.matrix[list(task.saved)].mean(axis=0)).ravel()
        return np.asarray(self.matrix[list(task.candidates)] @ centroid).ravel()


class Paperboy:
    """:func:`recommender.rank` as a benchmark method (scores in candidate order)."""

    def __init__(
        self,
        papers: Sequence[Paper],
        *,
        index: Index | None = None,
        embeddings: Embeddings | None = None,
        **options: Any,
    ) -> None:
        """``index=None``: every ranking fits its own features (the one-off path);
        ``embeddings=None``: the words view alone."""
        self.papers = papers
        self.index = index
        self.embeddings = embeddings
        self.options = options

    def __call__(self, task: Task) -> FloatArray:
        """Rank the task's candidates; a candidate's score is its rank's negation.

        The final order (score, then the model's raw value) is what a user sees, so the
        benchmark scores that order rather than the rounded [0, 1] scores, whose ties
        would otherwise be broken at random.
        """
        cands = [self.papers[i] for i in task.candidates]
        profile = Profile(saved=tuple(self.papers[i] for i in task.saved))
        background = [self.papers[i] for i in task.background]
        ranked = rank(
            profile, cands, background, index=self.index, embeddings=self.embeddings, **self.options
        )
        position = {r.paper.id: k for k, r in enumerate(ranked)}
        return np.asarray([-float(position[c.id]) for c in cands], dtype=np.float64)
