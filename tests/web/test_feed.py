"""A feed per user (issue #23): the Atom feed of a user's sent digests, served for real
(uvicorn on loopback) and read by feedparser, by fastfeedparser (a parser of its own, on
lxml) and by a real feed reader (`reader`), which subscribes and polls it over HTTP with
its ETag like any reader would."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import fastfeedparser
import feedparser
import httpx
from click.testing import CliRunner
from lxml import etree
from reader import make_reader
from sqlalchemy import update

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.storage.schema import ledger
from paperboy.jobs.web.feed import FEED_DIGESTS
from paperboy.jobs.web.tokens import Signer
from tests.web.conftest import KEY, NOW, Site
from tests.web.test_app import csrf_of

FEED_VALUE = re.compile(r'class="feed-url" readonly value="([^"]+)"')
ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://paperboy.example.org"  # [web] base_url of the test config

HOSTILE = SourcePaper(
    id="2401.00009",
    title="Bounds on $\\alpha$-divergence\x07 <b>bold</b> \x1b]0;pwned\x07 & \u202eevil\x00",
    abstract="We bound \\emph{everything}. Second sentence here. A third one.",
    authors=("Ada <script>x</script> Lovelace",),
    categories=("cs.LG",),
    link="https://arxiv.org/abs/2401.00009",
)


def feed_link(site: Site, user: str = "ada", epoch: int = 0) -> str:
    """The feed URL the user's profile page shows, on the test server instead of base_url
    (the page opened from a link of the user's link `epoch`)."""
    page = httpx.get(site.link("p", "profile", user=user, epoch=epoch))
    assert page.status_code == 200, page.text
    match = FEED_VALUE.search(page.text)
    assert match, page.text
    url = html.unescape(match.group(1))
    assert url.startswith(f"{BASE}/feed/")
    return url.replace(BASE, site.url)


def sent_digest(
    site: Site,
    papers: list[tuple[str, float, str]],
    *,
    user: str = "ada",
    hours: float = 0,
    status: str = "sent",
) -> int:
    """A digest recorded (as the digest job does) and then sent, failed or left pending."""
    at = site.clock.now + timedelta(hours=hours)
    site.storage._now = lambda: at  # the storage's clock: sent_at is this time
    delivery = site.storage.create_delivery(
        user_name=user,
        message_id=f"<{user}.{at.timestamp():.0f}.{len(papers)}@example.org>",
        digest_day=at.date(),
        message=b"Subject: digest\r\n\r\nbody",
        paper_ids=[p for p, _, _ in papers],
        listed_through=None,
        at=at,
        shown={p: (score, why) for p, score, why in papers},
    )
    if status == "sent":
        assert site.storage.mark_sent(delivery, "outbox")
    elif status == "failed":
        assert site.storage.mark_attempt_failed(delivery, "550 no", permanent=True)
    return delivery


def test_the_profile_page_shows_a_feed_of_the_sent_digests_in_valid_atom(site: Site) -> None:
    sent_digest(site, [("2401.00003", 0.91, "keyword: proteins"), ("2401.00001", 0.5, "close")])
    sent_digest(site, [("2401.00002", 0.7, "keyword: bandits")], hours=24, status="pending")
    url = feed_link(site)
    got = httpx.get(url)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert got.headers["cache-control"] == "private, no-cache"
    parsed = feedparser.parse(got.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    # One entry per paper of the sent digest, in its order; the pending one is not there.
    assert [e.title for e in parsed.entries] == [
        "Protein folding at scale",
        "Graph networks for molecules",
    ]
    first = parsed.entries[0]
    assert "keyword: proteins" in first.summary and "Structures." in first.summary
    assert "91%" in first.content[0].value
    assert [(link.rel, link.href) for link in first.links] == [
        ("alternate", "https://arxiv.org/abs/2401.00003")
    ]
    assert '<a href="https://arxiv.org/pdf/2401.00003">PDF</a>' in first.content[0].value
    assert first.id.startswith("tag:example.org,") and first.id.endswith("/2401.00003")
    assert len({e.id for e in parsed.entries}) == 2
    assert first.updated_parsed[:5] == NOW.timetuple()[:5]  # the digest's date
    assert parsed.feed.links[0].rel == "self" and parsed.feed.links[0].href.startswith(BASE)
    # Read-only: no feedback link (like, dislike, unsubscribe, profile) in the feed.
    assert not re.search(r"/(like|dislike|u|pause|p|undo)/", got.text)
    # The same URL every time the page is shown.
    assert feed_link(site) == url
    # A second, independent parser (lxml-based, not feedparser) reads the same entries.
    other = fastfeedparser.parse(got.content)
    assert [(e["id"], e["title"], e["link"]) for e in other.entries] == [
        (e.id, e.title, e.link) for e in parsed.entries
    ]
    assert other.feed["title"] == "Paperboy: papers for ada"


def test_a_real_feed_reader_subscribes_polls_with_its_etag_and_sees_the_next_digest(
    site: Site, tmp_path: Path
) -> None:
    sent_digest(site, [("2401.00003", 0.9, "keyword: proteins")])
    url = feed_link(site)
    with make_reader(str(tmp_path / "reader.sqlite")) as reader:
        reader.add_feed(url)
        first = reader.update_feed(url)  # raises if the feed cannot be fetched or parsed
        assert first is not None and first.new == 1
        [entry] = list(reader.get_entries())
        assert entry.title == "Protein folding at scale"
        assert entry.link == "https://arxiv.org/abs/2401.00003"
        assert entry.updated is not None and entry.updated == NOW
        assert reader.get_feed(url).title == "Paperboy: papers for ada"
        # Polled again with nothing new: the server answers 304 to the reader's ETag
        # (reader's None: "the server indicated the feed has not changed").
        assert reader.update_feed(url) is None
        # The next digest: the reader gets its paper, and keeps the first.
        sent_digest(site, [("2401.00001", 0.6, "close to your saved")], hours=24)
        later = reader.update_feed(url)
        assert later is not None and later.new == 1
        titles = {e.title for e in reader.get_entries()}
        assert titles == {"Protein folding at scale", "Graph networks for molecules"}


def test_conditional_get_and_a_new_etag_after_the_next_real_digest(site: Site) -> None:
    url = feed_link(site)
    empty = httpx.get(url)
    assert empty.status_code == 200 and feedparser.parse(empty.content).bozo == 0
    assert feedparser.parse(empty.content).entries == []
    assert "last-modified" not in empty.headers  # nothing sent yet
    assert httpx.get(url, headers={"If-None-Match": empty.headers["etag"]}).status_code == 304

    # The next digest, made by the digest job itself (rank, compose, record, send).
    [result] = run_digests(load_config(site.config_path), site.storage, users=["ada"], now=NOW)
    assert result.status == "sent" and result.picked
    first = httpx.get(url, headers={"If-None-Match": empty.headers["etag"]})
    assert first.status_code == 200 and first.headers["etag"] != empty.headers["etag"]
    parsed = feedparser.parse(first.content)
    assert parsed.bozo == 0
    assert [e.id.rsplit("/", 1)[1] for e in parsed.entries] == [r.paper.id for r in result.picked]
    for entry, ranked in zip(parsed.entries, result.picked, strict=True):
        assert " ".join(ranked.why.split()) in entry.summary  # the reason the mail gave

    etag, modified = first.headers["etag"], first.headers["last-modified"]
    same = httpx.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert httpx.get(url, headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = format_datetime(NOW - timedelta(days=1), usegmt=True)
    assert httpx.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are given (RFC 9110).
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert httpx.get(url, headers=both).status_code == 200
    assert httpx.head(url, headers={"If-None-Match": etag}).status_code == 304


def test_a_tampered_forged_or_other_kind_of_token_gets_403(site: Site) -> None:
    url = feed_link(site)
    token = url.rsplit("/", 1)[1]
    payload, _, signature = token.partition(".")

    def changed(text: str, at: int) -> str:  # one character replaced by another
        return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]

    for bad in (
        f"{payload}.{changed(signature, 10)}",  # a signature altered
        f"{changed(payload, 5)}.{signature}",  # a payload altered under its signature
        site.signer.make_feed("bob", epoch=0).partition(".")[0] + f".{signature}",
        site.signer.make("profile", "ada", days=60),  # a profile token is not a feed token
        site.signer.make("like", "ada", days=60, paper="2401.00001"),
    ):
        got = httpx.get(f"{site.url}/feed/{bad}")
        assert got.status_code == 403, bad
    forged = Signer("another-key-of-enough-length-0123456789").make_feed("ada", epoch=0)
    assert httpx.get(f"{site.url}/feed/{forged}").status_code == 403
    nobody = site.signer.make_feed("carol", epoch=0)  # signed, for a user not configured
    assert httpx.get(f"{site.url}/feed/{nobody}").status_code == 403
    assert httpx.get(url).status_code == 200


def test_the_feed_url_does_not_expire_but_sign_out_all_links_revokes_it(site: Site) -> None:
    sent_digest(site, [("2401.00003", 0.9, "keyword: proteins")])
    url, bob = feed_link(site), feed_link(site, "bob")
    site.clock.advance(timedelta(days=5 * 365))  # long past every action link's expiry
    assert httpx.get(url).status_code == 200

    profile = site.link("p", "profile")
    page = httpx.get(profile)
    out = httpx.post(profile, data={"csrf": csrf_of(page.text), "op": "signout"})
    assert out.status_code == 200
    refused = httpx.get(url)
    assert refused.status_code == 403 and "signed out" in refused.text
    assert httpx.get(bob).status_code == 200  # bob's feed is his own
    # The profile page of the next digest's links shows a new feed URL, which works.
    new = feed_link(site, epoch=site.storage.link_epoch("ada"))
    assert new != url and httpx.get(new).status_code == 200


def test_a_hostile_title_stays_escaped_and_valid_xml(site: Site) -> None:
    site.storage.upsert_papers([HOSTILE], source="arxiv", listed=True)
    reason = 'keyword: "<img src=x onerror=alert(1)>"\x1b[31m & more'
    sent_digest(site, [("2401.00009", 0.8, reason), ("2401.00002", 0.7, "keyword: bandits")])
    body = httpx.get(feed_link(site)).content
    root = etree.fromstring(body)  # well-formed XML: control characters are gone
    assert root.tag == f"{ATOM}feed"
    assert b"<script>" not in body and b"<img" not in body and b"<b>" not in body
    assert b"\x1b" not in body and b"\x07" not in body and "\u202e".encode() not in body
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    hostile, bandits = parsed.entries
    assert hostile.title == "Bounds on α-divergence <b>bold</b> ]0;pwned & evil"
    assert hostile.title_detail.type == "text/plain"
    assert bandits.title == "Bandits with <script>alert('x')</script> knapsacks & more"
    # The reason and the author are text in the HTML content, never markup.
    content = hostile.content[0].value
    assert "<img" not in content and "&lt;img src=x" in content
    assert "<script>" not in content and "Ada &lt;script&gt;x&lt;/script&gt; Lovelace" in content
    assert "We bound everything. Second sentence here." in hostile.summary


def test_only_sent_digests_the_latest_ones_newest_first(site: Site) -> None:
    ids = ["2401.00001", "2401.00002", "2401.00003"]
    for n in range(FEED_DIGESTS + 1):
        # One paper per digest (the ledger allows a paper once per user): a fresh id each.
        pid = f"2402.{n:05d}"
        site.storage.upsert_papers(
            [
                SourcePaper(
                    id=pid,
                    title=f"Paper {n}",
                    abstract="A.",
                    authors=(),
                    categories=("cs.LG",),
                    link=None,
                )
            ],
            source="arxiv",
            listed=True,
        )
        sent_digest(site, [(pid, 0.5, f"reason {n}")], hours=n)
    sent_digest(site, [(ids[0], 0.9, "failed")], hours=30, status="failed")
    sent_digest(site, [(ids[1], 0.9, "pending")], hours=31, status="pending")
    parsed = feedparser.parse(httpx.get(feed_link(site)).content)
    assert [e.title for e in parsed.entries] == [
        f"Paper {n}" for n in range(FEED_DIGESTS, 0, -1)
    ]  # the oldest of 11 is out; the failed and the pending ones never came in
    assert parsed.feed.updated_parsed[:4] == (NOW + timedelta(hours=FEED_DIGESTS)).timetuple()[:4]


def test_paperboy_profile_feed_url_prints_the_address(site: Site) -> None:
    url = feed_link(site).replace(site.url, BASE)
    env = {"PAPERBOY_WEB_SECRET": KEY}
    runner = CliRunner()
    command = ["--config", str(site.config_path), "profile", "feed-url", "--user", "ada"]
    got = runner.invoke(cli, command, env=env)
    assert got.exit_code == 0, got.output
    assert got.output.strip() == url
    as_json = runner.invoke(cli, [*command, "--format", "json"], env=env)
    assert as_json.exit_code == 0 and f'"{url}"' in as_json.output
    site.storage.revoke_links("ada")
    after = runner.invoke(cli, command, env=env)
    assert after.exit_code == 0 and after.output.strip() != url


def test_a_ledger_row_from_before_0008_shows_without_a_reason(site: Site) -> None:
    delivery = sent_digest(site, [("2401.00003", 0.9, "x")])
    with site.storage.engine.begin() as conn:  # as a row recorded before migration 0008
        conn.execute(
            update(ledger)
            .where(ledger.c.delivery_id == delivery)
            .values(position=None, score=None, reason=None)
        )
    parsed = feedparser.parse(httpx.get(feed_link(site)).content)
    assert parsed.bozo == 0
    [entry] = parsed.entries
    assert entry.title == "Protein folding at scale" and entry.summary == "Structures."
    assert "Why" not in entry.content[0].value
