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

from paperboy.recommender.types import Paper
from paperboy.text import latex_to_text

__all__ = ["TEXT_VERSION", "fold", "normalise", "paper_text", "raw_text"]

_SPACES = re.compile(r"\s+")
# Names what normalise() makes of a string: bump it with any change that alters its output
# for some input (here, or in paperboy.text.latex_to_text). Texts normalised once are kept
# under it (jobs.ranking.text_cache), and a kept text of another version is not used.
TEXT_VERSION = 1


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


def raw_text(p: Paper) -> str:
    """Title and abstract as :func:`paper_text` reads them, before normalising."""
    return f"{p.title}\n{p.abstract}"


def paper_text(p: Paper) -> str:
    """The text the ranker compares: title and abstract, normalised (see :func:`normalise`)."""
    return normalise(raw_text(p))
