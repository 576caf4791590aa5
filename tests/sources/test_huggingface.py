"""Hugging Face daily papers: the real API answer parsed, and every way it can go wrong."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from paperboy.jobs.core.errors import ParseError
from paperboy.jobs.fetch.sources.huggingface import looks_like_hf_daily, parse_hf_daily

FIXTURE = Path(__file__).parents[1] / "fixtures" / "hf-daily-papers" / "daily_papers.json"


def raw() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(FIXTURE.read_bytes())
    return items


def dump(items: object) -> bytes:
    return json.dumps(items).encode("utf-8")


def test_real_answer_every_item_with_its_popularity() -> None:
    items = raw()
    parsed = parse_hf_daily(FIXTURE.read_bytes(), url="https://huggingface.co/api/daily_papers")
    assert len(parsed) == len(items) == 30
    # Page order is kept; each item is the paper the API named.
    assert [t.paper.id for t in parsed] == [i["paper"]["id"] for i in items]
    for t, item in zip(parsed, items, strict=True):
        paper = item["paper"]
        assert t.upvotes == paper["upvotes"]
        assert t.comments == item["numComments"]
        assert t.paper.title == " ".join(paper["title"].split())
        assert t.paper.abstract == " ".join(paper["summary"].split())
        assert t.paper.authors == tuple(a["name"] for a in paper["authors"])
        assert t.ai_summary == paper["ai_summary"]
        assert t.ai_keywords == tuple(paper["ai_keywords"])
        assert t.paper.link == f"https://arxiv.org/abs/{paper['id']}"
        assert t.paper.categories == ()
    # The page's day is when Hugging Face featured them; announced is arXiv's day.
    assert {t.day for t in parsed} == {date(2026, 6, 12)}
    first = parsed[0]
    assert (first.paper.id, first.paper.announced) == ("2606.00467", date(2026, 5, 30))


def test_rank_is_by_upvotes_then_comments_then_page_order() -> None:
    parsed = parse_hf_daily(FIXTURE.read_bytes())
    by_rank = sorted(parsed, key=lambda t: t.rank)
    assert [t.rank for t in by_rank] == list(range(1, 31))
    assert [(t.paper.id, t.upvotes) for t in by_rank[:3]] == [
        ("2606.13681", 118),
        ("2606.13392", 103),
        ("2606.08063", 74),
    ]
    keys = [(-t.upvotes, -t.comments) for t in by_rank]
    assert keys == sorted(keys)
    # Several items have 2 upvotes and 2 comments: they keep their page order.
    ties = [t for t in by_rank if (t.upvotes, t.comments) == (2, 2)]
    positions = [parsed.index(t) for t in ties]
    assert positions == sorted(positions) and len(ties) > 2


def test_versioned_and_prefixed_ids_are_canonical_and_a_repeat_is_kept_once() -> None:
    items = raw()[:3]
    items[0]["paper"]["id"] = "arXiv:2606.00467v2"
    items[1]["paper"]["id"] = "https://arxiv.org/abs/2606.12730"
    repeat = json.loads(json.dumps(items[2]))
    repeat["paper"]["upvotes"] = 0
    parsed = parse_hf_daily(dump([*items, repeat]))
    assert [t.paper.id for t in parsed] == ["2606.00467", "2606.12730", "2606.13594"]
    assert parsed[0].paper.version == 2
    assert parsed[2].upvotes == items[2]["paper"]["upvotes"]  # the first (better) showing


def test_items_without_an_arxiv_id_are_skipped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = raw()[:4]
    items[0]["paper"]["id"] = "not-an-id"
    del items[1]["paper"]
    items[2]["paper"]["id"] = None
    with caplog.at_level(logging.WARNING, logger="paperboy.jobs.fetch.sources.huggingface"):
        parsed = parse_hf_daily(dump([*items, "junk", 5]))
    assert [t.paper.id for t in parsed] == [items[3]["paper"]["id"]]
    assert parsed[0].rank == 1
    assert "skipped 5" in caplog.text


def test_missing_and_odd_fields_do_not_lose_the_paper() -> None:
    item = {
        "paper": {
            "id": "2606.13681",
            "upvotes": "many",  # not a number: counts as 0
            "authors": [{"name": "  Ada   Lovelace "}, {"_id": "x"}, "Alan Turing", {"name": ""}],
            "ai_keywords": ["agents", 3, "  "],
            "publishedAt": "not a date",
        },
        "title": "EvoArena:\n  Tracking Memory",
        "summary": "From the item, since paper.summary is missing.",
        "numComments": None,
    }
    [t] = parse_hf_daily(dump([item]))
    assert t.paper.title == "EvoArena: Tracking Memory"
    assert t.paper.abstract == "From the item, since paper.summary is missing."
    assert t.paper.authors == ("Ada Lovelace",)
    assert (t.upvotes, t.comments, t.ai_keywords, t.ai_summary) == (0, 0, ("agents",), None)
    assert (t.day, t.paper.announced) == (None, None)  # the fetch job dates it


def test_an_empty_day_is_no_papers() -> None:
    assert parse_hf_daily(b"[]\n") == []


def test_non_utf8_bytes_are_read_as_latin1_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    items = raw()[:2]
    items[0]["paper"]["authors"][0]["name"] = "Ren\u00e9 Fran\u00e7ois"
    data = dump(items).replace(b"\\u00e9", b"\xe9").replace(b"\\u00e7", b"\xe7")
    assert b"\xe9" in data
    with caplog.at_level(logging.WARNING, logger="paperboy.jobs.fetch.sources.huggingface"):
        parsed = parse_hf_daily(data)
    assert parsed[0].paper.authors[0] == "Ren\u00e9 Fran\u00e7ois"
    assert len(parsed) == 2
    assert "not valid UTF-8" in caplog.text


def test_utf8_with_bom_and_real_unicode() -> None:
    items = raw()[:1]
    items[0]["paper"]["title"] = "Schr\u00f6dinger bridges for \u03b1-divergences \u2014 \U0001f680"
    data = "\ufeff".encode() + json.dumps(items, ensure_ascii=False).encode("utf-8")
    [t] = parse_hf_daily(data)
    assert t.paper.title == items[0]["paper"]["title"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "empty response"),
        (b"  \n", "empty response"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
        (b'{"error": "Invalid date"}', "API error.*Invalid date"),
        (b'{"papers": []}', "JSON dict, not an array"),
        (b'"daily"', "JSON str"),
        (b"[1, 2, 3]", "none of the 3 items"),
        (b'[{"title": "no paper object"}]', "none of the 1 items"),
        (b"not json at all", "not valid JSON"),
    ],
)
def test_what_is_not_a_daily_papers_answer_raises(body: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match) as caught:
        parse_hf_daily(body, url="https://huggingface.co/api/daily_papers")
    assert "huggingface.co" in str(caught.value)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_a_truncated_answer_raises(fraction: float) -> None:
    data = FIXTURE.read_bytes()
    with pytest.raises(ParseError, match="not valid JSON"):
        parse_hf_daily(data[: int(len(data) * fraction)])


def test_thousands_of_items_and_authors() -> None:
    template = raw()[0]
    items = []
    for n in range(3000):
        item = json.loads(json.dumps(template))
        item["paper"]["id"] = f"2606.{n + 1:05d}"
        item["paper"]["upvotes"] = n % 97
        items.append(item)
    items[0]["paper"]["authors"] = [{"name": f"Author {k}"} for k in range(5000)]
    parsed = parse_hf_daily(dump(items))
    assert len(parsed) == 3000
    assert len(parsed[0].paper.authors) == 5000
    assert sorted(t.rank for t in parsed) == list(range(1, 3001))


def test_looks_like_hf_daily() -> None:
    assert looks_like_hf_daily(FIXTURE.read_bytes())
    assert looks_like_hf_daily(b'  [{"paper": {"id": "2606.13681"}}]')
    assert not looks_like_hf_daily(b"[]")
    assert not looks_like_hf_daily(b'["body"]')
    assert not looks_like_hf_daily(b'{"url": "u", "body": "[]"}')
    assert not looks_like_hf_daily(b"<?xml version='1.0'?><rss/>")
    assert not looks_like_hf_daily(b"[{broken")
