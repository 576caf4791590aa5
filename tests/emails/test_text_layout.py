"""The plain-text part's layout (issue 12): wrapped lines hang under the text they continue."""

from __future__ import annotations

from paperboy.emails.render import render_html, render_text
from tests.emails.conftest import DigestFactory, ItemFactory

LONG = (
    "A deliberately long title about verifiable rewards for reasoning models that wraps "
    "over more than one line of the plain-text part"
)


def test_wrapped_titles_hang_under_their_text_for_every_rank(
    make_digest: DigestFactory, make_item: ItemFactory
) -> None:
    items = tuple(
        make_item(paper_id=f"2506.{i:05d}", title=LONG, score=1 - i / 20) for i in range(1, 13)
    )
    text = render_text(make_digest(items=items))
    lines = text.splitlines()
    for rank in (1, 9, 10, 12):
        prefix = f"{rank}. "
        start = next(i for i, line in enumerate(lines) if line.startswith(prefix + "A deliber"))
        continued = lines[start + 1]
        assert continued.startswith(" " * len(prefix)) and continued[len(prefix)] != " ", (
            rank,
            lines[start : start + 2],
        )


def test_the_footer_never_claims_saved_papers_it_did_not_have(
    make_digest: DigestFactory,
) -> None:
    note = "Ranked on your keywords and authors only: none of your saved papers has its text."
    digest = make_digest(note=note, keywords_only=True)
    text = render_text(digest)
    html = render_html(digest)
    assert "against the papers you saved" not in text + html
    assert "keywords and followed authors" in text and "keywords and followed authors" in html
    assert "Ranked on your keywords" in text and "Ranked on your keywords" in html
    plain = render_text(make_digest())
    assert "against the papers you saved" in plain and "Ranked on your keywords" not in plain
