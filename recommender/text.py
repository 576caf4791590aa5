"""Text normalisation: turn a paper into one plain, comparable string.

Titles and abstracts from arXiv carry LaTeX (``$\\alpha$``, ``Sch\\"olkopf``), Unicode
variants (ligatures, full-width letters) and accents. Every later stage (TF-IDF, keyword
and muted-term matching) works on the output of :func:`normalise`, so that "Schölkopf",
``Sch\\"olkopf`` and "SCHOLKOPF" are the same word everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from recommender.types import Paper

__all__ = ["fold", "normalise", "paper_text"]

# The LaTeX-to-text conversion is written twice, here and in emails/text.py, because
# `recommender` and `emails` may not import each other: both copies must give the same
# text (tests/test_latex_agree.py runs one table against both), so that the words a reason
# names are the words the mail shows.
#
# Characters that make a string worth handing to the LaTeX parser: real markup needs a
# macro, math or a group. Plain text skips the parser, which is the slowest step and can
# only mangle text without LaTeX ("~10x", "R&D", "O(n^2)", "76.5%" are left as typed).
_LATEX_CHARS = re.compile(r"[\\${}]")
# In abstracts a bare "%", "&" or "#" is prose ("76.5% top-1", "Q&A", "R&D"), but to LaTeX
# they are a comment start (swallowing the rest of the line), a column separator and a
# parameter: escape them before parsing.
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
# Placeholders pylatexenc emits for citations and references; they are not words.
_PLACEHOLDERS = re.compile(r"<cit\.>|<ref>")
_SPACES = re.compile(r"\s+")

_LATEX = LatexNodes2Text(math_mode="text", keep_comments=False)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def latex_to_text(raw: str) -> str:
    """Convert LaTeX markup to plain text, whitespace collapsed; on any parser error (or a
    conversion that ate everything) return ``raw``, whitespace collapsed.

    Never raises: a malformed abstract must not stop a user's digest.
    """
    if not _LATEX_CHARS.search(raw):
        return _collapse(raw)
    try:
        text = _collapse(
            _PLACEHOLDERS.sub(" ", _LATEX.latex_to_text(_BARE_SPECIAL.sub(r"\\\1", raw)))
        )
    except Exception:  # pylatexenc raises assorted errors on broken input
        return _collapse(raw)
    return text if text or not raw.strip() else _collapse(raw)


def fold(text: str) -> str:
    """NFKC-normalise, fold accents (é -> e, ø stays ø) and lower-case, collapsing spaces.

    Used on its own for names and user-typed terms, which are plain text, not LaTeX.
    """
    if not text.isascii():
        text = _fold_unicode(text)
    return _SPACES.sub(" ", text.lower()).strip()


def _fold_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)  # compatibility forms + accents apart
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped)


@lru_cache(maxsize=8192)
def normalise(raw: str) -> str:
    """LaTeX to text, then :func:`fold`. Never raises.

    Memoised: a morning's run normalises the same listing once per user, and the result
    depends on the string alone.
    """
    return fold(latex_to_text(raw))


def paper_text(p: Paper) -> str:
    """The text the ranker compares: title and abstract, normalised (see :func:`normalise`)."""
    return normalise(f"{p.title}\n{p.abstract}")
