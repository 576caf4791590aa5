"""The profile's explicit hints: keywords, followed authors and muted terms.

Matching rules (kept simple on purpose; a later issue refines them):

- a *keyword* matches when it occurs in the candidate's normalised text as whole words
  (case- and accent-insensitive; "bandit" does not match "bandits");
- a *followed author* matches when one of the candidate's authors has the same full name,
  compared case- and accent-insensitively with spaces collapsed;
- a *muted* entry matches when it equals one of the candidate's arXiv categories
  (case-insensitive, "cs.CR") or occurs in its normalised text as whole words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from paperboy.recommender.text import fold, normalise
from paperboy.recommender.types import Paper

__all__ = ["TermMatcher", "followed_authors", "muted_hits"]


class TermMatcher:
    """Finds which of a fixed set of terms occur as whole words in normalised text.

    Each term is normalised like the text (:func:`recommender.text.normalise`) and compiled
    once; a profile has a handful of terms, so one scan per term is cheap.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        """``terms`` as the user typed them; they are shown back in that form."""
        self._patterns: dict[str, tuple[str, re.Pattern[str]]] = {}  # by normalised form
        for term in terms:
            form = normalise(term)
            if form and form not in self._patterns:
                # (?<!\w)/(?!\w) rather than \b: a term may start or end with "+" or ".".
                pattern = re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")
                self._patterns[form] = (term.strip(), pattern)

    def find(self, text: str) -> tuple[str, ...]:
        """The terms found in ``text``, as the user typed them and in the user's order."""
        return tuple(shown for shown, pattern in self._patterns.values() if pattern.search(text))

    def __bool__(self) -> bool:
        return bool(self._patterns)


def followed_authors(paper: Paper, followed: Sequence[str]) -> tuple[str, ...]:
    """The candidate's authors whom the user follows (full-name match), as printed on it."""
    if not followed or not paper.authors:
        return ()
    wanted = {fold(name) for name in followed}
    return tuple(a.strip() for a in paper.authors if fold(a) in wanted)


def muted_hits(
    paper: Paper, text: str, muted: Sequence[str], matcher: TermMatcher
) -> tuple[str, ...]:
    """Muted entries that apply to the candidate: its categories, then terms in its text."""
    if not muted:
        return ()
    categories = {c.strip().lower() for c in paper.categories}
    hits = [m.strip() for m in muted if m.strip().lower() in categories]
    hits.extend(matcher.find(text))
    return tuple(dict.fromkeys(hits))
