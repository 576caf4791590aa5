"""Plain-text helpers for the digest: LaTeX to readable text, and abstract summaries.

Everything here is pure and total: bad input degrades to the raw string, it never raises,
because one odd abstract must not stop a user's digest.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Protocol

__all__ = [
    "collapse_whitespace",
    "first_sentences",
    "latex_to_text",
    "shorten",
    "split_sentences",
]

log = logging.getLogger(__name__)

# The LaTeX-to-text conversion is written twice, here and in recommender/text.py, because
# `emails` and `recommender` may not import each other: both copies must give the same
# text (tests/test_latex_agree.py runs one table against both), so that a reason's words
# are the words the mail shows.
#
# Characters that make a string worth handing to the LaTeX parser: real markup needs a
# macro, math or a group. Anything else is plain text already ("~10x", "R&D", "O(n^2)").
_LATEXISH = re.compile(r"[\\${}]")
# In arXiv metadata a bare "%", "&" or "#" is almost always prose ("a 5% gain", "R&D"),
# but to LaTeX they are a comment start, a column separator and a parameter.
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
# Placeholders the parser emits for citations and references; they are not words.
_PLACEHOLDERS = re.compile(r"<cit\.>|<ref>")


class _Converter(Protocol):
    def latex_to_text(self, latex: str) -> str: ...


@functools.cache
def _converter() -> _Converter:
    from pylatexenc.latex2text import LatexNodes2Text

    converter: _Converter = LatexNodes2Text(math_mode="text", keep_comments=False)
    return converter


def collapse_whitespace(s: str) -> str:
    """Join runs of whitespace (newlines, tabs, non-breaking spaces) into single spaces."""
    return " ".join(s.split())


def shorten(text: str, limit: int) -> str:
    """`text` (whitespace collapsed) cut at a word boundary to at most `limit` characters,
    "…" marking the cut. The same cut as recommender.reasons.shorten (both are tested on
    one table): subjects, the CLI and reasons shorten titles alike."""
    text = collapse_whitespace(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—–") + "…"


def latex_to_text(s: str) -> str:
    """Turn LaTeX markup in a title or abstract into readable Unicode text.

    `$\\alpha$-divergence` becomes "α-divergence", `\\emph{x}` becomes "x". Falls back to the
    raw string (whitespace collapsed) on any error, so it never raises. The result is *not*
    HTML-escaped: the templates' autoescape does that afterwards.
    """
    try:
        if not isinstance(s, str):
            s = str(s)
        if not _LATEXISH.search(s):
            return collapse_whitespace(s)
        prepared = _BARE_SPECIAL.sub(r"\\\1", s)
        text = _converter().latex_to_text(prepared)
        text = collapse_whitespace(_PLACEHOLDERS.sub(" ", text))
        # A conversion that ate everything (e.g. one huge unbalanced group) is worse than
        # the raw markup.
        return text if text or not s.strip() else collapse_whitespace(s)
    except Exception:  # pylatexenc can fail in many ways; never let it through
        log.debug("could not convert LaTeX, showing it raw: %r", s[:200], exc_info=True)
        try:
            return collapse_whitespace(s)
        except Exception:  # e.g. a str subclass with a broken split
            return ""


# Abbreviations after which a full stop does not end a sentence (lower case, no final dot).
_ABBREVIATIONS = frozenset(
    {
        "al",  # et al.
        "approx",
        "cf",
        "ch",
        "cor",
        "def",
        "dr",
        "e.g",
        "eq",
        "eqn",
        "eqs",
        "fig",
        "figs",
        "i.e",
        "lem",
        "mr",
        "mrs",
        "ms",
        "prof",
        "prop",
        "ref",
        "refs",
        "resp",
        "sec",
        "secs",
        "tab",
        "thm",
        "viz",
        "vol",
        "vs",
        "w.r.t",
    }
)
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace.
# Decimals ("3.5") never match because no whitespace follows their dot.
_BOUNDARY = re.compile(r"([.!?…])[\"'”’)\]]*\s+")
# Dotted short forms such as "U.S." or "e.g." that are not in the list above.
_DOTTED = re.compile(r"(?:[A-Za-z]{1,3}\.)+[A-Za-z]{1,3}")


def _ends_with_abbreviation(before_dot: str) -> bool:
    """True when the word just before a full stop is an abbreviation or an initial."""
    words = before_dot.rsplit(maxsplit=1)
    if not words:
        return False
    word = words[-1].lstrip("([\"'“‘")
    if not word:
        return False
    if word.lower() in _ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isalpha() and word.isupper():  # an initial: "J. Smith"
        return True
    return _DOTTED.fullmatch(word) is not None


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking on "e.g.", "et al.", "Fig." or decimals."""
    text = collapse_whitespace(text)
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if end >= len(text):
            break
        if text[end].islower():  # "e.g. the", "approx. ten": not a new sentence
            continue
        if match.group(1) == "." and _ends_with_abbreviation(text[start : match.start()]):
            continue
        sentences.append(text[start:end].rstrip())
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def first_sentences(text: str, n: int = 2, *, max_chars: int = 600) -> str:
    """The first `n` sentences of `text`, cut at a word boundary after `max_chars`.

    Used for the abstract teaser: enough to judge a paper, short enough to scan a digest.
    """
    summary = " ".join(split_sentences(text)[:n])
    if len(summary) <= max_chars:
        return summary
    cut = summary[:max_chars].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + " …"
