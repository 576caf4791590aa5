"""One bad item or one bad source never stops the fetch (issue #20, item 20).

Hostile items (a Hugging Face count no database holds, a NUL byte in an RSS title) are
made from the real fixtures as inline bytes; every test runs on SQLite and on the real
local PostgreSQL (the `storage` fixture), where a NUL byte is refused by the text type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.records import ParsedFeed, SourcePaper
from paperboy.jobs.fetch import listings
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import ARXIV_SOURCE, HF_SOURCE, fetch_all
from paperboy.jobs.storage import Storage
from tests.http_server import FakeTime, LocalServer, Reply, ToLocal

FIXTURES = Path(__file__).parent / "fixtures"
HF_FILE = FIXTURES / "hf-daily-papers" / "daily_papers.json"
RSS_40 = FIXTURES / "arxiv-rss" / "arxiv-rss-2025-08-06-40.xml"
BIORXIV = FIXTURES / "feeds" / "biorxiv-neuroscience.rdf"
BLOG = FIXTURES / "feeds" / "blog-rss.xml"

HF_PATH = "/api/daily_papers"
RSS_PATH = "/rss/cs.LG"
BIO_PATH = "/biorxiv_xml/neuroscience"
BLOG_PATH = "/blog/feed/"
BIO, BLOG_NAME = "bioRxiv neuroscience", "Gradient Notes"
TODAY = date(2026, 6, 12)

# What a hostile daily papers answer puts in one item's "upvotes" (raw JSON text).
HOSTILE_COUNTS = ["999999999999999999999", "1e400", "NaN", "-1e400"]


def hf_with_hostile_count(raw: str) -> tuple[bytes, str]:
    """The daily papers fixture with one item's upvotes replaced by `raw` JSON text."""
    items = json.loads(HF_FILE.read_bytes())
    items[3]["paper"]["upvotes"] = "__HOSTILE__"
    text = json.dumps(items).replace('"__HOSTILE__"', raw)
    return text.encode("utf-8"), str(items[3]["paper"]["id"])


def rss_with_nul_title() -> tuple[bytes, str]:
    """The 40-item arXiv listing with a raw NUL byte in its first item's title."""
    data = RSS_40.read_bytes()
    start = data.index(b"<title>", data.index(b"<item")) + len(b"<title>")
    link = data.index(b"<link>", start) + len(b"<link>")
    first_id = data[link : data.index(b"</link>", link)].decode().rsplit("/", 1)[-1]
    return data[:start] + b"Evil\x00 " + data[start:], first_id.split("v")[0]


def make_config(server: LocalServer) -> Config:
    text = f"""
[paperboy]
database = "sqlite://"

[sources.arxiv]
categories = ["cs.LG"]
base_url = "{server.base}/rss/"
backfill_days = 0

[sources.huggingface]
enabled = true
url = "{server.base}{HF_PATH}"

[[sources.feeds]]
name = "{BIO}"
url = "{server.base}{BIO_PATH}"

[[sources.feeds]]
name = "{BLOG_NAME}"
url = "{server.base}{BLOG_PATH}"
"""
    return parse_config(text, Path("/nonexistent/config.toml"))


@pytest.fixture
def client(server: LocalServer, fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(
        retries=0, transport=ToLocal(server.port), sleep=fake.sleep, clock=fake.clock
    ) as c:
        yield c


def serve_good(server: LocalServer) -> None:
    server.serve(RSS_PATH, Reply(200, {}, RSS_40.read_bytes()))
    server.serve(HF_PATH, Reply(200, {}, HF_FILE.read_bytes()))
    server.serve(BIO_PATH, Reply(200, {}, BIORXIV.read_bytes()))
    server.serve(BLOG_PATH, Reply(200, {}, BLOG.read_bytes()))


@pytest.mark.parametrize("raw", HOSTILE_COUNTS)
def test_a_hostile_hf_item_is_skipped_and_counted_and_the_rest_goes_on(
    server: LocalServer, client: HttpClient, storage: Storage, raw: str
) -> None:
    serve_good(server)
    body, hostile_id = hf_with_hostile_count(raw)
    server.routes.pop(HF_PATH)
    server.serve(HF_PATH, Reply(200, {}, body))

    reports = {r.name: r for r in fetch_all(make_config(server), storage, client, today=TODAY)}

    hf = reports[HF_SOURCE]
    assert (hf.status, hf.received, hf.kept, hf.new) == ("ok", 30, 29, 29)
    assert hf.skipped == {"unreadable": 1}  # listings.UNREADABLE
    stored = storage.get_papers([str(i["paper"]["id"]) for i in json.loads(HF_FILE.read_bytes())])
    assert len(stored) == 29 and hostile_id not in stored
    assert len(storage.trending()) == 29
    # the sources after it were fetched
    assert reports[BIO].status == "ok" and reports[BIO].new == 5
    assert reports[BLOG_NAME].status == "ok" and reports[BLOG_NAME].kept == 4
    assert all(s.last_error is None for s in storage.all_sources())


def test_a_nul_byte_in_one_rss_title_loses_nothing(
    server: LocalServer, client: HttpClient, storage: Storage
) -> None:
    serve_good(server)
    body, evil_id = rss_with_nul_title()
    server.routes.pop(RSS_PATH)
    server.serve(RSS_PATH, Reply(200, {}, body))

    reports = {r.name: r for r in fetch_all(make_config(server), storage, client, today=TODAY)}

    arxiv = reports[ARXIV_SOURCE]
    assert (arxiv.status, arxiv.new, arxiv.error) == ("ok", 28, None)
    evil = storage.get_papers([evil_id])[evil_id]
    assert evil.title.startswith("Evil ") and "\x00" not in evil.title
    assert reports[HF_SOURCE].status == "ok" and reports[HF_SOURCE].new == 30
    assert reports[BIO].status == reports[BLOG_NAME].status == "ok"
    assert all(s.last_error is None for s in storage.all_sources())


def test_records_drop_what_no_database_stores() -> None:
    paper = SourcePaper(
        id="2401.00001",
        title="A\x00B\ud800C",
        abstract="x\x00",
        authors=("Ada\x00 Lovelace", "Grace"),
        categories=("cs.LG",),
        link="https://arxiv.org/abs/2401.00001",
        tldr="\udfff",
    )
    assert (paper.title, paper.abstract, paper.authors, paper.tldr) == (
        "ABC",
        "x",
        ("Ada Lovelace", "Grace"),
        "",
    )


def test_a_source_that_raises_the_unexpected_is_recorded_as_failed(
    server: LocalServer,
    client: HttpClient,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_good(server)
    real = listings.parse_feed

    def breaks_on_biorxiv(data: bytes, *, url: str = "", name: str = "") -> ParsedFeed:
        if name == BIO:
            raise KeyError("a defect this feed's data provoked")
        return real(data, url=url, name=name)

    monkeypatch.setattr(listings, "parse_feed", breaks_on_biorxiv)

    reports = {r.name: r for r in fetch_all(make_config(server), storage, client, today=TODAY)}

    bio = reports[BIO]
    assert bio.status == "error"
    assert bio.error is not None and "unexpected error: KeyError" in bio.error
    state = storage.source_state(BIO)
    assert state is not None and state.last_error == bio.error
    assert reports[BLOG_NAME].status == "ok" and reports[BLOG_NAME].kept == 4  # after it
    assert reports[ARXIV_SOURCE].status == reports[HF_SOURCE].status == "ok"


def test_cli_fetch_exits_1_on_an_unexpected_failure_like_on_any_failure(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paperboy fetch`: a failed source exits 1 (SourceError or not), no traceback, and
    `paperboy status` shows its error; a skipped item is counted in the output."""
    server.serve(HF_PATH, Reply(200, {}, hf_with_hostile_count("1e400")[0]))
    server.serve(BIO_PATH, Reply(200, {}, BIORXIV.read_bytes()))
    server.serve(BLOG_PATH, Reply(200, {}, BLOG.read_bytes()))
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[paperboy]
database = "sqlite:///{tmp_path / "paperboy.db"}"

[sources.huggingface]
enabled = true
url = "{server.base}{HF_PATH}"

[[sources.feeds]]
name = "{BIO}"
url = "{server.base}{BIO_PATH}"

[[sources.feeds]]
name = "{BLOG_NAME}"
url = "{server.base}{BLOG_PATH}"
""",
        encoding="utf-8",
    )
    real = listings.parse_feed

    def breaks_on_biorxiv(data: bytes, *, url: str = "", name: str = "") -> ParsedFeed:
        if name == BIO:
            raise ValueError("a defect this feed's data provoked")
        return real(data, url=url, name=name)

    monkeypatch.setattr(listings, "parse_feed", breaks_on_biorxiv)
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "fetch", "--encode-for", "0"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "huggingface: 30 received, 29 kept (29 new, 0 updated); skipped 1 unreadable" in (
        result.stdout
    )
    assert f"{BIO}: FAILED: unexpected error: ValueError" in result.stdout
    assert f"{BLOG_NAME}: 4 received, 4 kept (" in result.stdout
    status = runner.invoke(cli, ["--config", str(config), "status"])
    line = next(x for x in status.stdout.splitlines() if x.strip().startswith(BIO))
    assert "FAILING" in line and "unexpected error: ValueError" in line
