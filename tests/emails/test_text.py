"""emails.text (sentence splitting) and the LaTeX conversion the mail uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboy.emails.text import first_sentences, split_sentences
from paperboy.text import latex_to_text


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"$\alpha$-divergence for \textit{robust} inference", "α-divergence for robust inference"),
        (r"\emph{Attention} is all you need", "Attention is all you need"),
        (r"Sorting in $O(n^2)$ time", "Sorting in O(n^2) time"),
        (r"a 5\% gain", "a 5% gain"),
        ("a 5% gain, R&D and issue #3", "a 5% gain, R&D and issue #3"),  # bare: prose, kept
        ("Plain\n   title  with\twhitespace", "Plain title with whitespace"),
        ("<script>alert(1)</script> Attention", "<script>alert(1)</script> Attention"),
        ("", ""),
    ],
)
def test_latex_to_text(latex: str, text: str) -> None:
    assert latex_to_text(latex) == text


@pytest.mark.parametrize("broken", [r"\textbf{", "{", "\\", r"$\frac{1}{", r"\begin{x}", "}}}"])
def test_latex_to_text_never_loses_broken_input(broken: str) -> None:
    assert latex_to_text(broken).strip()


def test_latex_to_text_falls_back_to_raw_on_parser_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperboy import text

    class Exploding:
        def latex_to_text(self, latex: str) -> str:
            raise RuntimeError("boom")

    monkeypatch.setattr(text, "_converter", lambda: Exploding())
    text._convert.cache_clear()  # a conversion memoised by an earlier test would hide it
    assert latex_to_text(r"\emph{x}  y") == r"\emph{x} y"


@given(st.text(alphabet=st.sampled_from(list("\\${}^_%&#~ab \n.αé"))) | st.text())
def test_latex_to_text_never_raises(s: str) -> None:
    assert isinstance(latex_to_text(s), str)


def test_split_sentences_respects_abbreviations_and_decimals() -> None:
    text = (
        "We use e.g. BERT (Devlin et al. 2019) and i.e. Transformers. Results in Fig. 3 "
        "show a 3.5% gain over J. Smith's baseline. It works! Does it? Yes."
    )
    assert split_sentences(text) == [
        "We use e.g. BERT (Devlin et al. 2019) and i.e. Transformers.",
        "Results in Fig. 3 show a 3.5% gain over J. Smith's baseline.",
        "It works!",
        "Does it?",
        "Yes.",
    ]


def test_first_sentences() -> None:
    assert first_sentences("One. Two. Three.") == "One. Two."
    assert first_sentences("Only one, without a stop") == "Only one, without a stop"
    assert first_sentences("") == ""


def test_first_sentences_caps_runaway_length() -> None:
    long = "word " * 500
    summary = first_sentences(long, max_chars=100)
    assert len(summary) <= 102
    assert summary.endswith("…")
