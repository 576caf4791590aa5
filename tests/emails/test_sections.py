"""A digest with one section per collection (issue #23): the HTML and text parts and the
chat message show each section under its collection's name, in the digest's order, each
paper once; a digest without sections renders as before (the golden files)."""

from __future__ import annotations

import re
from dataclasses import replace

from paperboy.emails.chat import render_chat
from paperboy.emails.digest import DEFAULT_SECTION, Digest
from paperboy.emails.render import render_html, render_text
from tests.emails.conftest import DigestFactory, ItemFactory


def sectioned(make_item: ItemFactory, make_digest: DigestFactory) -> Digest:
    items = (
        make_item(paper_id="2601.00001", title="Policy gradients", score=0.9, collection="rl"),
        make_item(paper_id="2601.00002", title="Attention again", score=0.8),
        make_item(paper_id="2601.00003", title="Reward models", score=0.7, collection="rl"),
    )
    return make_digest(items=items, sections=("", "rl", "vision"), trending=())


def test_text_part_shows_each_section_under_its_name(
    make_item: ItemFactory, make_digest: DigestFactory
) -> None:
    text = render_text(sectioned(make_item, make_digest))
    general = text.index(f"{DEFAULT_SECTION} · 1 paper\n")
    rl = text.index("rl · 2 papers\n")
    assert general < text.index("Attention again") < rl
    assert rl < text.index("Policy gradients") < text.index("Reward models")
    assert "vision" not in text  # a section without papers is left out
    # numbered on through the sections, each paper once
    assert re.findall(r"^(\d+)\. ", text, re.M) == ["1", "2", "3"]
    assert text.count("Policy gradients") == 1


def test_html_part_heads_each_section(make_item: ItemFactory, make_digest: DigestFactory) -> None:
    html = render_html(sectioned(make_item, make_digest))
    headings = re.findall(r'<h2 class="section-heading"[^>]*>([^<]*)</h2>', html)
    assert headings == [f"{DEFAULT_SECTION} · 1 paper", "rl · 2 papers"]
    assert html.index("rl · 2 papers") < html.index(">Policy gradients</a>")
    assert re.search(r'<h3 class="title"', html)  # titles sit under the section headings


def test_a_digest_without_sections_has_no_section_heading(
    make_item: ItemFactory, make_digest: DigestFactory
) -> None:
    plain = replace(sectioned(make_item, make_digest), sections=())
    assert 'section-heading"' not in render_html(plain).split("</style>")[-1]
    assert "═" not in render_text(plain)


def test_chat_message_names_the_sections(
    make_item: ItemFactory, make_digest: DigestFactory
) -> None:
    _title, parts = render_chat(sectioned(make_item, make_digest), 4000)
    [body] = parts
    assert body.index(f"__{DEFAULT_SECTION} · 1 paper__") < body.index("Attention again")
    assert body.index("Attention again") < body.index("__rl · 2 papers__")
    assert body.index("__rl · 2 papers__") < body.index("Policy gradients")
    assert "**1. " in body and "**3. " in body


def test_one_section_alone_for_a_collections_channels(
    make_item: ItemFactory, make_digest: DigestFactory
) -> None:
    digest = sectioned(make_item, make_digest)
    rl = digest.section("rl")
    assert [i.paper_id for i in rl.items] == ["2601.00001", "2601.00003"]
    assert rl.sections == () and rl.trending == ()
    assert digest.section("vision").items == ()


def test_a_weekly_digest_groups_days_inside_each_section(
    make_item: ItemFactory, make_digest: DigestFactory
) -> None:
    from datetime import date

    monday, tuesday = date(2026, 6, 29), date(2026, 6, 30)
    items = (
        make_item(paper_id="2606.00001", title="Tuesday RL", announced=tuesday, collection="rl"),
        make_item(paper_id="2606.00002", title="Monday general", announced=monday),
        make_item(paper_id="2606.00003", title="Monday RL", announced=monday, collection="rl"),
    )
    digest = make_digest(items=items, sections=("", "rl"), period="week", trending=())
    text = render_text(digest)
    general, rl = text.index(f"{DEFAULT_SECTION} · 1 paper\n"), text.index("rl · 2 papers\n")
    assert general < text.index("Monday general") < rl
    # within the rl section: its days in calendar order, each under its day's heading
    assert rl < text.index("Mon 29 Jun 2026 · 1 paper", rl) < text.index("Monday RL")
    assert text.index("Monday RL") < text.index("Tue 30 Jun 2026 · 1 paper", rl)
    assert text.index("Tue 30 Jun 2026 · 1 paper", rl) < text.index("Tuesday RL")
    assert text.count("rl · 2 papers") == 1  # the section's heading once, not per day
