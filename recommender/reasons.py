"""Why a paper scored as it did, read off the model that scored it.

A reason is only shown if it is true of the score:

- *closest*: the saved paper with the highest cosine similarity to the candidate on the
  same TF-IDF vectors the model uses (omitted when they share no term at all), or the
  saved paper that added most to the meaning view's logit;
- *matches*: the terms with the largest positive contribution ``weight * value`` to this
  candidate's decision value, among the terms present in the candidate;

  *closest* only when the view it comes from voted for the candidate (its own logit >
  0: the ranker decides, see :func:`recommender.ranker.rank`), never for a paper the
  model scored as background-like because it shares a word with a saved paper;
- the profile hints that changed the score (followed author, keyword, muted).

A reason names each thing once and only things that carry a topic: inflections fold
together ("reward" and "rewards" are one term, see :func:`stem`), a term a matched
keyword already names is not repeated under *matches*, and words that say nothing about a
paper's topic are never named: the generic words of academic writing (:data:`GENERIC`)
and, when the caller knows the corpus' document frequencies, any word in more than
:data:`MAX_DOC_FREQ` of its papers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from paperboy.recommender.text import normalise
from paperboy.text import short_title

__all__ = [
    "GENERIC",
    "MAX_DOC_FREQ",
    "Evidence",
    "closest_saved",
    "format_reason",
    "interest_terms",
    "is_generic",
    "shorten",
    "stem",
    "top_terms",
]

TITLE_CHARS = 60

# A word in more than this share of the corpus' papers carries no topic (with `doc_freq`).
MAX_DOC_FREQ = 0.05


def stem(word: str) -> str:
    """A word with its English inflection folded: "rewards", "rewarded", "rewarding" ->
    "reward"; "studies" -> "study"; "sampling", "samples" -> "sampl". Crude on purpose:
    it only decides whether two words of one reason name the same thing."""
    w = word.lower()
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "xes", "ches", "shes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def _stems(term: str) -> frozenset[str]:
    return frozenset(stem(w) for w in term.split())


# Words of academic writing that say nothing about what a paper is about ("matches:
# sampling, models, work" tells a reader nothing). Compared by stem: "model" covers
# "models" and "modeling". A bigram is generic only when each of its words is.
_GENERIC_WORDS = """
    ability able accuracy achieve address analysis analyze approach art based baseline
    benchmark better capability challenge code common compare comparison data dataset
    demonstrate design develop different effective effectiveness efficient efficiency
    enable evaluate evaluation existing experiment experimental extensive fact finally
    finding framework further general given good high however improve improvement include
    input introduce key large learn learning level limit low main make method model
    modeling new novel number often outperform output paper performance problem propose
    provide quality real recent result sampling scale self set setting show significant
    significantly simple small specific state strong study superior task technique time
    use using various way well work
"""
GENERIC = frozenset(stem(w) for w in _GENERIC_WORDS.split())


def is_generic(term: str) -> bool:
    """True for a term that names no topic: every word of it is in :data:`GENERIC`."""
    words = term.split()
    return bool(words) and all(stem(w) in GENERIC for w in words)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything one candidate's reason is built from."""

    closest_title: str | None = None
    # The interest the paper was picked for, named by its terms (() : unnamed), or None.
    interest: tuple[str, ...] | None = None
    terms: tuple[str, ...] = ()
    followed: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()
    fallback: str = ""


def closest_saved(
    candidates: sp.csr_matrix, saved: sp.csr_matrix
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For each candidate, the index of its most similar saved paper and that cosine.

    Rows are l2-normalised, so the sparse product is the cosine. Index -1 when the
    candidate shares no term with any saved paper; ties go to the earlier saved paper.
    """
    n = candidates.shape[0]
    if saved.shape[0] == 0 or candidates.shape[1] == 0:
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float64)
    sims = np.asarray((candidates @ saved.T).toarray(), dtype=np.float64)
    best = np.asarray(sims.argmax(axis=1), dtype=np.int64)
    best_sim = sims[np.arange(n), best]
    best[best_sim <= 0] = -1
    return best, best_sim


def _overlaps(term: str, chosen: Sequence[str]) -> bool:
    """Whether `term` names what a chosen term names: one's words (stemmed) contain the
    other's ("attention" after "self attention", "rewards" after "reward")."""
    words = _stems(term)
    return any(words <= _stems(c) or _stems(c) <= words for c in chosen)


def top_terms(
    candidates: sp.csr_matrix,
    weights: npt.NDArray[np.float64],
    vocabulary: Sequence[str],
    *,
    k: int = 3,
    doc_freq: npt.NDArray[np.float64] | None = None,
) -> list[tuple[str, ...]]:
    """Per candidate, up to ``k`` terms with the largest positive ``weight * tfidf``.

    A term that repeats one already chosen ("attention" after "self attention", "rewards"
    after "reward") is skipped in favour of the next one, so the few words shown say
    different things; so is a term that names no topic (:func:`is_generic`, or, given
    ``doc_freq``, the share of the corpus' papers holding each vocabulary term, one in
    more than :data:`MAX_DOC_FREQ` of them). Linear in the number of non-zeros: one pass
    over the sparse rows.
    """
    n = candidates.shape[0]
    if candidates.shape[1] == 0:
        return [() for _ in range(n)]
    contrib = sp.csr_matrix(candidates.multiply(weights.reshape(1, -1)))
    # Only positive contributions can be shown: drop the rest before the per-row loop.
    contrib.data[contrib.data <= 0] = 0.0
    contrib.eliminate_zeros()
    out: list[tuple[str, ...]] = []
    for i in range(n):
        start, end = contrib.indptr[i], contrib.indptr[i + 1]
        values = contrib.data[start:end]
        columns = contrib.indices[start:end]
        chosen: list[str] = []
        # Stable sort with the column as secondary key keeps the output deterministic.
        order = np.lexsort((columns, -values)) if len(values) > 1 else range(len(values))
        for j in order:
            if len(chosen) == k:
                break
            column = columns[j]
            term = vocabulary[column]
            if doc_freq is not None and doc_freq[column] > MAX_DOC_FREQ:
                continue
            if not is_generic(term) and not _overlaps(term, chosen):
                chosen.append(term)
        out.append(tuple(chosen))
    return out


def interest_terms(
    saved: sp.csr_matrix,
    members: npt.NDArray[np.int64],
    vocabulary: Sequence[str],
    *,
    k: int = 2,
    doc_freq: npt.NDArray[np.float64] | None = None,
) -> tuple[str, ...]:
    """Up to ``k`` terms naming one interest: those most above the other saved papers.

    ``saved`` are the TF-IDF rows of all the user's saved papers and ``members`` the rows
    of the interest; a term's weight is its mean value in the interest minus its mean in
    the rest, so the words shared by all the user's papers do not name one interest.
    Topic-less terms are skipped as in :func:`top_terms`.
    """
    inside = np.zeros(saved.shape[0], dtype=bool)
    inside[members] = True
    if not inside.any():
        return ()
    # Only the interest's own terms can stand above the rest: the means over those columns
    # (ascending, so ties break by column as over the whole vocabulary), one pass over the
    # non-zeros, not dense rows of the whole vocabulary.
    rows = sp.csr_matrix(saved)
    own, rest = rows[inside], rows[~inside]
    columns = np.unique(own.indices)
    mean_in = np.bincount(
        np.searchsorted(columns, own.indices), weights=own.data, minlength=len(columns)
    ) / max(own.shape[0], 1)
    mean_out = np.zeros(len(columns), dtype=np.float64)
    if rest.shape[0] and len(columns):
        at = np.minimum(np.searchsorted(columns, rest.indices), len(columns) - 1)
        hit = columns[at] == rest.indices
        sums = np.bincount(at[hit], weights=rest.data[hit], minlength=len(columns))
        mean_out = np.asarray(sums, dtype=np.float64) / rest.shape[0]
    contrast = np.maximum(mean_in - mean_out, 0.0)
    row = sp.csr_matrix(contrast.reshape(1, -1))
    freq = doc_freq[columns] if doc_freq is not None else None
    return top_terms(
        row, np.ones(len(contrast)), _Columns(vocabulary, columns), k=k, doc_freq=freq
    )[0]


class _Columns(Sequence[str]):
    """``vocabulary[columns[i]]`` for the few ``i`` a reason looks at, without a list of
    every one."""

    def __init__(self, vocabulary: Sequence[str], columns: npt.NDArray[np.int64]) -> None:
        self._vocabulary, self._columns = vocabulary, columns

    def __len__(self) -> int:
        return len(self._columns)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self._vocabulary[int(c)] for c in self._columns[i]]
        return self._vocabulary[int(self._columns[i])]


def shorten(title: str, limit: int = TITLE_CHARS) -> str:
    """A saved paper's title as a reason names it (paperboy.text.short_title)."""
    return short_title(title, limit)


def normalise_term(term: str) -> str:
    """A user-typed term as the vocabulary spells it (lower case, LaTeX and accents folded)."""
    return normalise(term)


def _new_terms(terms: Sequence[str], named: Sequence[str]) -> list[str]:
    """`terms` less those a keyword already names, those naming no topic, and repeats."""
    kept: list[str] = []
    for term in terms:
        if is_generic(term) or _overlaps(term, named) or _overlaps(term, kept):
            continue
        kept.append(term)
    return kept


def format_reason(e: Evidence) -> str:
    """One line, most specific evidence first, e.g.

    ``close to your saved "Attention Is All You Need"; matches: attention, transformer``.
    """
    parts: list[str] = []
    if e.followed:
        parts.append("by " + ", ".join(e.followed) + " (followed)")
    if e.keywords:
        parts.append("keyword: " + ", ".join(e.keywords))
    if e.closest_title is not None:
        close = f'close to your saved "{e.closest_title}"'
        if e.interest is not None:
            what = ", ".join(e.interest) if e.interest else "one of your interests"
            close = (f"for your interest in {what}: " if e.interest else f"for {what}: ") + close
        parts.append(close)
    # Terms a keyword or the interest already names are not repeated.
    named = [normalise_term(k) for k in e.keywords] + list(e.interest or ())
    terms = _new_terms(e.terms, named)
    if terms:
        parts.append("matches: " + ", ".join(terms))
    if not parts and e.fallback:
        parts.append(e.fallback)
    if e.muted:
        parts.append("muted: " + ", ".join(e.muted))
    return "; ".join(parts)
