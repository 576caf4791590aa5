"""The plain-text part's layout (issue 12): wrapped lines hang under the text they continue."""

from __future__ import annotations

from emails.render import render_text
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
