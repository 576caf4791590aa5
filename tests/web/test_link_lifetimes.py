"""How long a link works, and how a user stops them all (issue #20 item 10).

A page's links (its profile link, its Undo) never outlive the mailed link the page came
from; "Sign out all links" on the profile page refuses every earlier link of that user
and no other's; an unsubscribe link keeps unsubscribing (RFC 8058 one-click) for as long
as the mail can be read.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import httpx

from paperboy.emails.digest import Digest
from paperboy.jobs.config.load import load_config
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.web.links import add_feedback_links
from tests.web.conftest import NOW, Site
from tests.web.test_app import click, csrf_of, undo_link

PROFILE_HREF = re.compile(r'href="\.\./p/([^"]+)"')


def profile_link(site: Site, page: str) -> str:
    match = PROFILE_HREF.search(page)
    assert match, page
    return f"{site.url}/p/{match.group(1)}"


def digest_links(site: Site, user: str = "ada") -> Digest:
    """The links a digest made now carries (with [web] token_days = 60)."""
    config = load_config(site.config_path)
    plain = Digest(
        user_name=user,
        to=(f"{user}@example.org",),
        sender="Paperboy <paperboy@example.org>",
        day=date(2026, 7, 1),
        items=(),
        considered=0,
        created_at=site.clock.now,
    )
    made = add_feedback_links(plain, config, site.clock.now, epoch=site.storage.link_epoch(user))
    # The digest's links name the public base_url; the test server is on loopback.
    base = config.web.base_url or ""

    def here(url: str | None) -> str | None:
        return None if url is None else url.replace(base, site.url)

    return replace(
        made,
        unsubscribe_url=here(made.unsubscribe_url),
        pause_url=here(made.pause_url),
        profile_url=here(made.profile_url),
    )


def test_a_forwarded_link_cannot_be_refreshed_past_its_expiry(site: Site) -> None:
    like = site.link("like", "like", paper="2401.00003", days=60)
    site.clock.advance(timedelta(days=59))
    done = click(like)
    assert done.status_code == 200
    profile = profile_link(site, done.text)
    undo = undo_link(site, done.text)
    page = httpx.get(profile)
    assert page.status_code == 200
    # An edit on that profile page: its Undo is bound by the same expiry.
    edited = httpx.post(
        profile, data={"csrf": csrf_of(page.text), "op": "add", "key": "muted", "value": "x"}
    )
    profile_undo = undo_link(site, edited.text)
    site.clock.advance(timedelta(days=1))  # the mailed link's 60 days are over
    for link in (like, profile, undo, profile_undo):
        got = httpx.get(link)
        assert got.status_code == 403 and "expired" in got.text, link
    # A page opened in the last minute offers no link that outlives it.
    late = site.link("like", "like", paper="2401.00002", days=60)
    site.clock.advance(timedelta(days=60) - timedelta(seconds=30))
    done = click(late)
    site.clock.advance(timedelta(seconds=31))
    assert httpx.get(profile_link(site, done.text)).status_code == 403


def test_sign_out_refuses_every_earlier_link_of_that_user_only(site: Site) -> None:
    mailed = digest_links(site)
    ada = {
        "like": site.link("like", "like", paper="2401.00003"),
        "dislike": site.link("dislike", "dislike", paper="2401.00003"),
        "pause": site.link("pause", "pause"),
        "unsubscribe": site.link("u", "unsubscribe"),
        "undo": site.link("undo", "undo", state="resume"),
        "profile": site.link("p", "profile"),
        "mailed unsubscribe": mailed.unsubscribe_url or "",
        "mailed profile": mailed.profile_url or "",
    }
    bob = [site.link("p", "profile", user="bob"), site.link("u", "unsubscribe", user="bob")]
    assert all(httpx.get(link).status_code == 200 for link in [*ada.values(), *bob])

    page = httpx.get(ada["profile"])
    assert "Sign out all links" in page.text
    out = httpx.post(ada["profile"], data={"csrf": csrf_of(page.text), "op": "signout"})
    assert out.status_code == 200 and "Signed out" in out.text
    assert "../p/" not in out.text  # no new link from the page that signed them out

    for name, link in ada.items():
        got = httpx.get(link)
        assert got.status_code == 403 and "signed out" in got.text, name
        one_click = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 403, name
    assert site.storage.user_state("ada").unsubscribed_at is None
    assert all(httpx.get(link).status_code == 200 for link in bob)

    # The next digest's links work: they carry the new epoch.
    fresh = digest_links(site)
    assert httpx.get(fresh.profile_url or "").status_code == 200
    [result] = run_digests(
        load_config(site.config_path), site.storage, users=["ada"], now=NOW, dry_run=True
    )
    assert result.message is not None
    token = str(result.message["List-Unsubscribe"]).split("/u/")[1].split(">")[0]
    assert httpx.get(f"{site.url}/u/{token}").status_code == 200


def test_a_two_year_old_unsubscribe_link_still_unsubscribes(site: Site) -> None:
    old = digest_links(site)
    old_like = site.link("like", "like", paper="2401.00003", days=60)
    site.clock.advance(timedelta(days=730))
    assert httpx.get(old_like).status_code == 403  # only unsubscribing outlives the mail
    assert httpx.get(old.profile_url or "").status_code == 403
    link = old.unsubscribe_url or ""
    one_click = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert site.storage.user_state("ada").unsubscribed_at == site.clock.now
    assert site.storage.user_state("bob").unsubscribed_at is None


def test_an_old_unsubscribe_page_can_be_undone_but_leads_nowhere_else(site: Site) -> None:
    link = digest_links(site).unsubscribe_url or ""
    site.clock.advance(timedelta(days=400))
    done = click(link)
    assert done.status_code == 200 and "no more digests" in done.text
    assert "../p/" not in done.text  # its profile link would outlive the mail
    undone = click(undo_link(site, done.text))  # a mistaken click can be taken back
    assert undone.status_code == 200 and "come again" in undone.text
    assert site.storage.user_state("ada").unsubscribed_at is None
    assert "../p/" not in undone.text
    # An old link gives no Undo when it changed nothing: it cannot re-subscribe someone
    # who left some other way.
    site.storage.set_unsubscribed("ada", True)
    again = click(link)
    assert "already unsubscribed" in again.text and "../undo/" not in again.text
