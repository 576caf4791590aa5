"""Why a paper scored as it did, read off the model that scored it.

A reason is only shown if it is true of the score:

- *closest*: the saved paper with the highest cosine similarity to the candidate on the
  same TF-IDF vectors the model uses (omitted when they share no term at all);
- *matches*: the terms with the largest positive contribution ``weight * value`` to this
  candidate's decision value, among the terms present in the candidate;
- the profile hints that changed the score (followed author, keyword, muted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommender.text import latex_to_text

__all__ = ["Evidence", "closest_saved", "format_reason", "shorten", "top_terms"]

TITLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything one candidate's reason is built from."""

    closest_title: str | None = None
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
    words = set(term.split())
    return any(words <= set(c.split()) or set(c.split()) <= words for c in chosen)


def top_terms(
    candidates: sp.csr_matrix,
    weights: npt.NDArray[np.float64],
    vocabulary: Sequence[str],
    *,
    k: int = 3,
) -> list[tuple[str, ...]]:
    """Per candidate, up to ``k`` terms with the largest positive ``weight * tfidf``.

    A term that repeats one already chosen ("attention" after "self attention") is skipped
    in favour of the next one, so the few words shown say different things. Linear in the
    number of non-zeros: one pass over the sparse rows.
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
            term = vocabulary[columns[j]]
            if not _overlaps(term, chosen):
                chosen.append(term)
        out.append(tuple(chosen))
    return out


def shorten(title: str, limit: int = TITLE_CHARS) -> str:
    """The title as a person reads it (LaTeX rendered, spaces collapsed), cut to ``limit``."""
    text = " ".join(latex_to_text(title).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


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
        parts.append(f'close to your saved "{e.closest_title}"')
    if e.terms:
        parts.append("matches: " + ", ".join(e.terms))
    if not parts and e.fallback:
        parts.append(e.fallback)
    if e.muted:
        parts.append("muted: " + ", ".join(e.muted))
    return "; ".join(parts)
