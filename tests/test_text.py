"""paperboy.text: the one LaTeX-to-text conversion and the one title cut (issue 12).

The mail, the ranker's reasons and keyword matches, and the CLI all use these, so a
reason's words are the words the mail shows. Before, `emails` and `recommender` each held a
copy, and `Q\\&A … R&D` came out as `R   D` in one and `R&D` in the other.
"""

from __future__ import annotations

import pytest

from paperboy.emails import render
from paperboy.recommender import reasons
from paperboy.recommender.text import normalise
from paperboy.text import collapse_whitespace, latex_to_text, shorten

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


@pytest.mark.parametrize(("latex", "text"), TABLE)
def test_latex_becomes_the_text_a_reader_expects(latex: str, text: str) -> None:
    assert latex_to_text(latex) == text


@pytest.mark.parametrize(("latex", "text"), TABLE)
def test_the_ranker_compares_the_words_the_mail_shows(latex: str, text: str) -> None:
    assert normalise(latex) == normalise(text)


@pytest.mark.parametrize("broken", [r"\textbf{", "{", "\\", r"$\frac{1}{", r"\begin{x}", "}}}"])
def test_broken_markup_never_raises_and_never_vanishes(broken: str) -> None:
    out = latex_to_text(broken)
    assert isinstance(out, str)
    assert out or not broken.strip()


def test_non_strings_and_odd_strings_degrade_instead_of_raising() -> None:
    assert latex_to_text(12) == "12"  # type: ignore[arg-type]
    assert collapse_whitespace("a\u00a0\tb\n") == "a b"


CUTS = [
    ("Attention Is All You Need", 60, "Attention Is All You Need"),
    ("Attention Is All You Need", 20, "Attention Is All…"),
    ("A title, with a comma; here", 17, "A title, with a…"),
    ("Supercalifragilistic", 10, "Supercali…"),
    ("  spaced\n  out  title ", 60, "spaced out title"),
    ("Ends with a dash - and more words", 19, "Ends with a dash…"),
]


@pytest.mark.parametrize(("title", "limit", "short"), CUTS)
def test_the_title_cut(title: str, limit: int, short: str) -> None:
    assert shorten(title, limit) == short
    assert len(shorten(title, limit)) <= limit


def test_reasons_cut_the_rendered_title() -> None:
    assert reasons.shorten(r"\emph{Attention} Is All You Need", 20) == "Attention Is All…"


def test_the_subject_uses_the_same_cut_on_the_rendered_title() -> None:
    assert render.shorten is shorten and render.latex_to_text is latex_to_text
