"""The fetch job end to end: a real local HTTP server, HttpClient, the parsers, SQLite.

arXiv's RSS feed is served from the local server (the config's base_url points at it);
the arXiv API's fixed https://export.arxiv.org URL is routed to the same server by a
transport that rewrites every request's address, so nothing can reach the internet.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import ParseError, SourceError
from paperboy.jobs.core.records import ParsedFeed, SourcePaper
from paperboy.jobs.fetch.from_file import ingest_file
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import (
    API_BATCH,
    ARXIV_SOURCE,
    LOOKUP_SOURCE,
    fetch_all,
    fetch_arxiv,
    lookup_papers,
    select_announcements,
)
from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss, render_arxiv_rss
from paperboy.jobs.storage import Storage, StoredPaper
from tests.http_server import FakeTime, LocalServer, Reply, ToLocal

FIXTURES = Path(__file__).parent / "fixtures"
RSS_40 = FIXTURES / "arxiv-rss" / "arxiv-rss-2025-08-06-40.xml"
RSS_REAL = FIXTURES / "arxiv-rss" / "arxiv-rss-real-layout.xml"
RSS_EMPTY = FIXTURES / "arxiv-rss" / "arxiv-rss-empty-holiday.xml"
API = FIXTURES / "arxiv-api"
API_UNKNOWN = API / "id_0000.0000_s0_m100_8b51d9633a68.json"
API_TWO = API / "id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.json"
API_OLD_STYLE = API / "id_astro-ph_0601001_s0_m100_3150dca9dc76.json"
API_BAD_ID = API / "id_abc_s0_m100_b79c8dcf6bc3.json"

RSS_PATH = "/rss/cs.LG"
API_PATH = "/api/query"
ETAG = '"2025-08-06"'
LAST_MODIFIED = "Wed, 06 Aug 2025 04:25:50 GMT"
RSS_HEADERS = {
    "Content-Type": "application/rss+xml",
    "ETag": ETAG,
    "Last-Modified": LAST_MODIFIED,
}


def capture_body(path: Path) -> bytes:
    body: str = json.loads(path.read_text(encoding="utf-8"))["body"]
    return body.encode("utf-8")


@pytest.fixture
def client(server: LocalServer, fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(
        contact="ops@example.org",
        timeout=5.0,
        retries=1,
        transport=ToLocal(server.port),
        sleep=fake.sleep,  # the arXiv hosts' 3 s interval is recorded, never waited
        clock=fake.clock,
    ) as c:
        yield c


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


def make_config(
    server: LocalServer,
    saved: tuple[str, ...] = ("1707.08567",),
    base: str | None = None,
    backfill_days: int = 0,
) -> Config:
    text = f"""
[paperboy]
database = "sqlite://"
contact = "ops@example.org"

[sources.arxiv]
categories = ["cs.LG"]
base_url = "{base or server.base}/rss/"
backfill_days = {backfill_days}

[[users]]
name = "ada"
email = "ada@example.org"
saved = {json.dumps(list(saved))}
"""
    return parse_config(text, Path("/nonexistent/config.toml"))


@pytest.fixture
def config(server: LocalServer) -> Config:
    return make_config(server)


def snapshot(db: Storage) -> dict[str, StoredPaper]:
    """Every stored paper, keyed by id (for 'nothing changed' checks)."""
    ids = [p.id for p in db.listed_papers()]
    return db.get_papers(ids)


def rss_announce_types(path: Path) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for paper in parse_arxiv_rss(path.read_bytes()).papers:
        by_type.setdefault(paper.announce_type or "new", []).append(paper.id)
    return by_type


def paper(pid: str, **changes: object) -> SourcePaper:
    base = SourcePaper(
        id=pid,
        title="Bandits with knapsacks revisited",
        abstract="We revisit bandits with knapsacks.",
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.LG",),
        link=f"https://arxiv.org/abs/{pid}",
        version=1,
        announce_type="new",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def listing(*papers: SourcePaper, day: date = date(2025, 8, 6)) -> bytes:
    return render_arxiv_rss(papers, categories="cs.LG", announced=day)


def api_feed(ids: list[str]) -> bytes:
    """An arXiv API Atom answer holding one entry per id."""
    entries = "".join(
        f"""
  <entry>
    <id>http://arxiv.org/abs/{pid}v1</id>
    <title>Paper {pid}</title>
    <summary>The abstract of {pid}.</summary>
    <author><name>Grace Hopper</name></author>
    <arxiv:primary_category term="cs.LG"/>
    <category term="cs.LG"/>
  </entry>"""
        for pid in ids
    )
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/test</id>
  <title>arXiv Query</title>
  <opensearch:totalResults>{len(ids)}</opensearch:totalResults>{entries}
</feed>""".encode()


# --- fetch_arxiv: a real listing ------------------------------------------------------


def test_fetch_stores_new_and_cross_and_skips_replacements(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    server.serve(RSS_PATH, Reply(200, RSS_HEADERS, RSS_40.read_bytes()))
    by_type = rss_announce_types(RSS_40)
    assert {k: len(v) for k, v in by_type.items()} == {
        "new": 20,
        "cross": 8,
        "replace": 8,
        "replace-cross": 4,
    }

    report = fetch_arxiv(config, db, client)

    assert report is not None
    assert report.status == "ok"
    assert report.error is None
    assert report.url == f"{server.base}{RSS_PATH}"
    assert (report.received, report.kept, report.new, report.updated) == (40, 28, 28, 0)
    assert report.skipped == {"replace": 8, "replace-cross": 4}
    assert db.count_papers() == 28
    stored = db.get_papers([pid for ids in by_type.values() for pid in ids])
    assert set(stored) == set(by_type["new"]) | set(by_type["cross"])
    assert all(p.listed_at is not None for p in stored.values())
    assert all(p.announced == date(2025, 8, 6) for p in stored.values())
    assert all(p.abstract and p.title and p.authors for p in stored.values())
    # One polite request, saying who we are.
    [request] = server.seen(RSS_PATH)
    assert "ops@example.org" in request.headers["user-agent"]


def test_source_state_keeps_validators_and_a_304_changes_nothing(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    server.serve(
        RSS_PATH,
        Reply(200, RSS_HEADERS, RSS_40.read_bytes()),
        Reply(304, {"ETag": ETAG}),
    )
    first = fetch_arxiv(config, db, client)
    assert first is not None and first.status == "ok"
    state = db.source_state(ARXIV_SOURCE)
    assert state is not None
    assert (state.etag, state.last_modified) == (ETAG, LAST_MODIFIED)
    assert state.url == f"{server.base}{RSS_PATH}"
    assert (state.last_count, state.last_new, state.last_error) == (40, 28, None)
    before = snapshot(db)

    second = fetch_arxiv(config, db, client)

    assert second is not None
    assert second.status == "unchanged"
    assert (second.received, second.kept, second.new) == (0, 0, 0)
    first_request, second_request = server.seen(RSS_PATH)
    assert "if-none-match" not in first_request.headers
    assert second_request.headers["if-none-match"] == ETAG
    assert second_request.headers["if-modified-since"] == LAST_MODIFIED
    assert snapshot(db) == before
    after = db.source_state(ARXIV_SOURCE)
    assert after is not None
    assert (after.etag, after.last_modified, after.last_error) == (ETAG, LAST_MODIFIED, None)


def test_validators_of_another_url_are_not_sent(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    # The categories changed since the last fetch: the old ETag belongs to another feed.
    db.record_fetch(
        ARXIV_SOURCE, url=f"{server.base}/rss/cs.CL", etag=ETAG, last_modified=LAST_MODIFIED
    )
    server.serve(RSS_PATH, Reply(200, {}, RSS_EMPTY.read_bytes()))
    report = fetch_arxiv(config, db, client)
    assert report is not None and report.status == "ok"
    headers = server.seen(RSS_PATH)[0].headers
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


# --- fetch_arxiv: failures are results, and lose nothing ------------------------------


@pytest.fixture
def stored_day(server: LocalServer, client: HttpClient, config: Config, db: Storage) -> None:
    """A first successful fetch of the 40-item listing (28 papers stored)."""
    server.serve(RSS_PATH, Reply(200, RSS_HEADERS, RSS_40.read_bytes()))
    report = fetch_arxiv(config, db, client)
    assert report is not None and report.status == "ok"
    server.routes.clear()


def assert_failed_and_nothing_lost(
    config: Config, db: Storage, client: HttpClient, *, match: str
) -> None:
    before = snapshot(db)
    assert len(before) == 28
    report = fetch_arxiv(config, db, client)
    assert report is not None
    assert report.status == "error"
    assert report.error is not None and match in report.error
    state = db.source_state(ARXIV_SOURCE)
    assert state is not None
    assert state.last_error == report.error
    # The validators of the last good response stay: the next run must not get a 304
    # for a day it never stored.
    assert (state.etag, state.last_modified) == (ETAG, LAST_MODIFIED)
    assert state.last_count == 40
    assert db.count_papers() == 28
    assert snapshot(db) == before


@pytest.mark.usefixtures("stored_day")
def test_html_error_page_served_as_200_is_an_error(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    page = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"
    server.serve(RSS_PATH, Reply(200, {"Content-Type": "text/html", "ETag": '"html"'}, page))
    assert_failed_and_nothing_lost(config, db, client, match="HTML")


@pytest.mark.usefixtures("stored_day")
def test_truncated_xml_is_an_error(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    data = RSS_40.read_bytes()
    server.serve(RSS_PATH, Reply(200, {"ETag": '"cut"'}, data[: len(data) // 2]))
    assert_failed_and_nothing_lost(config, db, client, match="truncated")


@pytest.mark.usefixtures("stored_day")
def test_malformed_xml_is_an_error(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    server.serve(RSS_PATH, Reply(200, {}, b"<?xml version='1.0'?><rss version='2.0'><channel><"))
    assert_failed_and_nothing_lost(config, db, client, match=RSS_PATH)


@pytest.mark.usefixtures("stored_day")
def test_503_past_the_retries_is_an_error(
    server: LocalServer, client: HttpClient, config: Config, db: Storage, fake: FakeTime
) -> None:
    server.serve(RSS_PATH, Reply(503, {"Retry-After": "5"}, b"busy"))
    already = len(server.seen(RSS_PATH))
    assert_failed_and_nothing_lost(config, db, client, match="HTTP 503")
    assert len(server.seen(RSS_PATH)) - already == 2  # retries=1
    assert 5 in fake.sleeps


@pytest.mark.usefixtures("stored_day")
def test_unreachable_server_is_an_error(server: LocalServer, db: Storage) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    before = snapshot(db)
    with HttpClient(retries=0, min_interval={}, sleep=lambda s: None) as direct:
        report = fetch_arxiv(make_config(server, base=closed), db, direct)
    assert report is not None and report.status == "error"
    assert "failed after 1 attempts" in (report.error or "")
    assert snapshot(db) == before
    state = db.source_state(ARXIV_SOURCE)
    assert state is not None and state.last_error == report.error


def test_empty_weekend_feed_is_ok_with_no_papers(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    server.serve(RSS_PATH, Reply(200, RSS_HEADERS, RSS_EMPTY.read_bytes()))
    report = fetch_arxiv(config, db, client)
    assert report is not None
    assert report.status == "ok"
    assert (report.received, report.kept, report.new, report.skipped) == (0, 0, 0, {})
    assert db.count_papers() == 0
    state = db.source_state(ARXIV_SOURCE)
    assert state is not None
    assert (state.last_error, state.last_count, state.etag) == (None, 0, ETAG)


def test_no_arxiv_source_configured_fetches_nothing(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = parse_config('[paperboy]\ndatabase = "sqlite://"\n', Path("config.toml"))
    assert fetch_arxiv(config, db, client) is None
    assert fetch_all(config, db, client) == []
    assert server.requests == []


# --- one row per paper, whatever the sightings ---------------------------------------


def test_later_version_and_other_category_merge_into_one_row(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    pid = "2508.01234"
    v1 = paper(pid)
    v2 = paper(
        pid,
        version=2,
        title="Bandits with knapsacks, revisited",
        abstract="We revisit bandits with knapsacks, with new bounds.",
        categories=("stat.ML", "cs.LG"),
        announce_type="cross",
    )
    v3_empty = paper(pid, version=3, title=v2.title, abstract="", categories=("math.OC",))
    v1_again = paper(pid, version=1, abstract="An old abstract.", categories=("cs.LG",))
    server.serve(
        RSS_PATH,
        Reply(200, {}, listing(v1, day=date(2025, 8, 6))),
        Reply(200, {}, listing(v2, day=date(2025, 8, 7))),
        Reply(200, {}, listing(v3_empty, day=date(2025, 8, 8))),
        Reply(200, {}, listing(v1_again, day=date(2025, 8, 11))),
    )
    reports = [fetch_arxiv(config, db, client) for _ in range(4)]
    assert [r.status for r in reports if r] == ["ok"] * 4
    assert [(r.new, r.updated) for r in reports if r] == [(1, 0), (0, 1), (0, 1), (0, 0)]

    assert db.count_papers() == 1
    stored = db.get_papers([pid])[pid]
    assert stored.version == 3
    assert stored.categories == ("cs.LG", "stat.ML", "math.OC")
    assert stored.title == "Bandits with knapsacks, revisited"
    assert stored.abstract == "We revisit bandits with knapsacks, with new bounds."
    assert stored.announced == date(2025, 8, 6)  # the first announcement day stays


def test_same_paper_twice_in_one_listing_is_one_row(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    pid = "2508.04321"
    body = listing(paper(pid), paper(pid, categories=("cs.AI",), announce_type="cross"))
    server.serve(RSS_PATH, Reply(200, {}, body))
    report = fetch_arxiv(config, db, client)
    assert report is not None and report.status == "ok"
    assert db.count_papers() == 1


def test_select_announcements_dates_items_by_the_channel() -> None:
    feed = ParsedFeed(
        papers=(
            paper("2508.00001", announce_type=None),
            paper("2508.00002", announce_type="replace"),
            paper("2508.00003", announce_type="cross", announced=date(2025, 8, 5)),
        ),
        announced=date(2025, 8, 6),
    )
    kept, skipped = select_announcements(feed, ("new", "cross"))
    assert [(p.id, p.announced) for p in kept] == [
        ("2508.00001", date(2025, 8, 6)),  # no announce type: counts as new
        ("2508.00003", date(2025, 8, 5)),
    ]
    assert skipped == {"replace": 1}


# --- lookup_papers: the arXiv API ------------------------------------------------------


def test_lookup_batches_100_ids_per_request_and_reports_unknown(
    server: LocalServer, client: HttpClient, db: Storage, fake: FakeTime
) -> None:
    ids = [f"2401.{n:05d}" for n in range(1, 151)]
    server.serve(
        API_PATH,
        Reply(200, {}, api_feed(ids[:API_BATCH])),
        Reply(200, {}, capture_body(API_UNKNOWN)),  # arXiv's real answer for unknown ids
    )

    result, unknown = lookup_papers(db, reversed(ids), client)

    requests = server.seen(API_PATH)
    assert len(requests) == 2
    batches = [parse_qs(r.query)["id_list"][0].split(",") for r in requests]
    assert batches == [ids[:100], ids[100:]]
    assert [parse_qs(r.query)["max_results"] for r in requests] == [["100"], ["50"]]
    assert (result.new, result.updated) == (100, 0)
    assert unknown == ids[100:]
    stored = db.get_papers(ids)
    assert set(stored) == set(ids[:100])
    assert all(p.listed_at is None for p in stored.values())  # a library is not news
    # arXiv asks for 3 s between API requests: the second one waited (fake clock).
    assert fake.sleeps == [pytest.approx(3.0)]


def test_lookup_skips_stored_ids_and_canonicalises(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    db.upsert_papers([paper("2401.00001")], source=ARXIV_SOURCE, listed=True)
    server.serve(API_PATH, Reply(200, {}, capture_body(API_TWO)))
    result, unknown = lookup_papers(
        db, ["2401.00001", "arXiv:1707.08567", "https://arxiv.org/abs/1707.08567v1"], client
    )
    [request] = server.seen(API_PATH)
    assert parse_qs(request.query)["id_list"] == ["1707.08567"]
    assert (result.new, unknown) == (1, [])
    assert db.get_papers(["1707.08567"])["1707.08567"].title.startswith("Proceedings of")


def test_lookup_asks_storage_once_not_once_per_id(
    server: LocalServer, client: HttpClient, db: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"2401.{n:05d}" for n in range(1, 51)]
    db.upsert_papers([paper(pid) for pid in ids[:40]], source=ARXIV_SOURCE, listed=True)
    calls: list[int] = []
    real = db.get_papers

    def counting(wanted: Sequence[str]) -> dict[str, StoredPaper]:
        calls.append(len(wanted))
        return real(wanted)

    monkeypatch.setattr(db, "get_papers", counting)
    server.serve(API_PATH, Reply(200, {}, api_feed(ids[40:])))
    result, unknown = lookup_papers(db, ids, client)
    assert (result.new, unknown) == (10, [])
    assert calls == [50]
    [request] = server.seen(API_PATH)
    assert parse_qs(request.query)["id_list"] == [",".join(ids[40:])]


def test_lookup_with_everything_stored_sends_no_request(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    db.upsert_papers([paper("2401.00001")], source=ARXIV_SOURCE, listed=True)
    result, unknown = lookup_papers(db, ["2401.00001"], client)
    assert (result.total, unknown) == (0, [])
    assert server.requests == []


def test_lookup_keeps_earlier_batches_when_a_later_one_fails(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    ids = [f"2401.{n:05d}" for n in range(1, 151)]
    server.serve(API_PATH, Reply(200, {}, api_feed(ids[:100])), Reply(503, {}, b"busy"))
    with pytest.raises(SourceError, match="HTTP 503"):
        lookup_papers(db, ids, client)
    assert set(db.get_papers(ids)) == set(ids[:100])


# --- fetch_all ---------------------------------------------------------------------------


def test_fetch_all_goes_on_with_the_lookup_when_rss_fails(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, saved=("1707.08567", "2401.00001"))
    server.serve(RSS_PATH, Reply(500, {}, b"internal error"))
    server.serve(API_PATH, Reply(200, {}, capture_body(API_TWO)))

    arxiv, lookup = fetch_all(config, db, client)

    assert (arxiv.name, arxiv.status) == (ARXIV_SOURCE, "error")
    assert "HTTP 500" in (arxiv.error or "")
    assert (lookup.name, lookup.status, lookup.new) == (LOOKUP_SOURCE, "ok", 1)
    assert lookup.error == "unknown ids: 2401.00001"
    assert db.get_papers(["1707.08567"])["1707.08567"].listed_at is None
    rss_state = db.source_state(ARXIV_SOURCE)
    api_state = db.source_state(LOOKUP_SOURCE)
    assert rss_state is not None and "HTTP 500" in (rss_state.last_error or "")
    assert api_state is not None and api_state.last_error is None
    assert (api_state.last_count, api_state.last_new) == (1, 1)


def test_fetch_all_reports_a_failed_lookup_after_a_good_listing(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, saved=("1707.08567",))
    server.serve(RSS_PATH, Reply(200, RSS_HEADERS, RSS_40.read_bytes()))
    server.serve(API_PATH, Reply(200, {"Content-Type": "text/html"}, b"<html>oops</html>"))

    arxiv, lookup = fetch_all(config, db, client)

    assert (arxiv.status, arxiv.new) == ("ok", 28)
    assert lookup.status == "error" and lookup.error
    state = db.source_state(LOOKUP_SOURCE)
    assert state is not None and state.last_error == lookup.error
    assert db.count_papers() == 28


def test_fetch_all_without_saved_papers_makes_no_lookup(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, saved=())
    server.serve(RSS_PATH, Reply(200, {}, RSS_EMPTY.read_bytes()))
    [report] = fetch_all(config, db, client)
    assert report.name == ARXIV_SOURCE
    assert server.seen(API_PATH) == []


# --- ingest_file ---------------------------------------------------------------------------


def test_ingest_a_saved_rss_listing(db: Storage) -> None:
    report = ingest_file(db, RSS_REAL)
    assert report.status == "ok"
    assert (report.received, report.kept, report.new) == (5, 3, 3)
    assert report.skipped == {"replace": 1, "replace-cross": 1}
    assert report.url == str(RSS_REAL)
    assert db.count_papers() == 3
    assert all(p.listed_at is not None for p in snapshot(db).values())


def test_ingest_a_saved_rss_listing_with_all_announce_types(db: Storage) -> None:
    types = ("new", "cross", "replace", "replace-cross")
    report = ingest_file(db, RSS_REAL, announce_types=types)
    assert (report.kept, report.skipped) == (5, {})


def test_ingest_an_api_capture(db: Storage) -> None:
    report = ingest_file(db, API_OLD_STYLE)
    assert report.status == "ok"
    assert (report.received, report.new) == (1, 1)
    assert report.url.startswith("https://export.arxiv.org/api/query")
    stored = db.get_papers(["astro-ph/0601001"])["astro-ph/0601001"]
    assert stored.title.startswith("Frequency of Hot Jupiters")
    assert stored.listed_at is None


def test_ingest_a_raw_api_response(db: Storage) -> None:
    report = ingest_file(db, API / "query_transformer.xml")
    assert (report.received, report.new) == (5, 5)
    assert db.count_papers() == 5


def test_ingest_an_api_error_capture_names_the_file(db: Storage) -> None:
    with pytest.raises(ParseError, match="incorrect id format") as caught:
        ingest_file(db, API_BAD_ID)
    assert str(API_BAD_ID) in str(caught.value)


def test_ingest_a_missing_file_names_it(db: Storage, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.xml"
    with pytest.raises(SourceError, match=r"nowhere\.xml") as caught:
        ingest_file(db, missing)
    assert str(missing) in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"url": "https://export.arxiv.org/api/query", "status_code": 200}',
        '["body"]',
        '"just a string"',
        '{"url": "u", "status_code": 200, "body": null}',
        '{"url": "u", "status_code": 200, "body": 5}',
        '{"url": "u", "status_code": 200, "body": [60, 63]}',
    ],
)
def test_ingest_a_bad_capture_names_it(db: Storage, tmp_path: Path, content: str) -> None:
    bad = tmp_path / "capture.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        ingest_file(db, bad)
    assert str(bad) in str(caught.value)
    assert db.count_papers() == 0


def test_ingest_a_broken_rss_file_names_it(db: Storage, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(RSS_40.read_bytes()[:5000])
    with pytest.raises(ParseError, match="truncated") as caught:
        ingest_file(db, broken)
    assert str(broken) in str(caught.value)
    assert db.count_papers() == 0


def test_ingest_a_capture_of_an_html_page_names_it(db: Storage, tmp_path: Path) -> None:
    capture = tmp_path / "page.json"
    capture.write_text(
        json.dumps(
            {"url": "https://rss.arxiv.org/rss/cs.LG", "status_code": 503, "body": "<html/>"}
        )
    )
    with pytest.raises(ParseError, match="HTML") as caught:
        ingest_file(db, capture)
    assert str(capture) in str(caught.value)
