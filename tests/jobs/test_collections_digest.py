"""A user with collections (issue #23) through the real pipeline: the bundled listings in
a real database, the real ranker (one model per collection), a real SMTP server. The
digest has one section per collection, each paper once, in the collection whose model
scores it highest, each section within its own max_papers; its reasons name the
collection, and the Atom feed carries the section."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import feedparser
import pytest

from paperboy.emails.digest import DEFAULT_SECTION
from paperboy.jobs.config.model import Config
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.ranking.candidates import candidates_for, rank_for
from paperboy.jobs.storage import Storage
from paperboy.jobs.web.feed import build_feed
from tests.jobs.test_pipeline import NOW, SAVED, config_for, load_sample, parts
from tests.smtp_server import LocalSMTPServer

VISION = [r.id for r in SAVED if r.categories[0] == "cs.CV"]
REASONING = [r.id for r in SAVED if r.id not in VISION]


@pytest.fixture
def smtp() -> Iterator[LocalSMTPServer]:
    with LocalSMTPServer() as server:
        yield server


def two_collections(tmp_path: Path, database_url: str, port: int) -> Config:
    config = config_for(
        tmp_path,
        database_url,
        port,
        extra=(
            "\n[[users.collections]]\n"
            'name = "vision"\n'
            f"saved = [{', '.join(repr(i).replace(chr(39), chr(34)) for i in VISION)}]\n"
            "max_papers = 3\n"
            "\n[[users.collections]]\n"
            'name = "agents"\n'
            'keywords = ["multi-agent", "tool use", "agents"]\n'
            "max_papers = 2\n"
        ),
    )
    # the top level (the default collection) keeps the reasoning papers only
    [ada] = config.users
    return replace(config, users=(replace(ada, saved=tuple(REASONING)),))


def test_two_collections_give_a_digest_in_sections(
    tmp_path: Path, database_url: str, smtp: LocalSMTPServer
) -> None:
    assert len(VISION) == 4 and len(REASONING) == 8
    config = two_collections(tmp_path, database_url, smtp.port)
    [ada] = config.users
    assert [c.name for c in ada.collections] == ["vision", "agents"]
    with Storage.open(config.database) as storage:
        load_sample(storage)
        candidates = candidates_for(storage, ada)
        assert not {p.id for p in candidates} & {r.id for r in SAVED}
        # each collection's own model, ranked alone, is what the digest compares
        alone = {
            name: {
                r.paper.id: r.score
                for r in rank_for(config, storage, ada, candidates, collection=name)
            }
            for name in ("", "vision", "agents")
        }
        [result] = run_digests(config, storage, now=NOW)
        assert result.status == "sent", result.error
        sent = storage.sent_digests("ada", limit=1)

    picked = [r.paper.id for r in result.picked]
    assert len(picked) == len(set(picked))  # each paper at most once
    section_of = {
        r.paper.id: (
            r.why.split(":")[0].removeprefix("for your collection ")
            if r.why.startswith("for your collection ")
            else ""
        )
        for r in result.picked
    }
    counts = {
        name: sum(1 for s in section_of.values() if s == name) for name in ("", "vision", "agents")
    }
    assert 1 <= counts[""] <= 8 and 1 <= counts["vision"] <= 3 and 1 <= counts["agents"] <= 2
    for r in result.picked:
        home = section_of[r.paper.id]
        assert r.score == pytest.approx(alone[home][r.paper.id])
        for other in alone:  # shown in the collection whose model scores it highest
            assert alone[home][r.paper.id] >= alone[other][r.paper.id] - 1e-9, (
                r.paper.id,
                home,
                other,
            )

    [message] = smtp.messages
    text, html = parts(message)
    general = text.index(f"{DEFAULT_SECTION} · {counts['']} paper")
    vision = text.index(f"vision · {counts['vision']} paper")
    agents = text.index(f"agents · {counts['agents']} paper")
    assert general < vision < agents
    for pid, home in section_of.items():
        at = text.index(f"https://arxiv.org/abs/{pid}")
        start = {"": general, "vision": vision, "agents": agents}[home]
        assert start < at
        assert all(at < later for later in (vision, agents) if later > start)
    assert 'class="section-heading"' in html and "vision · " in html
    assert "Why: for your collection vision: " in text

    body, _updated = build_feed(config, "ada", sent, "https://p.example.org/feed/T")
    feed = feedparser.parse(body)
    assert not feed.bozo
    terms = {
        e.id: {t.term for t in e.tags if t.term.startswith("collection:")} for e in feed.entries
    }
    assert len(feed.entries) == len(picked)
    assert sorted(len(t) for t in terms.values()).count(1) == counts["vision"] + counts["agents"]
    assert {t for ts in terms.values() for t in ts} == {"collection:vision", "collection:agents"}
