"""Normalisation: LaTeX, Unicode forms, accents and case all collapse to one form."""

from __future__ import annotations

import pytest

from paperboy.recommender import Paper
from paperboy.recommender.text import fold, normalise, paper_text


def test_paper_text_joins_title_and_abstract_lower_cased() -> None:
    p = Paper(id="1", title="Deep Learning", abstract="A Review")
    assert paper_text(p) == "deep learning a review"


def test_latex_is_rendered_as_text() -> None:
    out = paper_text(
        Paper(id="1", title=r"Sch\"olkopf's \emph{Kernel} Methods", abstract=r"$\alpha$-divergence")
    )
    assert out == "scholkopf's kernel methods α-divergence"


def test_bare_percent_is_not_a_comment() -> None:
    # In LaTeX "%" starts a comment; in abstracts it means per cent.
    out = normalise(r"reaches 76.5% top-1 accuracy with \textbf{few} labels")
    assert out == "reaches 76.5% top-1 accuracy with few labels"


def test_accents_ligatures_and_width_fold() -> None:
    assert fold("Café ﬁne ＡＢＣ  Ærø") == "cafe fine abc ærø"
    assert normalise("CAFÉ") == normalise(r"Caf\'e") == "cafe"


def test_plain_text_is_left_as_typed() -> None:
    assert normalise("~10x faster R&D, O(n^2)") == "~10x faster r&d, o(n^2)"


@pytest.mark.parametrize("raw", [r"\unknown{ $ {{", "}}}", "$$$", r"\begin{itemize}", "\\"])
def test_broken_latex_never_raises(raw: str) -> None:
    assert isinstance(normalise(raw), str)
