"""A paper's block is rendered once per run and shared by its readers (issue #22), and
the messages are, byte for byte, the ones rendered before it was shared.

The golden messages (golden/message-*.eml) were written by the renderer before the
blocks were shared (main at 4e57d9f), from the digests below: two readers of the same
papers, each with their own ranks, scores, reasons, upvotes and feedback links, for a
day and for a week. After an intended template change, regenerate them with
``PAPERBOY_UPDATE_GOLDEN=1 python -m pytest tests/emails/test_paper_blocks.py`` and
review the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperboy import text
from paperboy.emails import render
from paperboy.emails.digest import Digest, DigestItem
from paperboy.emails.render import build_message
from tests.emails.conftest import sample_items, sample_trending, weekly_items

GOLDEN = Path(__file__).parent / "golden"
LINKS = "https://paperboy.example.org/l"


def _reader(name: str, items: tuple[DigestItem, ...], period: str = "day") -> Digest:
    """`name`'s digest of `items`, with their own feedback links on every paper."""
    slug = name.lower()
    return Digest(
        user_name=name,
        to=(f"{slug}@example.org",),
        sender="Paperboy <paperboy@example.org>",
        day=date(2025, 6, 3),
        items=tuple(
            replace(
                item,
                more_url=f"{LINKS}/more/{slug}/{item.paper_id}?t=tok-{slug}",
                less_url=f"{LINKS}/less/{slug}/{item.paper_id}?t=tok-{slug}",
            )
            for item in items
        ),
        considered=1234,
        created_at=datetime(2025, 6, 3, 5, 30, tzinfo=UTC),
        trending=sample_trending(),
        period="week" if period == "week" else "day",
        unsubscribe=f"{LINKS}/unsubscribe/{slug}",
        unsubscribe_url=f"{LINKS}/unsubscribe/{slug}?t=tok-{slug}",
        pause_url=f"{LINKS}/pause/{slug}?t=tok-{slug}",
        profile_url=f"{LINKS}/profile/{slug}?t=tok-{slug}",
    )


def readers() -> dict[str, Digest]:
    """The digests whose messages are pinned, by golden file name (in render order)."""
    first, second, third = sample_items()
    second = replace(
        second, tldr=r"An $\alpha$-divergence that \emph{holds up}.", tldr_source="OpenReview"
    )
    # Bob has the same papers in another order, with his own scores and reasons; one
    # paper without its Hugging Face link and upvotes (a block of its own).
    bob = (
        replace(third, score=0.91, why="Close to your saved “Papers without abstracts”"),
        replace(
            first, score=0.44, why="Matches: attention, transformer", hf_url=None, upvotes=None
        ),
        replace(second, score=0.12, why="Matches your keyword “divergence”"),
    )
    week = weekly_items()
    return {
        "message-ada-day.eml": _reader("Ada", (first, second, third)),
        "message-bob-day.eml": _reader("Bob", bob),
        "message-ada-week.eml": _reader("Ada", week, "week"),
        "message-bob-week.eml": _reader("Bob", tuple(reversed(week)), "week"),
    }


def _message(name: str, digest: Digest) -> bytes:
    """The message's bytes, with a fixed MIME boundary (else drawn at random)."""
    message = build_message(digest, message_id=f"<golden.{name.removesuffix('.eml')}@example.org>")
    message.set_boundary("golden-boundary")
    return message.as_bytes()


def _forget() -> None:
    """Empty every memo a message is made with, as in a new process."""
    render._paper_block.cache_clear()
    render._hang.cache_clear()
    text._convert.cache_clear()


def test_messages_are_the_ones_rendered_before_blocks_were_shared() -> None:
    _forget()
    for name, digest in readers().items():  # the later readers get the blocks made already
        got = _message(name, digest)
        path = GOLDEN / name
        if os.environ.get("PAPERBOY_UPDATE_GOLDEN"):
            path.write_bytes(got)
        assert got == path.read_bytes(), name


@pytest.mark.parametrize("name", sorted(readers()))
def test_a_message_made_with_blocks_made_for_others_is_the_one_made_alone(name: str) -> None:
    _forget()
    alone = _message(name, readers()[name])
    for other, digest in readers().items():
        _message(other, digest)
    assert _message(name, readers()[name]) == alone


def test_a_papers_block_is_made_once_for_all_its_readers() -> None:
    _forget()
    for name, digest in readers().items():
        _message(name, digest)
    blocks = {
        (i.paper_id, i.title, i.hf_url, i.tldr)
        for digest in readers().values()
        for i in digest.items
    }
    made = render._paper_block.cache_info()
    assert made.misses == len(blocks)
    assert made.hits == sum(len(d.items) for d in readers().values()) - len(blocks)


def test_a_block_of_unhashable_fields_is_made_anyway() -> None:
    item = replace(sample_items()[0], authors=["Ada Lovelace", "Charles Babbage"])  # type: ignore[arg-type]
    message = build_message(_reader("Ada", (item,)), message_id="<x@example.org>")
    body = message.get_body(("plain",))
    assert body is not None
    assert "Ada Lovelace, Charles Babbage" in body.get_content()
