"""The feedback pages, served for real (uvicorn on loopback) and driven over HTTP with httpx.

Every refusal is checked twice: the status, and that nothing changed (the config file's
bytes and the user's state in the database).
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.web.app import MAX_BODY, PAUSE, SECURITY_HEADERS
from paperboy.jobs.web.tokens import Signer
from tests.web.conftest import NOW, Site

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]*)"')


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page
    return match.group(1)


def click(link: str, **headers: str) -> httpx.Response:
    """What a person does: open the link, press the page's button."""
    page = httpx.get(link)
    assert page.status_code == 200, page.text
    return httpx.post(link, data={"csrf": csrf_of(page.text)}, headers=headers)


def undo_link(site: Site, page: str) -> str:
    """The Undo form's URL, resolved like a browser does against the page's URL."""
    actions = [a for a in FORM_ACTION.findall(page) if a.startswith("../undo/")]
    assert actions, page
    return f"{site.url}/{actions[0].removeprefix('../')}"


def ada(site: Site) -> dict[str, Any]:
    users: list[dict[str, Any]] = tomllib.loads(site.text())["users"]
    return users[0]


def bob(site: Site) -> dict[str, Any]:
    users: list[dict[str, Any]] = tomllib.loads(site.text())["users"]
    return users[1]


def state(site: Site, user: str = "ada") -> tuple[object, object]:
    s = site.storage.user_state(user)
    return s.unsubscribed_at, s.paused_until


# --- the loop: link -> page -> button -> done -> undo ----------------------------------------


def test_a_get_only_shows_what_will_happen(site: Site) -> None:
    before = site.text()
    for path, action in [("like", "like"), ("dislike", "dislike")]:
        page = httpx.get(site.link(path, action, paper="2401.00003"))
        assert page.status_code == 200
        assert "Protein folding at scale" in page.text
        assert '<form method="post"' in page.text
    for path, action in [("pause", "pause"), ("u", "unsubscribe"), ("p", "profile")]:
        assert httpx.get(site.link(path, action)).status_code == 200
        assert httpx.head(site.link(path, action)).status_code == 200
    assert httpx.head(site.link("like", "like", paper="2401.00003")).status_code == 200
    assert site.text() == before  # mail scanners follow links: a GET changes nothing
    assert state(site) == (None, None)


def test_more_like_this_saves_the_paper_and_undo_gives_the_file_back(site: Site) -> None:
    before = site.text()
    done = click(site.link("like", "like", paper="2401.00003"))
    assert done.status_code == 200
    assert "is now in your saved papers" in done.text
    assert ada(site)["saved"] == ["2401.00001", "2401.00003"]
    assert "# graph networks, kept by hand" in site.text()
    assert "# a comment that must survive" in site.text()
    assert bob(site)["saved"] == []

    undone = click(undo_link(site, done.text))
    assert undone.status_code == 200 and "Undone" in undone.text
    assert site.text() == before


def test_less_like_this_moves_a_saved_paper_to_disliked_and_undo_moves_it_back(
    site: Site,
) -> None:
    before = site.text()
    done = click(site.link("dislike", "dislike", paper="2401.00001"))
    assert done.status_code == 200
    assert ada(site)["saved"] == [] and ada(site)["disliked"] == ["2401.00001"]
    click(undo_link(site, done.text))
    assert ada(site)["saved"] == ["2401.00001"] and ada(site)["disliked"] == []
    # (the line's comment went with the removed line, as with `paperboy profile`)
    assert "# a comment that must survive" in site.text()
    assert load_config(site.config_path).user("ada").saved == ("2401.00001",)
    assert before.count("2401.00001") == site.text().count("2401.00001")


def test_a_replayed_like_is_idempotent(site: Site) -> None:
    link = site.link("like", "like", paper="2401.00003")
    first = click(link)
    after_first = site.text()
    again = click(link)
    assert again.status_code == 200 and "was already in your saved papers" in again.text
    assert "../undo/" not in again.text  # nothing changed, nothing to undo
    assert site.text() == after_first
    assert ada(site)["saved"].count("2401.00003") == 1
    # The same form posted twice (a double click) is just as harmless.
    page = httpx.get(link)
    for _ in range(2):
        assert httpx.post(link, data={"csrf": csrf_of(page.text)}).status_code == 200
    assert site.text() == after_first
    assert "is now in your saved papers" in first.text


# --- bad tokens: 403, nothing changes -----------------------------------------------------


def _tamper(token: str) -> str:
    """Change one character of the signed payload (not the signature)."""
    payload, _, signature = token.partition(".")
    i = len(payload) // 2
    swapped = "A" if payload[i] != "A" else "B"
    return f"{payload[:i]}{swapped}{payload[i + 1 :]}.{signature}"


def bad_links(site: Site) -> dict[str, str]:
    forged = Signer("another-key-that-is-long-enough-0123456789")
    like = site.signer.make("like", "ada", days=60, paper="2401.00003")
    expired = site.signer.make("like", "ada", days=1, paper="2401.00003")
    site.clock.advance(timedelta(days=1, seconds=1))
    return {
        "forged": f"{site.url}/like/{forged.make('like', 'ada', days=60, paper='2401.00003')}",
        "tampered": f"{site.url}/like/{_tamper(like)}",
        "expired": f"{site.url}/like/{expired}",
        "like token as dislike": f"{site.url}/dislike/{like}",
        "like token as unsubscribe": f"{site.url}/u/{like}",
        "like token as profile": f"{site.url}/p/{like}",
        "profile token as pause": f"{site.url}/pause/{site.signer.make('profile', 'ada', days=60)}",
        "unknown user": site.link("like", "like", user="mallory", paper="2401.00003"),
        "garbage": f"{site.url}/like/not-a-token",
        "unsigned": f"{site.url}/like/{like.partition('.')[0]}",
    }


def test_forged_tampered_expired_and_misused_tokens_are_refused(site: Site) -> None:
    before = site.text()
    links = bad_links(site)
    for name, link in links.items():
        token = link.rsplit("/", 1)[1]
        got = httpx.get(link)
        assert got.status_code == 403, name
        assert "Nothing was changed" in got.text
        # Even with the right CSRF value for that token, a POST does nothing.
        posted = httpx.post(link, data={"csrf": site.signer.csrf(token)})
        assert posted.status_code == 403, name
        one_click = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 403, name
    assert site.text() == before
    assert state(site) == (None, None) and state(site, "bob") == (None, None)


def test_an_expired_link_says_so(site: Site) -> None:
    link = site.link("like", "like", paper="2401.00003", days=60)
    site.clock.advance(timedelta(days=60))
    got = httpx.get(link)
    assert got.status_code == 403 and "expired" in got.text


def test_a_token_acts_only_for_its_own_user(site: Site) -> None:
    link = site.link("like", "like", user="bob", paper="2401.00003")
    page = httpx.get(link)
    # A form field naming another user is not read: the user comes from the token alone.
    done = httpx.post(link, data={"csrf": csrf_of(page.text), "user": "ada"})
    assert done.status_code == 200
    assert bob(site)["saved"] == ["2401.00003"]
    assert ada(site)["saved"] == ["2401.00001"]
    # ada's profile page cannot edit bob: its form has no user, and bob's CSRF is not ada's.
    ada_profile = site.link("p", "profile")
    bob_page = httpx.get(site.link("p", "profile", user="bob"))
    refused = httpx.post(
        ada_profile,
        data={
            "csrf": csrf_of(bob_page.text),
            "op": "remove",
            "key": "saved",
            "value": "2401.00001",
        },
    )
    assert refused.status_code == 403
    assert ada(site)["saved"] == ["2401.00001"]


# --- CSRF ---------------------------------------------------------------------------------


def test_a_post_without_the_pages_csrf_value_is_refused(site: Site) -> None:
    before = site.text()
    link = site.link("like", "like", paper="2401.00003")
    other = site.link("like", "like", paper="2401.00002")
    other_csrf = csrf_of(httpx.get(other).text)
    assert httpx.post(link).status_code == 403
    assert httpx.post(link, data={"csrf": ""}).status_code == 403
    assert httpx.post(link, data={"csrf": "0" * 64}).status_code == 403
    assert httpx.post(link, data={"csrf": other_csrf}).status_code == 403
    assert site.text() == before


def test_a_cross_site_post_is_refused_even_with_the_csrf_value(site: Site) -> None:
    before = site.text()
    link = site.link("like", "like", paper="2401.00003")
    csrf = csrf_of(httpx.get(link).text)
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "https://paperboy.example.org.evil.example"},
    ):
        assert httpx.post(link, data={"csrf": csrf}, headers=headers).status_code == 403, headers
    assert site.text() == before
    # Our own page's POST: same-origin, and "Origin: null" (our Referrer-Policy makes
    # browsers send that), or our public origin behind the proxy.
    ok = httpx.post(
        link,
        data={"csrf": csrf},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"},
    )
    assert ok.status_code == 200
    assert ada(site)["saved"] == ["2401.00001", "2401.00003"]
    public = httpx.post(
        link, data={"csrf": csrf}, headers={"Origin": "https://paperboy.example.org"}
    )
    assert public.status_code == 200


# --- escaping, headers, redirects, sizes --------------------------------------------------


def test_every_user_string_is_escaped(site: Site) -> None:
    page = httpx.get(site.link("like", "like", paper="2401.00002"))
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert "knapsacks &amp; more" in page.text
    profile = site.link("p", "profile")
    csrf = csrf_of(httpx.get(profile).text)
    added = httpx.post(
        profile,
        data={"csrf": csrf, "op": "add", "key": "muted", "value": '<img src=x onerror="1">'},
    )
    assert added.status_code == 200
    assert "<img src=x" not in added.text and "&lt;img src=x onerror=" in added.text
    click(site.link("like", "like", paper="2401.00002"))
    shown = httpx.get(profile).text
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_security_headers_on_every_response(site: Site) -> None:
    responses = [
        httpx.get(site.link("like", "like", paper="2401.00003")),  # 200
        httpx.get(f"{site.url}/like/forged"),  # 403
        httpx.get(f"{site.url}/nowhere"),  # 404
        httpx.get(f"{site.url}/static/paperboy.css"),
        httpx.post(f"{site.url}/like/x", content=b"x" * (MAX_BODY + 1)),  # 413
    ]
    assert [r.status_code for r in responses] == [200, 403, 404, 200, 413]
    for r in responses:
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (r.url, name)
        csp = r.headers["content-security-policy"]
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "server" not in responses[0].headers
    page = responses[0].text
    assert (
        "<script" not in page
        and "style=" not in page
        and " on" not in page.split("<body>")[1].split("=")[0]
    )


def test_nothing_redirects(site: Site) -> None:
    token = site.signer.make("like", "ada", days=60, paper="2401.00003")
    for path in (
        "//evil.example/",
        "//evil.example",
        "/like",
        f"/like/{token}/",
        "/p/",
        "/static",
        f"/like/{token}?next=https://evil.example",
        "/%2F%2Fevil.example",
    ):
        r = httpx.get(site.url + path, follow_redirects=False)
        assert not r.is_redirect, (path, r.status_code, r.headers.get("location"))
        assert "location" not in r.headers


def test_a_request_over_the_size_limit_gets_413_and_changes_nothing(site: Site) -> None:
    before = site.text()
    link = site.link("like", "like", paper="2401.00003")
    csrf = csrf_of(httpx.get(link).text)
    body = f"csrf={csrf}&pad=" + "x" * MAX_BODY
    big = httpx.post(
        link, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert big.status_code == 413

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield f"csrf={csrf}&pad=".encode()
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024

    chunked = httpx.post(
        link, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413
    assert site.text() == before


# --- unsubscribe and pause ---------------------------------------------------------------


def test_rfc8058_one_click_unsubscribes_without_a_page(site: Site) -> None:
    link = site.link("u", "unsubscribe")
    r = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "<html" not in r.text
    assert site.storage.user_state("ada").unsubscribed_at == NOW
    assert site.storage.user_state("bob").unsubscribed_at is None
    # A mail provider may send it again, or as multipart/form-data: still one unsubscribe.
    again = httpx.post(link, files={"List-Unsubscribe": (None, "One-Click")})
    assert again.status_code == 200
    assert site.storage.user_state("ada").unsubscribed_at == NOW

    results = run_digests(load_config(site.config_path), site.storage, now=NOW, dry_run=True)
    assert {r.user: r.status for r in results} == {"ada": "unsubscribed", "bob": "dry-run"}

    runner = CliRunner()
    shown = runner.invoke(cli, ["--config", str(site.config_path), "status"])
    assert (
        "ada: last digest never" in shown.output
        and f"UNSUBSCRIBED since {NOW:%Y-%m-%d %H:%M}" in shown.output
    )
    as_json = runner.invoke(cli, ["--config", str(site.config_path), "status", "--format", "json"])
    assert f'"unsubscribed_at": "{NOW:%Y-%m-%d %H:%M}:00+00:00"' in as_json.output

    back = runner.invoke(
        cli, ["--config", str(site.config_path), "profile", "subscribe", "--user", "ada"]
    )
    assert back.exit_code == 0 and "ada gets digests again" in back.output
    assert site.storage.user_state("ada").unsubscribed_at is None
    results = run_digests(load_config(site.config_path), site.storage, now=NOW, dry_run=True)
    assert results[0].status == "dry-run"


def test_one_click_needs_its_exact_body(site: Site) -> None:
    link = site.link("u", "unsubscribe")
    for data in ({"List-Unsubscribe": "yes"}, {"Unsubscribe": "One-Click"}, {}):
        assert httpx.post(link, data=data).status_code == 403  # a form without its CSRF value
    assert state(site) == (None, None)


def test_unsubscribe_page_then_undo(site: Site) -> None:
    done = click(site.link("u", "unsubscribe"))
    assert done.status_code == 200 and "no more digests" in done.text
    assert site.storage.user_state("ada").unsubscribed_at is not None
    click(undo_link(site, done.text))
    assert state(site) == (None, None)


def test_pause_for_a_week_skips_digests_until_then(site: Site) -> None:
    done = click(site.link("pause", "pause"))
    assert done.status_code == 200 and "Paused" in done.text
    assert site.storage.user_state("ada").paused_until == NOW + PAUSE
    config = load_config(site.config_path)
    [r] = run_digests(
        config, site.storage, users=["ada"], now=NOW + timedelta(days=3), dry_run=True
    )
    assert r.status == "paused"
    shown = CliRunner().invoke(cli, ["--config", str(site.config_path), "status"])
    assert "paused until" in shown.output
    [r] = run_digests(config, site.storage, users=["ada"], now=NOW + PAUSE, dry_run=True)
    assert r.status == "dry-run"  # the pause ends by itself
    click(undo_link(site, done.text))
    assert state(site) == (None, None)


# --- the profile page -----------------------------------------------------------------------


def test_the_profile_page_lists_everything_with_titles(site: Site) -> None:
    click(site.link("dislike", "dislike", paper="2401.00003"))
    page = httpx.get(site.link("p", "profile")).text
    assert "Graph networks for molecules" in page  # saved
    assert "Protein folding at scale" in page  # disliked
    assert "bandits" in page  # keywords
    assert "Active" in page
    assert page.count('value="remove"') == 3


def test_the_profile_page_adds_and_removes_and_undoes(site: Site) -> None:
    before = site.text()
    profile = site.link("p", "profile")
    csrf = csrf_of(httpx.get(profile).text)

    def post(**data: str) -> httpx.Response:
        return httpx.post(profile, data={"csrf": csrf, **data})

    r = post(op="add", key="authors", value="  Jeff   Clune ")
    assert r.status_code == 200 and "Jeff Clune: added to your followed authors" in r.text
    assert ada(site)["authors"] == ["Jeff Clune"]
    r = post(op="remove", key="saved", value="2401.00001")
    assert r.status_code == 200 and "removed from your saved papers" in r.text
    assert ada(site)["saved"] == []
    undone = click(undo_link(site, r.text))  # Undo: a signed link, like the digest's
    assert "is in your saved papers again" in undone.text
    post(op="remove", key="authors", value="jeff clune")
    # As with `paperboy profile remove`: a removed line takes its comment along.
    before = before.replace("  # graph networks, kept by hand", "")
    assert site.text() == before

    assert post(op="add", key="keywords", value="   ").status_code == 400
    assert post(op="add", key="keywords", value="x" * 201).status_code == 400
    assert post(op="add", key="saved", value="2401.00003").status_code == 400  # not addable
    assert post(op="add", key="email", value="evil@example.org").status_code == 400
    assert post(op="drop", key="keywords", value="bandits").status_code == 400
    assert site.text() == before


def test_the_profile_page_resubscribes(site: Site) -> None:
    httpx.post(site.link("u", "unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    profile = site.link("p", "profile")
    page = httpx.get(profile).text
    assert "Unsubscribed" in page and "Send my digests again" in page
    r = httpx.post(profile, data={"csrf": csrf_of(page), "op": "subscribe"})
    assert r.status_code == 200 and "Active" in r.text
    assert state(site) == (None, None)


def test_an_edit_that_would_break_the_config_is_refused(site: Site) -> None:
    """A hand edit left the file invalid: the click is refused and the file left alone."""
    broken = site.text().replace('timezone = "UTC"', 'timezone = "Mars/Olympus"')
    site.config_path.write_text(broken, encoding="utf-8")
    link = site.link("like", "like", paper="2401.00003")
    r = httpx.get(link)
    assert r.status_code == 503
    assert site.text() == broken


@pytest.mark.parametrize("path", ["/", "/static/paperboy.css"])
def test_the_plain_pages_exist(site: Site, path: str) -> None:
    assert httpx.get(site.url + path).status_code == 200


def test_an_edit_that_fails_says_so_without_details_and_changes_nothing(site: Site) -> None:
    """A (validly signed) like of something that is not an arXiv id cannot be saved."""
    before = site.text()
    r = click(site.link("like", "like", paper="10.1000/not-arxiv"))
    assert r.status_code == 409
    assert "could not be edited" in r.text and str(site.config_path) not in r.text
    assert site.text() == before
