"""Counting the papers a user opens from a digest (issue #21 item 5): GET /open/T records
the click and redirects to arXiv; off by default, when a digest's links are arXiv's own.

The app is driven in-process with Starlette's TestClient (redirects not followed), over
the web tests' Paperboy (tests/web/conftest.py): real SQLite, real config file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from paperboy.emails.digest import Digest, DigestItem
from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.schema import clicks
from paperboy.jobs.web.app import create_app
from paperboy.jobs.web.links import add_feedback_links
from paperboy.jobs.web.tokens import Signer
from tests.web.conftest import KEY, NOW, Clock


@dataclasses.dataclass
class App:
    client: TestClient
    storage: Storage
    signer: Signer
    clock: Clock

    def open_link(self, paper: str, link: str, user: str = "ada", **kw: object) -> str:
        days = kw.pop("days", 60)
        token = self.signer.make(
            "open",
            user,
            days=days,  # type: ignore[arg-type]
            paper=paper,
            link=link,
            **kw,  # type: ignore[arg-type]
        )
        return f"/open/{token}"

    def rows(self) -> list[tuple[str, str, str, str]]:
        with self.storage.engine.connect() as conn:
            found = conn.execute(
                select(clicks.c.user_name, clicks.c.paper_id, clicks.c.link, clicks.c.collection)
            ).all()
        return sorted((r.user_name, r.paper_id, r.link, r.collection) for r in found)


@pytest.fixture
def app(paperboy_dir: Path) -> Iterator[App]:
    config = load_config(paperboy_dir / "config.toml")
    clock = Clock()
    with Storage.open(config.database) as storage:
        web = create_app(config, storage, secret=KEY, now=clock)
        with TestClient(web, follow_redirects=False) as client:
            yield App(client, storage, Signer(KEY, now=clock), clock)


def test_a_click_is_recorded_and_redirected_to_the_papers_arxiv_page(app: App) -> None:
    r = app.client.get(app.open_link("2401.00002", "abs"))
    assert r.status_code == 302
    assert r.headers["location"] == "https://arxiv.org/abs/2401.00002"
    r = app.client.get(app.open_link("2401.00002", "pdf", collection="theory"))
    assert r.status_code == 302
    assert r.headers["location"] == "https://arxiv.org/pdf/2401.00002"
    assert app.rows() == [
        ("ada", "2401.00002", "abs", ""),
        ("ada", "2401.00002", "pdf", "theory"),
    ]
    assert app.storage.clicked_papers("ada") == ["2401.00002"]


def test_a_second_click_on_the_same_link_is_not_a_second_row(app: App) -> None:
    link = app.open_link("2401.00003", "abs")
    first = app.client.get(link)
    app.clock.advance(timedelta(hours=1))
    second = app.client.get(link)
    assert first.status_code == second.status_code == 302
    assert app.rows() == [("ada", "2401.00003", "abs", "")]
    with app.storage.engine.connect() as conn:
        when = conn.execute(select(clicks.c.clicked_at)).scalar_one()
    assert when == NOW  # the first click's time stays


def test_a_head_request_redirects_without_recording(app: App) -> None:
    r = app.client.head(app.open_link("2401.00002", "abs"))
    assert r.status_code == 302
    assert app.rows() == []


@pytest.mark.parametrize(
    "make",
    [
        lambda a: "/open/not-a-token",
        lambda a: a.open_link("2401.00002", "abs")[:-3] + "xyz",  # tampered
        # a valid token of another action: a "like" never opens anything
        lambda a: "/open/" + a.signer.make("like", "ada", days=1, paper="2401.00002"),
    ],
    ids=["garbage", "tampered", "another-action"],
)
def test_a_bad_link_gets_a_clear_400_and_nothing_is_recorded(app: App, make: object) -> None:
    r = app.client.get(make(app))  # type: ignore[operator]
    assert r.status_code == 400
    assert "Nothing was recorded" in r.text
    assert "location" not in r.headers
    assert app.rows() == []


def test_an_expired_link_is_refused_but_still_says_where_the_paper_is(app: App) -> None:
    link = app.open_link("2401.00002", "pdf", days=1)
    app.clock.advance(timedelta(days=2))
    r = app.client.get(link)
    assert r.status_code == 400
    assert "expired" in r.text
    assert 'href="https://arxiv.org/pdf/2401.00002"' in r.text
    assert app.rows() == []


def test_a_signed_out_or_unknown_users_link_records_nothing(app: App) -> None:
    stale = app.open_link("2401.00002", "abs")
    app.storage.revoke_links("ada")
    assert app.client.get(stale).status_code == 403
    assert app.client.get(app.open_link("2401.00002", "abs", user="eve")).status_code == 403
    assert app.rows() == []


def test_the_redirect_goes_to_arxiv_only_whatever_the_request_says(app: App) -> None:
    link = app.open_link("2401.00002", "abs")
    r = app.client.get(link + "?next=https://evil.example/", headers={"Host": "evil.example"})
    assert r.status_code == 302
    assert r.headers["location"] == "https://arxiv.org/abs/2401.00002"
    # A token can only name a link kind the app knows: no other URL can be signed in.
    with pytest.raises(ValueError):
        app.signer.make("open", "ada", days=1, paper="2401.00002", link="https://evil.example")


# --- the digest's links ---------------------------------------------------------------------


def digest() -> Digest:
    item = DigestItem(
        paper_id="2401.00002",
        title="Bandits",
        abstract="Regret bounds.",
        authors=("B. Author",),
        categories=("cs.LG",),
        score=0.9,
        why="matches: bandit",
        abs_url="https://arxiv.org/abs/2401.00002",
        pdf_url="https://arxiv.org/pdf/2401.00002",
        collection="theory",
    )
    return Digest(
        user_name="ada",
        to=("ada@example.org",),
        sender="Paperboy <paperboy@example.org>",
        day=date(2026, 12, 4),
        items=(item,),
        considered=3,
        created_at=NOW,
    )


def config_with(paperboy_dir: Path, extra: str) -> Config:
    path = paperboy_dir / "config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[web]\n", f"[web]\n{extra}"), encoding="utf-8")
    return load_config(path)


def test_off_by_default_the_digest_links_are_arxivs_own(paperboy_dir: Path) -> None:
    config = load_config(paperboy_dir / "config.toml")
    assert config.web.count_clicks is False
    [item] = add_feedback_links(digest(), config, NOW).items
    assert item.abs_url == "https://arxiv.org/abs/2401.00002"
    assert item.pdf_url == "https://arxiv.org/pdf/2401.00002"
    assert item.more_url and "/like/" in item.more_url  # the other links as before


def test_on_the_digest_links_go_through_open_and_lead_to_the_paper(
    paperboy_dir: Path, app: App
) -> None:
    config = config_with(paperboy_dir, "count_clicks = true\n")
    [item] = add_feedback_links(digest(), config, NOW).items
    base = "https://paperboy.example.org/open/"
    assert item.abs_url.startswith(base) and item.pdf_url and item.pdf_url.startswith(base)
    for url, target in [
        (item.abs_url, "https://arxiv.org/abs/2401.00002"),
        (item.pdf_url, "https://arxiv.org/pdf/2401.00002"),
    ]:
        r = app.client.get(url.removeprefix("https://paperboy.example.org"))
        assert r.status_code == 302 and r.headers["location"] == target
    assert app.rows() == [
        ("ada", "2401.00002", "abs", "theory"),
        ("ada", "2401.00002", "pdf", "theory"),
    ]


def test_counting_clicks_needs_a_base_url(paperboy_dir: Path) -> None:
    path = paperboy_dir / "config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('base_url = "https://paperboy.example.org"', "count_clicks = true"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"count_clicks needs web\.base_url"):
        load_config(path)
