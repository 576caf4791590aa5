"""TL;DR in the digest (issue #15): a source's one-sentence summary above the abstract
excerpt, labelled with its source, in both parts; without one, the layout is unchanged
(the golden files of test_render.py say so)."""

from __future__ import annotations

from paperboy.emails.render import render_html, render_text
from tests.emails.conftest import DigestFactory, ItemFactory
from tests.emails.html_probe import HtmlProbe

TLDR = "Attention alone, without recurrence, translates better and trains faster."


def test_a_tldr_is_shown_above_the_excerpt_with_its_source(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    item = make_item(
        abstract="The dominant models are recurrent. We propose the Transformer. It wins.",
        tldr=TLDR,
        tldr_source="OpenReview",
    )
    digest = make_digest(items=(item,))

    text = render_text(digest)
    assert f"TL;DR (OpenReview): {TLDR}" in " ".join(text.split())
    assert text.index("TL;DR (OpenReview):") < text.index("The dominant models are recurrent.")

    html = render_html(digest)
    probe = HtmlProbe(html)
    flat = " ".join(probe.text.split())
    assert f"TL;DR (OpenReview): {TLDR}" in flat
    assert flat.index("TL;DR (OpenReview):") < flat.index("The dominant models are recurrent.")


def test_an_unnamed_source_and_markup_in_a_tldr(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    item = make_item(tldr=r"<b>Bold</b> claims about $\alpha$", tldr_source=None)
    digest = make_digest(items=(item,))
    html = render_html(digest)
    assert HtmlProbe(html).count("b") == 0 and "&lt;b&gt;Bold&lt;/b&gt;" in html
    text = render_text(digest)
    assert "TL;DR: <b>Bold</b> claims about α" in " ".join(text.split())


def test_no_tldr_no_label(make_digest: DigestFactory, make_item: ItemFactory) -> None:
    digest = make_digest(items=(make_item(tldr=None), make_item(tldr="", paper_id="2")))
    assert "TL;DR" not in render_text(digest) and "TL;DR" not in render_html(digest)
