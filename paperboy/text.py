"""Plain text from paper metadata: LaTeX to readable Unicode, whitespace, the title cut, and
the caps on how long a stored title, author list, abstract or TL;DR may be.

One copy, used by the ranker (reasons, keyword matches), the mail (titles, abstracts,
subject) and the CLI: `recommender` and `emails` may not import each other, so the
conversion lives here, where both may. Everything is pure and total: bad input degrades to
the raw string, it never raises, because one odd abstract must not stop a user's digest.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Protocol

__all__ = [
    "ABSTRACT_MAX",
    "AUTHORS_MAX",
    "AUTHOR_MAX",
    "TITLE_MAX",
    "TLDR_MAX",
    "cap",
    "cap_authors",
    "collapse_whitespace",
    "has_latex",
    "latex_to_text",
    "short_title",
    "shorten",
]

log = logging.getLogger(__name__)

# The longest field a paper keeps, in characters (issue #20, item 24). Real metadata is far
# below: arXiv's longest titles are ~300 characters, abstracts ~1,920 (its limit). Author
# lists are long for real: physics collaborations list ~3,000 names and the record is
# 5,154, all kept (a followed author may be any of them; the mail shows five). A source
# that sends more is broken or hostile; uncapped, a 5 MB title made an 11 MB e-mail for
# every user the paper was picked for.
TITLE_MAX = 1_000
AUTHOR_MAX = 300  # one author's name
AUTHORS_MAX = 10_000  # names kept of one paper
ABSTRACT_MAX = 20_000
TLDR_MAX = 1_000

# Characters that make a string worth handing to the LaTeX parser: real markup needs a
# macro, math or a group. Plain text skips the parser, which is the slowest step and can
# only mangle text without LaTeX ("~10x", "R&D", "O(n^2)", "76.5%" are left as typed).
_LATEXISH = re.compile(r"[\\${}]")
# In arXiv metadata a bare "%", "&" or "#" is prose ("a 5% gain", "Q&A", "R&D"), but to
# LaTeX they are a comment start (swallowing the rest of the line), a column separator and
# a parameter: escape them before parsing.
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
# Placeholders the parser emits for citations and references; they are not words.
_PLACEHOLDERS = re.compile(r"<cit\.>|<ref>")


class _Converter(Protocol):
    def latex_to_text(self, latex: str) -> str: ...


@functools.cache
def _converter() -> _Converter:
    # Imported on first use: `paperboy --help` never needs the parser.
    from pylatexenc.latex2text import LatexNodes2Text

    converter: _Converter = LatexNodes2Text(math_mode="text", keep_comments=False)
    return converter


def collapse_whitespace(s: str) -> str:
    """Join runs of whitespace (newlines, tabs, non-breaking spaces) into single spaces."""
    return " ".join(s.split())


def has_latex(s: str) -> bool:
    """Whether :func:`latex_to_text` hands ``s`` to the LaTeX parser (its slow path, about
    10 ms an abstract); other strings only have their whitespace collapsed."""
    return bool(_LATEXISH.search(s))


def latex_to_text(s: str) -> str:
    """Turn LaTeX markup in a title or abstract into readable Unicode text, whitespace
    collapsed: `$\\alpha$-divergence` becomes "α-divergence", `\\emph{x}` becomes "x".

    Falls back to the raw string (whitespace collapsed) on any error, or when the
    conversion ate everything, so it never raises. The result is *not* HTML-escaped: the
    templates' autoescape does that afterwards. Memoised: a digest run shows the same
    day's papers to many users, and the parser takes milliseconds per abstract.
    """
    try:
        if not isinstance(s, str):
            s = str(s)
        if not _LATEXISH.search(s):
            return collapse_whitespace(s)
        return _convert(s)
    except Exception:  # pylatexenc can fail in many ways; never let it through
        log.debug("could not convert LaTeX, showing it raw: %r", s[:200], exc_info=True)
        try:
            return collapse_whitespace(s)
        except Exception:  # e.g. a str subclass with a broken split
            return ""


@functools.lru_cache(maxsize=8192)
def _convert(s: str) -> str:
    text = _converter().latex_to_text(_BARE_SPECIAL.sub(r"\\\1", s))
    text = collapse_whitespace(_PLACEHOLDERS.sub(" ", text))
    return text if text or not s.strip() else collapse_whitespace(s)


def shorten(text: str, limit: int) -> str:
    """`text` (whitespace collapsed) cut at a word boundary to at most `limit` characters,
    "…" marking the cut. The one title cut: subjects, the CLI and reasons shorten alike."""
    text = collapse_whitespace(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—–") + "…"


def short_title(raw: str, limit: int) -> str:
    """A paper's title as a person reads it (LaTeX rendered), cut by :func:`shorten`: how
    reasons name a saved paper and how the CLI lists papers."""
    return shorten(latex_to_text(raw), limit)


def cap(text: str, limit: int) -> str:
    """`text` unchanged if it has at most `limit` characters, else cut by :func:`shorten`
    (whitespace collapsed, at a word boundary, "…" marking the cut)."""
    return text if len(text) <= limit else shorten(text, limit)


def cap_authors(authors: tuple[str, ...]) -> tuple[str, ...]:
    """The first :data:`AUTHORS_MAX` authors, each name capped at :data:`AUTHOR_MAX`."""
    return tuple(cap(a, AUTHOR_MAX) for a in authors[:AUTHORS_MAX])
