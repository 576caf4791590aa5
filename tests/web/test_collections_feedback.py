"""Feedback for a user with collections (issue #23): More/Less like this act on the
collection the paper was shown in (the signed token names it); a token without one (as
every token mailed before collections) acts on the top-level lists; Undo goes back in the
same collection; the profile page shows and edits each collection. Served for real and
driven over HTTP, like tests/web/test_app.py."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from typing import Any

import httpx
from itsdangerous import URLSafeSerializer

from paperboy.emails.digest import Digest, DigestItem
from paperboy.jobs.config.load import load_config
from paperboy.jobs.web.links import add_feedback_links
from paperboy.jobs.web.tokens import Signer
from tests.web.conftest import KEY, Site
from tests.web.test_app import click, csrf_of, undo_link

COLLECTIONS = """\
[[users.collections]]
name = "rl"
# reinforcement learning, kept apart
saved = ["2401.00002"]
keywords = ["policy gradients"]

[[users.collections]]
name = "bio"

"""


def with_collections(site: Site) -> None:
    text = site.text().replace('[[users]]\nname = "bob"', COLLECTIONS + '[[users]]\nname = "bob"')
    site.config_path.write_text(text, encoding="utf-8")
    assert [c.name for c in load_config(site.config_path).user("ada").collections] == [
        "rl",
        "bio",
    ]


def ada(site: Site) -> dict[str, Any]:
    users: list[dict[str, Any]] = tomllib.loads(site.text())["users"]
    return users[0]


def collection(site: Site, name: str) -> dict[str, Any]:
    [found] = [c for c in ada(site)["collections"] if c["name"] == name]
    return found


def test_the_digest_links_carry_the_section_of_the_paper(site: Site) -> None:
    def item(pid: str, where: str) -> DigestItem:
        return DigestItem(
            pid, "t", "a", (), (), 0.5, "why", f"https://arxiv.org/abs/{pid}", collection=where
        )

    digest = Digest(
        user_name="ada",
        to=("ada@example.org",),
        sender="Paperboy <p@example.org>",
        day=date(2026, 7, 1),
        items=(item("2401.00003", "bio"), item("2401.00004", "")),
        considered=2,
        created_at=datetime(2026, 7, 1, tzinfo=UTC),
        sections=("", "bio"),
    )
    linked = add_feedback_links(digest, site.config, datetime.now(UTC))
    signer = Signer(KEY)
    for it, where in zip(linked.items, ("bio", ""), strict=True):
        assert it.more_url and it.less_url
        more = signer.read(it.more_url.rsplit("/", 1)[1], "like")
        less = signer.read(it.less_url.rsplit("/", 1)[1], "dislike")
        assert more.collection == less.collection == where
        assert more.paper == it.paper_id


def test_more_like_this_saves_into_the_collection_it_was_shown_in(site: Site) -> None:
    with_collections(site)
    before = site.text()
    page = httpx.get(site.link("like", "like", paper="2401.00003", collection="bio"))
    assert "goes into your saved papers of your collection bio" in page.text
    done = click(site.link("like", "like", paper="2401.00003", collection="bio"))
    assert done.status_code == 200, done.text
    assert "is now in your saved papers of your collection bio" in done.text
    assert collection(site, "bio")["saved"] == ["2401.00003"]
    assert ada(site)["saved"] == ["2401.00001"]  # the top-level lists: untouched
    assert "# reinforcement learning, kept apart" in site.text()

    undone = click(undo_link(site, done.text))
    assert undone.status_code == 200 and "Undone" in undone.text
    # as everywhere, the emptied key stays: `saved = []`
    assert site.text() == before.replace('name = "bio"\n', 'name = "bio"\nsaved = []\n')


def test_less_like_this_in_a_collection_moves_its_saved_paper(site: Site) -> None:
    with_collections(site)
    done = click(site.link("dislike", "dislike", paper="2401.00002", collection="rl"))
    assert done.status_code == 200, done.text
    rl = collection(site, "rl")
    assert rl["saved"] == [] and rl["disliked"] == ["2401.00002"]
    assert ada(site)["disliked"] == []


def test_a_token_without_a_collection_acts_on_the_top_level_lists(site: Site) -> None:
    """A link mailed before collections existed: its payload has no "c"."""
    with_collections(site)
    old = URLSafeSerializer(KEY, salt="paperboy.web.like").dumps(
        {
            "a": "like",
            "u": "ada",
            "x": int(datetime.now(UTC).timestamp()) + 86400,
            "p": "2401.00003",
        }
    )
    assert Signer(KEY).read(old, "like").collection == ""
    done = click(f"{site.url}/like/{old}")
    assert done.status_code == 200, done.text
    assert ada(site)["saved"] == ["2401.00001", "2401.00003"]
    assert "saved" not in collection(site, "bio")


def test_a_link_to_a_collection_that_is_gone_changes_nothing(site: Site) -> None:
    with_collections(site)
    before = site.text()
    page = httpx.get(site.link("like", "like", paper="2401.00003", collection="gone"))
    done = httpx.post(
        site.link("like", "like", paper="2401.00003", collection="gone"),
        data={"csrf": csrf_of(page.text)},
    )
    assert done.status_code == 409
    assert site.text() == before


def test_the_profile_page_shows_and_edits_each_collection(site: Site) -> None:
    with_collections(site)
    profile = site.link("p", "profile")
    page = httpx.get(profile).text
    assert "Your main lists" in page and "Collection rl" in page and "Collection bio" in page
    assert "Bandits with" in page  # rl's saved paper, with its title
    assert "policy gradients" in page
    assert (
        page.index("Collection rl") < page.index("policy gradients") < page.index("Collection bio")
    )
    assert 'name="collection" value="rl"' in page
    csrf = csrf_of(page)

    def post(**data: str) -> httpx.Response:
        return httpx.post(profile, data={"csrf": csrf, **data})

    r = post(op="add", key="keywords", value="protein design", collection="bio")
    assert r.status_code == 200 and "added to your keywords of your collection bio" in r.text
    assert collection(site, "bio")["keywords"] == ["protein design"]
    assert ada(site)["keywords"] == ["bandits"]
    r = post(op="remove", key="saved", value="2401.00002", collection="rl")
    assert r.status_code == 200 and collection(site, "rl")["saved"] == []
    undone = click(undo_link(site, r.text))
    assert "is in your saved papers again" in undone.text
    assert collection(site, "rl")["saved"] == ["2401.00002"]
    before = site.text()
    assert post(op="add", key="keywords", value="x", collection="nope").status_code == 400
    assert site.text() == before


def test_a_user_without_collections_sees_the_page_as_before(site: Site) -> None:
    page = httpx.get(site.link("p", "profile")).text
    assert "Your main lists" not in page and "Collection " not in page
    assert 'name="collection"' not in page
