"""The first-run backfill from the arXiv API, and the API parser's search and truncation.

The API's fixed https://export.arxiv.org URL is routed to a real local HTTP server; the
client's clock and sleep are fake, so arXiv's 3 s between requests is checked, not waited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from paperboy import jobs
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import ParseError, SourceError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import (
    ARXIV_SOURCE,
    BACKFILL_PAGE,
    BACKFILL_SOURCE,
    backfill_arxiv,
    fetch_all,
    lookup_papers,
)
from paperboy.jobs.fetch.sources.arxiv_api import (
    category_search_url,
    parse_arxiv_api,
    parse_arxiv_search,
)
from paperboy.jobs.fetch.sources.arxiv_rss import render_arxiv_rss
from paperboy.jobs.storage import Storage
from tests.http_server import FakeTime, LocalServer, Reply, ToLocal

FIXTURES = Path(__file__).parent / "fixtures"
API = FIXTURES / "arxiv-api"
SEARCH_100 = API / "q_testing_s0_m100_cfe7536492ca.json"
API_TWO = API / "id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.json"
API_PATH = "/api/query"
RSS_PATH = "/rss/cs.LG+cs.CL"
TODAY = date(2026, 6, 12)


@pytest.fixture
def client(server: LocalServer, fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(
        timeout=5.0, retries=1, transport=ToLocal(server.port), sleep=fake.sleep, clock=fake.clock
    ) as c:
        yield c


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


def make_config(
    server: LocalServer, *, backfill_days: int = 7, types: str = '["new", "cross"]'
) -> Config:
    text = f"""
[paperboy]
database = "sqlite://"

[sources.arxiv]
categories = ["cs.LG", "cs.CL"]
announce_types = {types}
base_url = "{server.base}/rss/"
backfill_days = {backfill_days}
"""
    return parse_config(text, Path("/nonexistent/config.toml"))


def entry(pid: str, published: date, primary: str = "cs.LG") -> str:
    return f"""
  <entry>
    <id>http://arxiv.org/abs/{pid}v1</id>
    <updated>{published.isoformat()}T17:59:59Z</updated>
    <published>{published.isoformat()}T17:59:59Z</published>
    <title>Paper {pid}</title>
    <summary>The abstract of {pid}.</summary>
    <author><name>Grace Hopper</name></author>
    <arxiv:primary_category term="{primary}" scheme="http://arxiv.org/schemas/atom"/>
    <category term="{primary}" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""


def page(entries: list[str], *, total: int, start: int) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <id>https://arxiv.org/api/backfill</id>
  <title>arXiv Query: search_query=cat:cs.LG OR cat:cs.CL</title>
  <updated>2026-06-12T00:00:00Z</updated>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>{"".join(entries)}
</feed>
""".encode()


def days_of(n: int, newest: date = TODAY) -> list[tuple[str, date]]:
    """n papers, newest first, ~400 a day, as the API sorts them."""
    return [(f"2606.{10000 - k:05d}", newest - timedelta(days=k // 400)) for k in range(n)]


# --- the parser ----------------------------------------------------------------------------


def test_search_page_dates_papers_by_published_and_counts() -> None:
    body: str = json.loads(SEARCH_100.read_text(encoding="utf-8"))["body"]
    result = parse_arxiv_search(body.encode())
    assert (len(result.papers), result.total, result.start) == (100, 214881, 0)
    assert result.papers[0].announced == date(2022, 2, 24)
    assert all(p.announced is not None for p in result.papers)
    # The lookup parser still leaves announced alone: <published> is not a listing day.
    assert all(p.announced is None for p in parse_arxiv_api(body.encode()))
    assert [p.id for p in parse_arxiv_api(body.encode())] == [p.id for p in result.papers]


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_a_truncated_api_answer_raises_instead_of_returning_the_entries_before_the_cut(
    fraction: float,
) -> None:
    body = json.loads(SEARCH_100.read_text(encoding="utf-8"))["body"].encode()
    cut = body[: int(len(body) * fraction)]
    with pytest.raises(ParseError, match="truncated"):
        parse_arxiv_api(cut)
    with pytest.raises(ParseError, match="truncated"):
        parse_arxiv_search(cut)


def test_a_truncated_lookup_is_an_error_not_unknown_ids(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    body = json.loads(API_TWO.read_text(encoding="utf-8"))["body"].encode()
    server.serve(API_PATH, Reply(200, {}, body[: len(body) - 200]))
    with pytest.raises(SourceError, match="truncated"):
        lookup_papers(db, ["1707.08567"], client)
    assert db.count_papers() == 0


def test_category_search_url() -> None:
    url = category_search_url(["cs.LG", "cs.CL"], start=500, max_results=500)
    assert url == (
        "https://export.arxiv.org/api/query?search_query=cat:cs.LG+OR+cat:cs.CL"
        "&sortBy=submittedDate&sortOrder=descending&start=500&max_results=500"
    )
    with pytest.raises(ValueError):
        category_search_url([], start=0, max_results=1)


# --- backfill_arxiv ----------------------------------------------------------------------


def test_backfill_pages_politely_until_the_papers_are_older_than_the_window(
    server: LocalServer, client: HttpClient, db: Storage, fake: FakeTime
) -> None:
    papers = days_of(3000)  # 7.5 days of ~400 papers
    entries = [
        entry(pid, day, "cs.LG" if n % 3 else "stat.ML") for n, (pid, day) in enumerate(papers)
    ]
    pages = [
        page(entries[start : start + BACKFILL_PAGE], total=len(entries), start=start)
        for start in range(0, len(entries), BACKFILL_PAGE)
    ]
    server.serve(API_PATH, *[Reply(200, {}, body) for body in pages])

    report = backfill_arxiv(make_config(server), db, client, 3, today=TODAY)

    # Three days back from 2026-06-12: papers published from 2026-06-09 on (400 a day).
    since = TODAY - timedelta(days=3)
    wanted = [(pid, day) for pid, day in papers if day >= since]
    assert len(wanted) == 1600
    requests = server.seen(API_PATH)
    assert len(requests) == 4  # the 4th page holds the first older papers: stop there
    queries = [parse_qs(r.query) for r in requests]
    assert [q["start"] for q in queries] == [["0"], ["500"], ["1000"], ["1500"]]
    assert all(q["search_query"] == ["cat:cs.LG OR cat:cs.CL"] for q in queries)
    assert all(
        q["sortBy"] == ["submittedDate"] and q["sortOrder"] == ["descending"] for q in queries
    )
    assert all(q["max_results"] == [str(BACKFILL_PAGE)] for q in queries)
    assert fake.sleeps == [pytest.approx(3.0)] * 3  # arXiv's interval between requests
    assert report is not None
    assert (report.name, report.status, report.received, report.kept) == (
        BACKFILL_SOURCE,
        "ok",
        1600,
        1600,
    )
    stored = db.get_papers([pid for pid, _ in wanted])
    assert len(stored) == 1600 == db.count_papers()
    assert all(p.listed_at is not None for p in stored.values())
    assert {pid: p.announced for pid, p in stored.items()} == dict(wanted)
    state = db.source_state(BACKFILL_SOURCE)
    assert state is not None and (state.last_error, state.last_count) == (None, 1600)


def test_backfill_types_follow_the_primary_category_and_the_config(
    server: LocalServer, client: HttpClient, db: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs.fetch.listings, "BACKFILL_PAGE", 2)
    entries = [
        entry("2606.00005", TODAY, "cs.CL"),  # primary configured: new
        entry("2606.00004", TODAY, "stat.ML"),  # cross-listed into cs.LG: cross
        entry("2606.00003", TODAY, "cs.LG"),
    ]
    server.serve(
        API_PATH,
        Reply(200, {}, page(entries[:2], total=3, start=0)),
        Reply(200, {}, page(entries[2:], total=3, start=2)),
    )
    report = backfill_arxiv(make_config(server, types='["new"]'), db, client, 2, today=TODAY)
    assert report is not None
    assert (report.received, report.kept, report.skipped) == (3, 2, {"cross": 1})
    assert set(db.get_papers(["2606.00005", "2606.00004", "2606.00003"])) == {
        "2606.00005",
        "2606.00003",
    }
    assert len(server.seen(API_PATH)) == 2  # totalResults reached: no third request


def test_backfill_keeps_the_pages_before_a_failure(
    server: LocalServer, client: HttpClient, db: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs.fetch.listings, "BACKFILL_PAGE", 2)
    papers = days_of(6)
    entries = [entry(pid, day) for pid, day in papers]
    server.serve(
        API_PATH, Reply(200, {}, page(entries[:2], total=6, start=0)), Reply(503, {}, b"busy")
    )
    report = backfill_arxiv(make_config(server), db, client, 7, today=TODAY)
    assert report is not None and report.status == "error"
    assert "HTTP 503" in (report.error or "") and report.new == 2
    assert set(db.get_papers([pid for pid, _ in papers])) == {papers[0][0], papers[1][0]}
    state = db.source_state(BACKFILL_SOURCE)
    assert state is not None and state.last_error == report.error


def test_a_truncated_backfill_page_is_an_error(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    body = page([entry(pid, day) for pid, day in days_of(10)], total=10, start=0)
    server.serve(API_PATH, Reply(200, {}, body[: len(body) // 2]))
    report = backfill_arxiv(make_config(server), db, client, 7, today=TODAY)
    assert report is not None and report.status == "error"
    assert "truncated" in (report.error or "")
    assert db.count_papers() == 0


def test_backfill_leaves_papers_a_listing_brought(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    listed = SourcePaper(
        id="2606.09999",
        title="As announced",
        abstract="The listing's abstract.",
        authors=("Ada Lovelace",),
        categories=("cs.LG",),
        link="https://arxiv.org/abs/2606.09999",
        version=1,
        announced=TODAY,
    )
    db.upsert_papers([listed], source=ARXIV_SOURCE, listed=True)
    server.serve(
        API_PATH,
        Reply(200, {}, page([entry("2606.09999", TODAY - timedelta(days=2))], total=1, start=0)),
    )
    report = backfill_arxiv(make_config(server), db, client, 7, today=TODAY)
    assert report is not None and (report.received, report.kept) == (1, 0)
    stored = db.get_papers(["2606.09999"])["2606.09999"]
    assert (stored.title, stored.announced) == ("As announced", TODAY)  # the exact day stays


def test_backfill_without_arxiv_or_days_does_nothing(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    bare = parse_config('[paperboy]\ndatabase = "sqlite://"\n', Path("c.toml"))
    assert backfill_arxiv(bare, db, client, 7) is None
    assert backfill_arxiv(make_config(server), db, client, 0) is None
    assert server.requests == []


# --- on the first fetch -----------------------------------------------------------------


def listing() -> bytes:
    paper = SourcePaper(
        id="2606.20001",
        title="Today's paper",
        abstract="From the listing.",
        authors=("Ada Lovelace",),
        categories=("cs.LG",),
        link="https://arxiv.org/abs/2606.20001",
        version=1,
        announce_type="new",
    )
    return render_arxiv_rss([paper], categories="cs.LG+cs.CL", announced=TODAY)


def test_the_first_fetch_into_an_empty_database_backfills_once(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, backfill_days=7)
    server.serve(RSS_PATH, Reply(200, {}, listing()))
    backfilled = [entry(pid, day) for pid, day in days_of(5)]
    server.serve(API_PATH, Reply(200, {}, page(backfilled, total=5, start=0)))

    first = fetch_all(config, db, client, today=TODAY)
    second = fetch_all(config, db, client, today=TODAY)

    assert [r.name for r in first] == [ARXIV_SOURCE, BACKFILL_SOURCE]
    assert first[1].new == 5
    assert [r.name for r in second] == [ARXIV_SOURCE]
    assert len(server.seen(API_PATH)) == 1
    assert db.count_papers() == 6
    # A new user's first digest has candidates: every stored paper is listed.
    assert len(db.listed_papers()) == 6


def test_backfill_days_0_turns_the_first_run_backfill_off(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    server.serve(RSS_PATH, Reply(200, {}, listing()))
    reports = fetch_all(make_config(server, backfill_days=0), db, client, today=TODAY)
    assert [r.name for r in reports] == [ARXIV_SOURCE]
    assert server.seen(API_PATH) == []


def test_the_first_run_backfill_goes_on_when_the_listing_fails(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    server.serve(RSS_PATH, Reply(500, {}, b"down"))
    server.serve(API_PATH, Reply(200, {}, page([entry("2606.00001", TODAY)], total=1, start=0)))
    arxiv, backfill = fetch_all(make_config(server), db, client, today=TODAY)
    assert (arxiv.status, backfill.status, backfill.new) == ("error", "ok", 1)


def test_backfill_reports_the_days_covered_page_by_page(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    papers = days_of(3000)
    entries = [entry(pid, day, "cs.LG") for pid, day in papers]
    pages = [
        page(entries[start : start + BACKFILL_PAGE], total=len(entries), start=start)
        for start in range(0, len(entries), BACKFILL_PAGE)
    ]
    server.serve(API_PATH, *[Reply(200, {}, body) for body in pages])
    seen: list[tuple[int, int]] = []
    backfill_arxiv(
        make_config(server),
        db,
        client,
        3,
        today=TODAY,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert len(seen) == 5  # one per page (4), then done
    assert all(total == 3 for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (3, 3)
