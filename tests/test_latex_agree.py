"""The two copies of the LaTeX-to-text conversion and of the title cut agree (issue 12).

`recommender` and `emails` may not import each other, so each holds its own copy; this
one table runs against both, so that a reason's words are the words the mail shows.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import emails.text
import recommender.reasons
import recommender.text

CONVERTERS: list[Callable[[str], str]] = [emails.text.latex_to_text, recommender.text.latex_to_text]

TABLE = [
    (r"Q\&A for $\alpha$-models, R&D", "Q&A for α-models, R&D"),
    (r"$\alpha$-divergence for \textit{robust} inference", "α-divergence for robust inference"),
    (r"\emph{Attention} is all you need", "Attention is all you need"),
    (r"Sorting in $O(n^2)$ time", "Sorting in O(n^2) time"),
    (r"a 5\% gain", "a 5% gain"),
    ("a 5% gain, R&D and issue #3", "a 5% gain, R&D and issue #3"),
    (r"reaches 76.5% top-1 with \textbf{few} labels", "reaches 76.5% top-1 with few labels"),
    (r"issue #3 in \textbf{repo}", "issue #3 in repo"),
    ("~10x faster R&D, O(n^2)", "~10x faster R&D, O(n^2)"),
    ("Plain\n   title  with\twhitespace", "Plain title with whitespace"),
    (r"Sch\"olkopf's \emph{Kernel} Methods", "Schölkopf's Kernel Methods"),
    ("", ""),
]


@pytest.mark.parametrize("convert", CONVERTERS, ids=["emails", "recommender"])
@pytest.mark.parametrize(("latex", "text"), TABLE)
def test_both_conversions_give_the_same_text(
    convert: Callable[[str], str], latex: str, text: str
) -> None:
    assert convert(latex) == text


@pytest.mark.parametrize("broken", [r"\textbf{", "{", "\\", r"$\frac{1}{", r"\begin{x}", "}}}"])
def test_both_keep_broken_input_alike(broken: str) -> None:
    assert emails.text.latex_to_text(broken) == recommender.text.latex_to_text(broken)


CUTS = [
    ("Attention Is All You Need", 60, "Attention Is All You Need"),
    ("Attention Is All You Need", 20, "Attention Is All…"),
    ("A title, with a comma; here", 17, "A title, with a…"),
    ("Supercalifragilistic", 10, "Supercali…"),
    ("  spaced\n  out  title ", 60, "spaced out title"),
    ("Ends with a dash - and more words", 19, "Ends with a dash…"),
]


@pytest.mark.parametrize(
    "cut",
    [emails.text.shorten, recommender.reasons.shorten],
    ids=["emails", "recommender"],
)
@pytest.mark.parametrize(("text", "limit", "short"), CUTS)
def test_both_title_cuts_agree(
    cut: Callable[[str, int], str], text: str, limit: int, short: str
) -> None:
    assert cut(text, limit) == short
