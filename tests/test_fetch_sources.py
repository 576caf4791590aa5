"""The fetch job for Hugging Face daily papers and configured RSS/Atom feeds, end to end.

A real local HTTP server serves the saved responses (the Hugging Face URL is routed to it
by a transport that rewrites every request's address); HttpClient, the parsers and SQLite
are the real ones. A timeout is a transport that times out. Nothing reaches the internet.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config, FeedConfig
from paperboy.jobs.core.errors import ParseError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.from_file import ingest_file
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import (
    ARXIV_SOURCE,
    HF_SOURCE,
    SourceReport,
    fetch_all,
    fetch_arxiv,
    fetch_feed,
    fetch_huggingface,
)
from paperboy.jobs.fetch.sources.arxiv_rss import render_arxiv_rss
from paperboy.jobs.storage import Storage, StoredPaper
from tests.http_server import FakeTime, LocalServer, Reply, ToLocal

FIXTURES = Path(__file__).parent / "fixtures"
HF_FILE = FIXTURES / "hf-daily-papers" / "daily_papers.json"
BIORXIV = FIXTURES / "feeds" / "biorxiv-neuroscience.rdf"
JOURNAL = FIXTURES / "feeds" / "journal-atom.xml"
BLOG = FIXTURES / "feeds" / "blog-rss.xml"
RSS_40 = FIXTURES / "arxiv-rss" / "arxiv-rss-2025-08-06-40.xml"

HF_PATH = "/api/daily_papers"
RSS_PATH = "/rss/cs.LG"
BIO_PATH = "/biorxiv_xml/neuroscience"
BLOG_PATH = "/blog/feed/"
TODAY = date(2026, 6, 12)
HF_IDS = [item["paper"]["id"] for item in json.loads(HF_FILE.read_bytes())]


class TimesOut(httpx.BaseTransport):
    """A server that never answers in time (for the requests whose path matches)."""

    def __init__(self, port: int, path: str) -> None:
        self.local = ToLocal(port)
        self.path = path
        self.attempts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.path:
            self.attempts += 1
            raise httpx.ReadTimeout("timed out", request=request)
        return self.local.handle_request(request)


def make_client(transport: httpx.BaseTransport, fake: FakeTime) -> HttpClient:
    return HttpClient(
        contact="ops@example.org",
        timeout=5.0,
        retries=1,
        transport=transport,
        sleep=fake.sleep,
        clock=fake.clock,
    )


@pytest.fixture
def client(server: LocalServer, fake: FakeTime) -> Iterator[HttpClient]:
    with make_client(ToLocal(server.port), fake) as c:
        yield c


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


def make_config(server: LocalServer, *, arxiv: bool = False, hf: bool = True) -> Config:
    text = '[paperboy]\ndatabase = "sqlite://"\n'
    if arxiv:
        text += f'[sources.arxiv]\ncategories = ["cs.LG"]\nbase_url = "{server.base}/rss/"\n'
        text += "backfill_days = 0\n"
    if hf:
        text += "[sources.huggingface]\nenabled = true\n"
    text += f"""
[[sources.feeds]]
name = "bioRxiv neuroscience"
url = "{server.base}{BIO_PATH}"

[[sources.feeds]]
name = "Gradient Notes"
url = "{server.base}{BLOG_PATH}"
"""
    return parse_config(text, Path("/nonexistent/config.toml"))


@pytest.fixture
def config(server: LocalServer) -> Config:
    return make_config(server)


def biorxiv(server: LocalServer) -> FeedConfig:
    return FeedConfig("bioRxiv neuroscience", f"{server.base}{BIO_PATH}")


def everything(db: Storage) -> dict[str, StoredPaper]:
    return db.get_papers([p.id for p in db.listed_papers()])


# --- Hugging Face ----------------------------------------------------------------------


def test_hf_papers_are_listed_papers_with_their_popularity(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    server.serve(HF_PATH, Reply(200, {"ETag": '"hf-1"'}, HF_FILE.read_bytes()))

    report = fetch_huggingface(config, db, client, today=TODAY)

    assert report is not None
    assert (report.name, report.status, report.received, report.new) == (HF_SOURCE, "ok", 30, 30)
    assert report.url == "https://huggingface.co/api/daily_papers"
    stored = everything(db)
    assert set(stored) == set(HF_IDS)
    assert all(p.listed_at is not None and p.title and p.abstract for p in stored.values())
    top = db.trending(day=date(2026, 6, 12), limit=3)
    assert [(t.paper_id, t.upvotes, t.comments, t.rank) for t in top] == [
        ("2606.13681", 118, 3, 1),
        ("2606.13392", 103, 4, 2),
        ("2606.08063", 74, 3, 3),
    ]
    assert len(db.trending()) == 30  # the latest day recorded
    state = db.source_state(HF_SOURCE)
    assert state is not None
    assert (state.last_error, state.last_count, state.last_new, state.etag) == (
        None,
        30,
        30,
        '"hf-1"',
    )
    [request] = server.seen(HF_PATH)
    assert "ops@example.org" in request.headers["user-agent"]


def test_hf_a_304_changes_nothing_and_a_later_answer_updates_the_counts(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    items = json.loads(HF_FILE.read_bytes())
    items[0]["paper"]["upvotes"] = 500  # the day goes on: more votes
    server.serve(
        HF_PATH,
        Reply(200, {"ETag": '"hf-1"'}, HF_FILE.read_bytes()),
        Reply(304, {"ETag": '"hf-1"'}),
        Reply(200, {"ETag": '"hf-2"'}, json.dumps(items).encode()),
    )
    fetch_huggingface(config, db, client, today=TODAY)
    before = everything(db)
    unchanged = fetch_huggingface(config, db, client, today=TODAY)
    assert unchanged is not None and unchanged.status == "unchanged"
    assert server.seen(HF_PATH)[1].headers["if-none-match"] == '"hf-1"'
    assert everything(db) == before

    again = fetch_huggingface(config, db, client, today=TODAY)
    assert again is not None and (again.status, again.new) == ("ok", 0)
    top = db.trending(day=date(2026, 6, 12), limit=1)
    assert [(t.paper_id, t.upvotes, t.rank) for t in top] == [("2606.00467", 500, 1)]
    assert len(db.trending(day=date(2026, 6, 12))) == 30  # replaced, not added


def test_hf_never_replaces_text_from_arxiv_and_keeps_categories(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    pid = "2606.13681"
    arxiv = SourcePaper(
        id=pid,
        title="EvoArena: the title on arXiv",
        abstract="The abstract on arXiv.",
        authors=("A. Author",),
        categories=("cs.AI", "cs.CL"),
        link=f"https://arxiv.org/abs/{pid}",
        version=1,
        announced=date(2026, 6, 11),
    )
    db.upsert_papers([arxiv], source=ARXIV_SOURCE, listed=True)
    server.serve(HF_PATH, Reply(200, {}, HF_FILE.read_bytes()))
    report = fetch_huggingface(config, db, client, today=TODAY)
    assert report is not None and report.status == "ok"
    stored = db.get_papers([pid])[pid]
    assert (stored.title, stored.abstract, stored.categories, stored.announced) == (
        arxiv.title,
        arxiv.abstract,
        arxiv.categories,
        arxiv.announced,
    )
    assert db.trending(limit=1)[0].paper_id == pid


def test_hf_disabled_or_absent_fetches_nothing(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    off = parse_config(
        '[paperboy]\ndatabase = "sqlite://"\n[sources.huggingface]\nenabled = false\n',
        Path("c.toml"),
    )
    absent = parse_config('[paperboy]\ndatabase = "sqlite://"\n', Path("c.toml"))
    assert fetch_huggingface(off, db, client) is None
    assert fetch_huggingface(absent, db, client) is None
    assert fetch_all(off, db, client) == []
    assert server.requests == []


# --- one failing source: a recorded result, nothing lost ------------------------------


FAILURES = [
    pytest.param(Reply(404, {}, b"Not Found"), "HTTP 404", 1, id="404"),
    pytest.param(Reply(429, {"Retry-After": "7"}, b"slow down"), "HTTP 429", 2, id="429"),
    pytest.param(Reply(500, {}, b"oops"), "HTTP 500", 2, id="500"),
    pytest.param(Reply(503, {"Retry-After": "2"}, b"busy"), "HTTP 503", 2, id="503"),
    pytest.param(None, "timed out after 2 attempts", 2, id="timeout"),
    pytest.param(
        Reply(200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html>Oops</html>"),
        "HTML",
        1,
        id="html-200",
    ),
]


def run_failing(
    server: LocalServer,
    fake: FakeTime,
    db: Storage,
    path: str,
    reply: Reply | None,
    fetch: Callable[[HttpClient], object],
) -> int:
    """Serve `reply` at `path` (None: time out) and fetch; returns the attempts made."""
    if reply is None:
        transport = TimesOut(server.port, path)
        with make_client(transport, fake) as client:
            fetch(client)
        return transport.attempts
    server.serve(path, reply)
    with make_client(ToLocal(server.port), fake) as client:
        fetch(client)
    return len(server.seen(path))


@pytest.mark.parametrize(("reply", "match", "attempts"), FAILURES)
def test_hf_failure_is_recorded_and_loses_nothing(
    server: LocalServer,
    fake: FakeTime,
    config: Config,
    db: Storage,
    reply: Reply | None,
    match: str,
    attempts: int,
) -> None:
    server.serve(HF_PATH, Reply(200, {"ETag": '"good"'}, HF_FILE.read_bytes()))
    with make_client(ToLocal(server.port), fake) as first:
        fetch_huggingface(config, db, first, today=TODAY)
    server.routes.clear()
    server.requests.clear()
    before, trending_before = everything(db), db.trending()
    reports: list[SourceReport | None] = []

    made = run_failing(
        server,
        fake,
        db,
        HF_PATH,
        reply,
        lambda c: reports.append(fetch_huggingface(config, db, c, today=TODAY)),
    )

    [report] = reports
    assert report is not None and report.status == "error"
    assert match in (report.error or "")
    assert made == attempts  # retries=1: 429/5xx/timeouts once more, 404 never
    state = db.source_state(HF_SOURCE)
    assert state is not None and state.last_error == report.error
    assert state.etag == '"good"' and state.last_count == 30  # the last good answer's
    assert everything(db) == before and db.trending() == trending_before
    if reply is not None and "Retry-After" in reply.headers:
        assert float(reply.headers["Retry-After"]) in fake.sleeps


@pytest.mark.parametrize(("reply", "match", "attempts"), FAILURES)
def test_feed_failure_is_recorded_and_loses_nothing(
    server: LocalServer,
    fake: FakeTime,
    db: Storage,
    reply: Reply | None,
    match: str,
    attempts: int,
) -> None:
    feed = biorxiv(server)
    server.serve(BIO_PATH, Reply(200, {"ETag": '"good"'}, BIORXIV.read_bytes()))
    with make_client(ToLocal(server.port), fake) as first:
        assert fetch_feed(feed, db, first, today=TODAY).status == "ok"
    server.routes.clear()
    server.requests.clear()
    before = everything(db)
    reports: list[SourceReport | None] = []

    made = run_failing(
        server, fake, db, BIO_PATH, reply, lambda c: reports.append(fetch_feed(feed, db, c))
    )

    [report] = reports
    assert report is not None
    assert report.status == "error" and match in (report.error or "")
    assert made == attempts
    state = db.source_state("bioRxiv neuroscience")
    assert state is not None and state.last_error == report.error
    assert (state.etag, state.last_count) == ('"good"', 5)
    assert everything(db) == before


def test_a_failing_source_does_not_stop_the_others(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, arxiv=True)
    server.serve(RSS_PATH, Reply(200, {}, RSS_40.read_bytes()))
    server.serve(HF_PATH, Reply(500, {}, b"internal error"))
    data = BIORXIV.read_bytes()
    server.serve(BIO_PATH, Reply(200, {}, data[: len(data) // 2]))  # cut short
    server.serve(BLOG_PATH, Reply(200, {}, BLOG.read_bytes()))

    reports = fetch_all(config, db, client, today=TODAY)

    by_name = {r.name: r for r in reports}
    assert list(by_name) == [ARXIV_SOURCE, HF_SOURCE, "bioRxiv neuroscience", "Gradient Notes"]
    assert (by_name[ARXIV_SOURCE].status, by_name[ARXIV_SOURCE].new) == ("ok", 28)
    assert by_name[HF_SOURCE].status == "error"
    assert "HTTP 500" in (by_name[HF_SOURCE].error or "")
    assert by_name["bioRxiv neuroscience"].status == "error"
    assert "truncated" in (by_name["bioRxiv neuroscience"].error or "")
    assert (by_name["Gradient Notes"].status, by_name["Gradient Notes"].new) == ("ok", 4)
    assert db.count_papers() == 28 + 4
    states = {s.name: s for s in db.all_sources()}
    assert set(states) == {ARXIV_SOURCE, HF_SOURCE, "bioRxiv neuroscience", "Gradient Notes"}
    assert states[HF_SOURCE].last_error == by_name[HF_SOURCE].error
    assert states["bioRxiv neuroscience"].last_error == by_name["bioRxiv neuroscience"].error
    assert states["Gradient Notes"].last_error is None
    assert states[ARXIV_SOURCE].last_error is None


# --- feeds through the fetch job --------------------------------------------------------


def test_feed_papers_are_stored_listed_under_the_feed_name(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    server.serve(
        BLOG_PATH,
        Reply(200, {"Last-Modified": "Thu, 11 Jun 2026 18:42:07 GMT"}, BLOG.read_bytes()),
        Reply(304, {}),
    )
    feed = FeedConfig("Gradient Notes", f"{server.base}{BLOG_PATH}")
    report = fetch_feed(feed, db, client, today=TODAY)
    assert (report.status, report.received, report.new) == ("ok", 4, 4)
    stored = everything(db)
    assert set(stored) >= {"2606.13681", "2605.20001", "10.1017/9781009305068"}
    assert all(p.listed_at is not None for p in stored.values())
    again = fetch_feed(feed, db, client, today=TODAY)
    assert again.status == "unchanged"
    assert server.seen(BLOG_PATH)[1].headers["if-modified-since"] == "Thu, 11 Jun 2026 18:42:07 GMT"


def test_undated_feed_items_are_dated_by_the_fetch(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    body = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        b"<item><title>An undated post</title><link>https://b.example/1</link></item>"
        b"</channel></rss>"
    )
    server.serve("/undated", Reply(200, {}, body))
    report = fetch_feed(FeedConfig("u", f"{server.base}/undated"), db, client, today=TODAY)
    assert report.new == 1
    [paper] = everything(db).values()
    assert paper.announced == TODAY


def test_the_same_paper_from_hf_a_blog_and_arxiv_is_one_row(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server)
    server.serve(HF_PATH, Reply(200, {}, HF_FILE.read_bytes()))
    server.serve(BIO_PATH, Reply(200, {}, BIORXIV.read_bytes()))
    server.serve(BLOG_PATH, Reply(200, {}, BLOG.read_bytes()))
    fetch_all(config, db, client, today=TODAY)
    # 2606.13681 is on the HF page and in the blog: one row, the HF (paper's own) title.
    assert db.count_papers() == 30 + 5 + 3
    stored = db.get_papers(["2606.13681"])["2606.13681"]
    assert stored.title.startswith("EvoArena: Tracking Memory Evolution")


def test_a_feed_of_thousands_of_items_through_the_fetch_job(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    items = "".join(
        f"<item><title>Paper {n}</title><link>https://doi.org/10.5555/p{n}</link>"
        f"<description>&lt;p&gt;Abstract {n}&lt;/p&gt;</description>"
        f"<pubDate>Thu, 11 Jun 2026 0{n % 10}:00:00 GMT</pubDate></item>"
        for n in range(4000)
    )
    head = "<?xml version='1.0'?><rss version='2.0'><channel><title>Big</title>"
    body = f"{head}{items}</channel></rss>"
    server.serve("/big", Reply(200, {}, body.encode(), chunked=True))
    report = fetch_feed(FeedConfig("big", f"{server.base}/big"), db, client)
    assert (report.status, report.received, report.new) == ("ok", 4000, 4000)
    assert db.count_papers() == 4000
    assert db.get_papers(["10.5555/p3999"])["10.5555/p3999"].abstract == "Abstract 3999"


def test_an_arxiv_listing_of_thousands_through_the_fetch_job(
    server: LocalServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(server, arxiv=True, hf=False)
    papers = [
        SourcePaper(
            id=f"2508.{n:05d}",
            title=f"Paper {n}",
            abstract=f"Abstract {n}.",
            authors=("Ada Lovelace",),
            categories=("cs.LG",),
            link=f"https://arxiv.org/abs/2508.{n:05d}",
            version=1,
            announce_type="new" if n % 4 else "replace",
        )
        for n in range(1, 6001)
    ]
    server.serve(
        RSS_PATH,
        Reply(200, {}, render_arxiv_rss(papers, categories="cs.LG", announced=date(2025, 8, 6))),
    )
    report = fetch_arxiv(config, db, client)
    assert report is not None
    assert (report.received, report.kept, report.skipped) == (6000, 4500, {"replace": 1500})
    assert db.count_papers() == 4500


def test_non_utf8_bytes_from_each_new_source(
    server: LocalServer, client: HttpClient, config: Config, db: Storage
) -> None:
    items = json.loads(HF_FILE.read_bytes())[:1]
    items[0]["paper"]["authors"] = [{"name": "Zo\u00eb"}]
    hf_body = json.dumps(items).encode().replace(b"\\u00eb", b"\xeb")  # Latin-1, not UTF-8
    server.serve(HF_PATH, Reply(200, {}, hf_body))
    feed_body = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
        "<item><title>Caf\u00e9 et r\u00e9sum\u00e9</title><link>https://b.example/1</link></item>"
        "</channel></rss>"
    ).encode("latin-1")  # declared UTF-8, written in Latin-1
    server.serve(BIO_PATH, Reply(200, {}, feed_body))

    hf = fetch_huggingface(config, db, client, today=TODAY)
    feed = fetch_feed(biorxiv(server), db, client, today=TODAY)

    assert hf is not None and hf.status == "ok" and feed.status == "ok"
    assert db.get_papers([items[0]["paper"]["id"]])[items[0]["paper"]["id"]].authors == (
        "Zo\u00eb",
    )
    titles = {p.title for p in everything(db).values()}
    assert "Caf\u00e9 et r\u00e9sum\u00e9" in titles


# --- paperboy fetch --from-file --------------------------------------------------------


def test_ingest_a_saved_hf_answer_recognised_by_its_shape(db: Storage) -> None:
    report = ingest_file(db, HF_FILE, today=TODAY)
    assert (report.name, report.status, report.new) == ("file:daily_papers.json", "ok", 30)
    assert db.trending(limit=1)[0].paper_id == "2606.13681"
    assert all(p.listed_at is not None for p in everything(db).values())


def test_ingest_a_hf_capture_with_source(db: Storage, tmp_path: Path) -> None:
    capture = tmp_path / "hf.json"
    capture.write_text(
        json.dumps(
            {
                "url": "https://huggingface.co/api/daily_papers?date=2026-06-12",
                "status_code": 200,
                "body": HF_FILE.read_text(encoding="utf-8"),
            }
        )
    )
    report = ingest_file(db, capture, source=HF_SOURCE, today=TODAY)
    assert (report.received, report.new) == (30, 30)
    assert report.url.startswith("https://huggingface.co/")


def test_ingest_a_broken_hf_file_names_it(db: Storage, tmp_path: Path) -> None:
    broken = tmp_path / "daily.json"
    broken.write_bytes(HF_FILE.read_bytes()[:10000])
    with pytest.raises(ParseError) as caught:
        ingest_file(db, broken, source=HF_SOURCE)
    assert str(broken) in str(caught.value) and "not valid JSON" in str(caught.value)
    assert db.count_papers() == 0


@pytest.mark.parametrize(("path", "count"), [(BIORXIV, 5), (JOURNAL, 4), (BLOG, 4)])
def test_ingest_a_saved_feed_named_by_source(db: Storage, path: Path, count: int) -> None:
    report = ingest_file(db, path, source="bioRxiv neuroscience", today=TODAY)
    assert (report.status, report.received, report.new) == ("ok", count, count)
    assert db.count_papers() == count


def test_a_feed_file_without_source_says_to_name_it(db: Storage) -> None:
    for path in (BIORXIV, BLOG, JOURNAL):
        with pytest.raises(ParseError, match="--source NAME") as caught:
            ingest_file(db, path)
        assert str(path) in str(caught.value)
    assert db.count_papers() == 0


def write_config(tmp_path: Path, server_base: str = "http://127.0.0.1:9") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[paperboy]
database = "sqlite:///{tmp_path / "paperboy.db"}"

[sources.arxiv]
categories = ["cs.LG"]

[sources.huggingface]
enabled = true

[[sources.feeds]]
name = "bioRxiv neuroscience"
url = "{server_base}{BIO_PATH}"
""",
        encoding="utf-8",
    )
    return config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_fetch_from_files_of_every_source(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    code, out, err = run("--config", config, "fetch", "--from-file", str(HF_FILE))
    assert code == 0, err
    assert "file:daily_papers.json: 30 received, 30 kept (30 new, 0 updated)" in out
    code, out, err = run(
        "--config", config, "fetch", "--from-file", str(BIORXIV), "--source", "bioRxiv neuroscience"
    )
    assert code == 0, err
    assert "5 received, 5 kept (5 new" in out
    code, out, err = run("--config", config, "fetch", "--from-file", str(BLOG))
    assert code == 2 and "--source NAME" in err  # a usage error


def test_cli_fetch_usage_errors_exit_2(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    code, _, err = run("--config", config, "fetch", "--source", "nature")
    assert code == 2 and "no such source" in err and "bioRxiv neuroscience" in err
    code, _, err = run("--config", config, "fetch", "--backfill", "3", "--from-file", str(HF_FILE))
    assert code == 2 and "--backfill" in err
    assert run("--config", config, "fetch", "--backfill", "0")[0] == 2
    bare = tmp_path / "bare.toml"
    bare.write_text(f'[paperboy]\ndatabase = "sqlite:///{tmp_path / "b.db"}"\n')
    code, _, err = run("--config", str(bare), "fetch", "--backfill", "3")
    assert code == 2 and "[sources.arxiv]" in err
    code, _, err = run("--config", str(bare), "fetch", "--source", "huggingface")
    assert code == 2 and "not enabled" in err


def test_status_shows_each_new_source_and_its_error(
    server: LocalServer, fake: FakeTime, tmp_path: Path
) -> None:
    config_path = write_config(tmp_path, server.base)
    from paperboy.jobs.config.load import load_config

    config = load_config(config_path)
    server.serve(HF_PATH, Reply(200, {}, HF_FILE.read_bytes()))
    server.serve(BIO_PATH, Reply(503, {}, b"busy"))
    with Storage.open(config.database) as storage, make_client(ToLocal(server.port), fake) as c:
        fetch_huggingface(config, storage, c, today=TODAY)
        fetch_feed(config.feeds[0], storage, c)

    code, out, _ = run("--config", str(config_path), "status")
    assert code == 1  # a failing source needs attention
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ":" in line}
    assert "ok, 30 items" in lines["huggingface"]
    assert (
        "FAILING" in lines["bioRxiv neuroscience"] and "HTTP 503" in lines["bioRxiv neuroscience"]
    )
    code, out, _ = run("--config", str(config_path), "status", "--format", "json")
    row = json.loads(out)
    errors = {s["source"]: s["error"] for s in row["sources"]}
    assert errors["huggingface"] is None and "HTTP 503" in errors["bioRxiv neuroscience"]
