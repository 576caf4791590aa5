"""Plain-text helpers for the digest: abstract summaries (sentences without false breaks).

Everything here is pure and total: bad input degrades to the raw string, it never raises,
because one odd abstract must not stop a user's digest.
"""

from __future__ import annotations

import re

from paperboy.text import collapse_whitespace

__all__ = ["first_sentences", "split_sentences"]

# The LaTeX conversion and the title cut are paperboy.text's, shared with the ranker so
# that a reason's words are the words the mail shows.

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
