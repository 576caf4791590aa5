"""emails.render: the text part (golden), the HTML part (structure), the subject."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pytest

from emails.render import (
    format_day,
    relevance_dots,
    render_html,
    render_text,
    shorten_authors,
    subject,
)
from tests.emails.conftest import DigestFactory, ItemFactory
from tests.emails.html_probe import HtmlProbe

GOLDEN = Path(__file__).parent / "golden" / "digest.txt"


def test_text_part_matches_golden(make_digest: DigestFactory) -> None:
    # To regenerate after an intended template change, run
    #   PAPERBOY_UPDATE_GOLDEN=1 python -m pytest tests/emails/test_render.py -k golden
    # and review the diff of tests/emails/golden/digest.txt before committing it.
    text = render_text(make_digest())
    if os.environ.get("PAPERBOY_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_text_part_lines_fit_a_terminal(make_digest: DigestFactory) -> None:
    for line in render_text(make_digest()).splitlines():
        assert len(line) <= 72 or "https://" in line, line


def test_header_shows_day_counts_and_user(make_digest: DigestFactory) -> None:
    digest = make_digest()
    for part in (render_text(digest), HtmlProbe(render_html(digest)).text):
        assert "Tue 3 Jun 2025" in part
        assert "3 papers picked from 1,234 considered" in part
        assert "Ada Lovelace" in part


def test_html_links_are_absolute_https(make_digest: DigestFactory) -> None:
    probe = HtmlProbe(render_html(make_digest()))
    assert probe.hrefs, "expected links"
    assert all(href.startswith("https://") for href in probe.hrefs), probe.hrefs
    assert "https://arxiv.org/abs/1706.03762" in probe.hrefs
    assert "https://arxiv.org/pdf/1706.03762" in probe.hrefs


def test_html_is_a_640px_table_layout_with_inlined_css(make_digest: DigestFactory) -> None:
    html = render_html(make_digest())
    probe = HtmlProbe(html)
    assert probe.count("table") >= 2
    assert "max-width: 640px" in html or "max-width:640px" in html
    assert any(name == "meta" and attrs.get("name") == "viewport" for name, attrs in probe.tags)
    cards = [attrs for name, attrs in probe.tags if "card" in (attrs.get("class") or "")]
    assert cards and all("background-color" in (a.get("style") or "") for a in cards)
    # Whatever sets a background also sets the text colour: no white-on-white in dark clients.
    for _, attrs in probe.tags:
        style = attrs.get("style") or ""
        if "background-color" in style:
            assert "color: #" in style.replace("background-color", ""), style
    assert "prefers-color-scheme: dark" in html  # @media rules survive the inlining


def test_html_without_css_inline_still_renders(
    make_digest: DigestFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "css_inline", None)  # makes `import css_inline` fail
    html = render_html(make_digest())
    probe = HtmlProbe(html)
    assert "<style>" in html
    assert "Attention Is All You Need" in probe.text


def test_html_escapes_markup_in_titles(make_digest: DigestFactory, make_item: ItemFactory) -> None:
    item = make_item(title="<script>alert(1)</script> Attention", why="<b>bold</b> & co")
    html = render_html(make_digest(items=(item,)))
    probe = HtmlProbe(html)
    assert probe.count("script") == 0
    assert probe.count("b") == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Attention" in html
    assert "<script>alert(1)</script> Attention" in probe.text
    assert "<script>alert(1)</script> Attention" in render_text(make_digest(items=(item,)))


def test_unsafe_urls_are_not_linked(make_digest: DigestFactory, make_item: ItemFactory) -> None:
    item = make_item(abs_url="javascript:alert(1)", pdf_url="/relative.pdf")
    digest = make_digest(items=(item,))
    probe = HtmlProbe(render_html(digest))
    assert probe.hrefs == []
    assert "A paper" in probe.text
    assert "javascript:" not in render_text(digest)


def test_latex_title_is_readable_in_both_parts(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    item = make_item(
        title="$\\alpha$-divergence for \\textit{robust} inference",
        abstract=r"We bound it by $O(n^2)$ using \emph{nothing}. Second. Third.",
    )
    digest = make_digest(items=(item,))
    text = render_text(digest)
    html_text = HtmlProbe(render_html(digest)).text
    for part in (text, html_text):
        assert "α-divergence for robust inference" in part
        assert "We bound it by O(n^2) using nothing. Second." in part
        assert "Third" not in part
        assert "\\textit" not in part and "$" not in part


def test_long_author_lists_are_shortened(make_digest: DigestFactory) -> None:
    digest = make_digest()
    expected = "Ashish Vaswani, Noam Shazeer, Niki Parmar, …, Illia Polosukhin"
    assert expected in render_text(digest)
    assert expected in HtmlProbe(render_html(digest)).text
    assert "Llion Jones" not in render_text(digest)


def test_shorten_authors() -> None:
    five = tuple("ABCDE")
    assert shorten_authors(five) == five
    assert shorten_authors((*five, "F")) == ("A", "B", "C", "…", "F")
    assert shorten_authors(()) == ()


def test_empty_abstract_and_no_pdf(make_digest: DigestFactory, make_item: ItemFactory) -> None:
    item = make_item(abstract="", pdf_url=None, authors=(), categories=(), why="")
    digest = make_digest(items=(item,))
    text = render_text(digest)
    probe = HtmlProbe(render_html(digest))
    assert "Abstract: https://arxiv.org/abs/2506.01234" in text
    assert "PDF:" not in text
    assert probe.hrefs == ["https://arxiv.org/abs/2506.01234"] * 2  # title and "Abstract"


def test_empty_digest_renders(make_digest: DigestFactory) -> None:
    digest = make_digest(items=(), considered=40)
    assert "0 papers picked from 40 considered" in render_text(digest)
    assert "Nothing new" in HtmlProbe(render_html(digest)).text


@pytest.mark.parametrize(
    ("score", "dots", "percent"),
    [(0.82, "●●●●○", "82%"), (1.0, "●●●●●", "100%"), (0.01, "●○○○○", "1%"), (0.0, "○○○○○", "0%")],
)
def test_relevance_indicator(
    make_digest: DigestFactory, make_item: ItemFactory, score: float, dots: str, percent: str
) -> None:
    assert "".join(relevance_dots(score)) == dots
    digest = make_digest(items=(make_item(score=score),))
    assert f"{dots} {percent}" in render_text(digest)
    html_text = HtmlProbe(render_html(digest)).text
    assert dots in html_text and percent in html_text


def test_relevance_survives_bad_scores() -> None:
    assert "".join(relevance_dots(float("nan"))) == "○○○○○"
    assert "".join(relevance_dots(7.0)) == "●●●●●"
    assert "".join(relevance_dots(-1.0)) == "○○○○○"


def test_subject_singular_and_plural(make_digest: DigestFactory, make_item: ItemFactory) -> None:
    assert subject(make_digest()) == "Paperboy — 3 papers for Tue 3 Jun"
    assert subject(make_digest(items=(make_item(),))) == "Paperboy — 1 paper for Tue 3 Jun"
    assert subject(make_digest(items=())) == "Paperboy — 0 papers for Tue 3 Jun"


def test_format_day_ignores_locale() -> None:
    assert format_day(date(2025, 6, 3)) == "Tue 3 Jun 2025"
    assert format_day(date(2024, 12, 29), year=False) == "Sun 29 Dec"
