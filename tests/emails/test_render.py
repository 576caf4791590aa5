"""paperboy.emails.render: the text part (golden), the HTML part (structure), the subject."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from paperboy.emails.digest import Digest, TrendingItem
from paperboy.emails.render import (
    format_day,
    relevance_dots,
    render_html,
    render_text,
    shorten_authors,
    subject,
)
from tests.emails.conftest import (
    DigestFactory,
    ItemFactory,
    sample_trending,
    weekly_items,
)
from tests.emails.html_probe import HtmlProbe

GOLDEN_DIR = Path(__file__).parent / "golden"
UNSUBSCRIBE = ("https://paperboy.example.org/unsubscribe/ada", "unsubscribe@example.org")


def golden_digests(make_digest: DigestFactory) -> dict[str, Digest]:
    """The digests whose text part is pinned, by golden file name."""
    return {
        # A daily digest: three papers (one with Hugging Face and code links), no extras.
        "digest.txt": make_digest(),
        # A week, grouped by announcement day, with trending papers and unsubscribe links.
        "digest-weekly.txt": make_digest(
            items=weekly_items(),
            period="week",
            considered=4321,
            trending=sample_trending(),
            unsubscribe=UNSUBSCRIBE,
        ),
        # An empty day: nothing cleared the threshold, but Hugging Face has news.
        "digest-empty.txt": make_digest(
            items=(), considered=40, trending=sample_trending(), unsubscribe=UNSUBSCRIBE[1]
        ),
        # An empty week in which nothing was announced at all.
        "digest-empty-week.txt": make_digest(items=(), considered=0, period="week"),
    }


@pytest.mark.parametrize(
    "name", ["digest.txt", "digest-weekly.txt", "digest-empty.txt", "digest-empty-week.txt"]
)
def test_text_part_matches_golden(make_digest: DigestFactory, name: str) -> None:
    # To regenerate after an intended template change, run
    #   PAPERBOY_UPDATE_GOLDEN=1 python -m pytest tests/emails/test_render.py -k golden
    # and review the diff of tests/emails/golden/ before committing it.
    text = render_text(golden_digests(make_digest)[name])
    path = GOLDEN_DIR / name
    if os.environ.get("PAPERBOY_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_text_part_lines_fit_a_terminal(make_digest: DigestFactory) -> None:
    for digest in golden_digests(make_digest).values():
        for line in render_text(digest).splitlines():
            assert len(line) <= 72 or "https://" in line, line
            assert line == line.rstrip(), f"trailing whitespace: {line!r}"


def test_header_shows_day_counts_and_user(make_digest: DigestFactory) -> None:
    digest = make_digest()
    for part in (render_text(digest), HtmlProbe(render_html(digest)).text):
        assert "Tue 3 Jun 2025" in part
        assert "3 papers picked from 1,234 considered" in part
        assert "Ada Lovelace" in part


def full_digest(make_digest: DigestFactory, **overrides: object) -> Digest:
    """Everything switched on: picks with all links, trending papers, unsubscribe links."""
    fields: dict[str, object] = {"trending": sample_trending(), "unsubscribe": UNSUBSCRIBE}
    fields.update(overrides)
    return make_digest(**fields)


@pytest.mark.parametrize("period", ["day", "week"])
def test_every_html_link_is_absolute(make_digest: DigestFactory, period: str) -> None:
    items = weekly_items() if period == "week" else None
    digest = full_digest(make_digest, period=period, **({"items": items} if items else {}))
    probe = HtmlProbe(render_html(digest))
    assert probe.hrefs, "expected links"
    for href in probe.hrefs:
        parts = urlsplit(href)
        if parts.scheme == "mailto":
            assert "@" in parts.path, href
        else:
            assert parts.scheme == "https" and parts.netloc, href
    for url in (
        "https://arxiv.org/abs/1706.03762",
        "https://arxiv.org/pdf/1706.03762",
        "https://huggingface.co/papers/1706.03762",
        "https://github.com/tensorflow/tensor2tensor",
        "https://arxiv.org/abs/2506.00010",  # trending
        "https://huggingface.co/papers/2506.00010",
        "https://paperboy.example.org/unsubscribe/ada",  # the footer prefers https
    ):
        assert url in probe.hrefs, url


def test_html_document_basics(make_digest: DigestFactory) -> None:
    digest = full_digest(make_digest)
    html = render_html(digest)
    probe = HtmlProbe(html)
    assert html.startswith("<!DOCTYPE html>")
    html_tags = [attrs for name, attrs in probe.tags if name == "html"]
    assert len(html_tags) == 1 and html_tags[0].get("lang") == "en"
    assert probe.count("title") == 1
    title = html[html.index("<title>") + len("<title>") : html.index("</title>")]
    assert title.strip() and "Paperboy — 3 papers for Tue 3 Jun" in title
    assert any(n == "meta" and a.get("charset") == "utf-8" for n, a in probe.tags)
    # No images today; any that appear must carry an alt text (and nothing loads remotely).
    for name, attrs in probe.tags:
        if name == "img":
            assert attrs.get("alt") is not None, attrs
        assert name not in ("script", "iframe", "link", "object", "form"), name
    # Layout tables are marked so screen readers do not announce rows and columns.
    assert all(a.get("role") == "presentation" for n, a in probe.tags if n == "table")


def test_html_never_wider_than_640px(make_digest: DigestFactory) -> None:
    html = render_html(full_digest(make_digest))
    probe = HtmlProbe(html)
    assert "max-width: 640px" in html or "max-width:640px" in html
    for _, attrs in probe.tags:
        width = attrs.get("width")
        if width is not None and not width.endswith("%"):
            assert int(width) <= 640, attrs
        for value in re.findall(r"(?<![-\w])(?:min-)?width:\s*(\d+)px", attrs.get("style") or ""):
            assert int(value) <= 640, attrs


# Every tag the template writes (and tbody, which the CSS inliner's parser adds); anything
# else in the output came from data.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "div", "table", "tr", "td",
    "tbody", "p", "h1", "h2", "h3", "a", "span", "strong", "br",
}  # fmt: skip


def test_no_unescaped_user_text_anywhere(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    evil = "<img src=x onerror=alert(1)>\"'&"
    item = make_item(
        title=f"{evil} title",
        authors=(f"{evil} author", "<b>Bold</b> Author"),
        categories=(f"{evil}cat",),
        why=f"{evil} why",
        abstract=f"{evil} abstract. Second sentence.",
        abs_url='https://arxiv.org/abs/1"><script>alert(1)</script>',
    )
    trending = TrendingItem(
        paper_id="x",
        title=f"{evil} trending",
        abs_url="https://arxiv.org/abs/2506.00011?a=1&b=2",
        upvotes=3,
        matched=True,
        hf_url="javascript:alert(1)",
    )
    digest = make_digest(items=(item,), trending=(trending,), user_name=f"{evil} Ada")
    for period in ("day", "week"):
        html = render_html(replace(digest, period=period))
        probe = HtmlProbe(html)
        assert {name for name, _ in probe.tags} <= TEMPLATE_TAGS
        assert not any(k.startswith("on") for _, attrs in probe.tags for k in attrs)
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        for where in ("title", "author", "why", "abstract", "trending", "Ada"):
            assert f"{evil} {where}" in probe.text, where
        assert "<b>Bold</b> Author" in probe.text
        assert "javascript:" not in html
        assert 'href="https://arxiv.org/abs/2506.00011?a=1&amp;b=2"' in html
        # the broken abstract URL and the javascript: one are not linked at all
        assert probe.hrefs == [
            "https://arxiv.org/pdf/2506.01234",
            "https://arxiv.org/abs/2506.00011?a=1&b=2",
        ]


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


def test_html_still_renders_when_inlining_fails(
    make_digest: DigestFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # css-inline is a dependency (no fallback for its absence); a failure inside it must
    # still leave a readable, un-inlined mail.
    import css_inline

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("inliner bug")

    monkeypatch.setattr(css_inline, "inline", broken)
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


@pytest.mark.parametrize("period", ["day", "week"])
def test_empty_digest_says_nothing_new_in_both_parts(
    make_digest: DigestFactory, period: str
) -> None:
    digest = make_digest(items=(), considered=40, period=period)
    when = "this week" if period == "week" else "today"
    note = f"Nothing new for you {when}: none of the 40 papers considered cleared your"
    text = render_text(digest)
    html_text = HtmlProbe(render_html(digest)).text
    for part in (text, html_text):
        assert "0 papers picked from 40 considered" in part
        assert note in " ".join(part.split())
        assert "Relevance" not in part and "Trending" not in part
        assert "ranked these" not in part  # the footer does not point at papers
    assert len(text.splitlines()) < 12  # short


def test_empty_day_with_nothing_announced(make_digest: DigestFactory) -> None:
    digest = make_digest(items=(), considered=0)
    for part in (render_text(digest), HtmlProbe(render_html(digest)).text):
        assert "Nothing new for Ada Lovelace today" in part
        assert "No new papers were announced in your categories today." in part
        assert "0 considered" not in part


def test_empty_day_still_shows_trending(make_digest: DigestFactory) -> None:
    digest = make_digest(items=(), considered=3, trending=sample_trending())
    for part in (render_text(digest), HtmlProbe(render_html(digest)).text):
        assert "none of the 3 papers considered" in " ".join(part.split())
        assert "Trending on Hugging Face today" in part
        assert "Scaling Test-Time Compute" in part


def test_per_paper_hugging_face_code_and_upvotes(make_digest: DigestFactory) -> None:
    digest = make_digest()  # the first sample paper has all three, the others none
    text = render_text(digest)
    assert "Relevance ●●●●○ 82% · ▲ 1,234 upvotes on Hugging Face" in text
    assert "   Hugging Face: https://huggingface.co/papers/1706.03762" in text
    assert "   Code:         https://github.com/tensorflow/tensor2tensor" in text
    assert "   Abstract:     https://arxiv.org/abs/1706.03762" in text  # aligned per paper
    assert "   Abstract: https://arxiv.org/abs/2506.00002" in text
    assert text.count("upvote") == 1 and text.count("Code:") == 1
    probe = HtmlProbe(render_html(digest))
    assert "Abstract · PDF · Hugging Face · Code" in probe.text
    assert "1,234 upvotes on Hugging Face" in probe.text
    assert probe.text.count("upvote") == 1


def test_upvotes_singular_and_unsafe_links_dropped(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    item = make_item(upvotes=1, hf_url="javascript:alert(1)", code_url="github.com/x/y")
    digest = make_digest(items=(item,))
    text = render_text(digest)
    assert "▲ 1 upvote on Hugging Face" in text
    assert "Hugging Face:" not in text and "Code:" not in text
    assert "javascript:" not in render_html(digest)


def test_trending_section_in_both_parts(make_digest: DigestFactory) -> None:
    digest = make_digest(trending=sample_trending())
    text = render_text(digest)
    probe = HtmlProbe(render_html(digest))
    for part in (text, probe.text):
        assert "Trending on Hugging Face today" in part
        # after the picks, in the order given, each with its upvotes
        assert part.index("A paper without an abstract") < part.index("Trending on")
        assert part.index("Scaling Test-Time") < part.index("Tiny") < part.index("One upvote")
        assert "<i>Tiny</i> & Mighty: β-VAEs on a phone" in part
    assert "▲ 1,432 upvotes · ★ also matches your interests" in text
    assert "▲ 87 upvotes\n" in text and "▲ 1 upvote\n" in text
    assert text.count("★") == 1  # only the matching one is marked
    assert "  Hugging Face: https://huggingface.co/papers/2506.00010" in text
    assert "▲ 1,432" in probe.text and "▲ 87" in probe.text
    assert probe.text.count("Also matches your interests") == 1
    assert "https://huggingface.co/papers/2506.00011" in probe.hrefs


def test_no_trending_section_without_trending(make_digest: DigestFactory) -> None:
    digest = make_digest()
    assert "Trending" not in render_text(digest)
    assert "Trending" not in HtmlProbe(render_html(digest)).text


def test_weekly_groups_by_day_then_score(make_digest: DigestFactory) -> None:
    digest = make_digest(items=weekly_items(), period="week", considered=4321)
    text = render_text(digest)
    probe = HtmlProbe(render_html(digest))
    order = [
        "Mon 2 Jun 2025 · 2 papers",
        "α-divergence for robust inference",  # 0.31
        "A paper without an abstract",  # 0.05
        "Tue 3 Jun 2025 · 2 papers",
        "Attention Is All You Need",  # 0.82
        "Tuesday's runner-up",  # 0.60
        "Earlier · 1 paper",
        "A paper of unknown day",
    ]
    for part in (text, probe.text):
        assert "Week ending Tue 3 Jun 2025" in part
        assert "5 papers picked from 4,321 considered this week" in part
        positions = [part.index(s) for s in order]
        assert positions == sorted(positions), positions
    # Numbers follow the reading order, so "paper 3" means one thing.
    assert "1. α-divergence" in text and "3. Attention Is All You Need" in text
    assert probe.count("h3") == 5 and probe.count("h2") == 3  # papers under day headings


def test_daily_keeps_the_given_order(make_digest: DigestFactory) -> None:
    text = render_text(make_digest(items=weekly_items()))
    assert "Mon 2 Jun" not in text and "Earlier" not in text
    assert text.index("1. Attention") < text.index("2. α-divergence")


def test_footer_unsubscribe(make_digest: DigestFactory) -> None:
    assert "nsubscribe" not in render_text(make_digest())
    mailto = make_digest(unsubscribe="unsubscribe@example.org")
    assert "To unsubscribe, write to unsubscribe@example.org." in render_text(mailto)
    assert HtmlProbe(render_html(mailto)).hrefs[-1] == "mailto:unsubscribe@example.org"
    both = make_digest(unsubscribe=UNSUBSCRIBE)
    assert "Unsubscribe: https://paperboy.example.org/unsubscribe/ada" in render_text(both)
    assert HtmlProbe(render_html(both)).hrefs[-1] == UNSUBSCRIBE[0]


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


def test_subject_says_how_many_when_and_the_best_title(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    assert (
        subject(make_digest()) == "Paperboy — 3 papers for Tue 3 Jun: “Attention Is All You Need”"
    )
    one = make_digest(items=(make_item(title=r"\emph{One} paper"),))
    assert subject(one) == "Paperboy — 1 paper for Tue 3 Jun: “One paper”"
    assert subject(make_digest(items=())) == "Paperboy — 0 papers for Tue 3 Jun"
    week = make_digest(items=weekly_items(), period="week")  # the best, not the first shown
    assert subject(week) == (
        "Paperboy — 5 papers for the week ending Tue 3 Jun: “Attention Is All You Need”"
    )


def test_subject_shortens_long_titles(make_digest: DigestFactory, make_item: ItemFactory) -> None:
    title = "Scaling Test-Time Compute with Verifiable Rewards for Long Chains of Thought"
    line = subject(make_digest(items=(make_item(title=title, score=0.9), make_item(score=0.1))))
    assert line == "Paperboy — 2 papers for Tue 3 Jun: “Scaling Test-Time Compute with Verifiable…”"
    assert len(line) < 90


def test_format_day_ignores_locale() -> None:
    assert format_day(date(2025, 6, 3)) == "Tue 3 Jun 2025"
    assert format_day(date(2024, 12, 29), year=False) == "Sun 29 Dec"
