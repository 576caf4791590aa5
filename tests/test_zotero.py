"""Zotero, live (issue #15): a library followed through additions, deletions, collection
changes and failures, against a Zotero Web API v3 server on 127.0.0.1 (tests/zotero_server.py).

The client, the parser, the sync and SQLite are the real ones; time is a FakeTime, so a
Retry-After or a Backoff is a recorded sleep, not a wait.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import ConfigError, ParseError
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import fetch_all
from paperboy.jobs.fetch.sources.zotero_api import (
    items_url,
    next_link,
    parse_collections,
    parse_deleted,
    parse_items,
)
from paperboy.jobs.fetch.zotero_sync import sync_user
from paperboy.jobs.ranking.candidates import candidates_for, profile_for
from paperboy.jobs.storage import Storage, utcnow
from tests.http_server import FakeTime, LocalServer, Reply
from tests.zotero_server import (
    FIXTURES,
    KEY,
    LIBRARY,
    Fault,
    Library,
    ZoteroServer,
    sample_library,
    template_items,
)

ENV = "PAPERBOY_TEST_ZOTERO_KEY"


def make_config(
    base: str,
    *,
    collections: list[str] | None = None,
    exclude_tags: list[str] | None = None,
    env: str = ENV,
    extra_users: str = "",
    database: str = "sqlite://",
) -> Config:
    zot = f'library = "{LIBRARY}"\napi_key_env = "{env}"\nurl = "{base}"\n'
    if collections is not None:
        zot += f"collections = {json.dumps(collections)}\n"
    if exclude_tags is not None:
        zot += f"exclude_tags = {json.dumps(exclude_tags)}\n"
    text = f"""
[paperboy]
database = "{database}"

[[users]]
name = "ada"
email = "ada@example.org"

[users.zotero]
{zot}
{extra_users}
"""
    return parse_config(text, Path("/nonexistent/config.toml"))


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(timeout=10, retries=1, sleep=fake.sleep, clock=fake.clock) as c:
        yield c


@pytest.fixture
def big() -> Iterator[tuple[ZoteroServer, object]]:
    library, expected = sample_library(3000)
    server = ZoteroServer(library)
    try:
        yield server, expected
    finally:
        server.stop()


@pytest.fixture
def small() -> Iterator[ZoteroServer]:
    """The documented page of five items (tests/fixtures/zotero/items-page.json)."""
    library = Library()
    library.add_collection("BCDF1234", "To read")
    library.add_collection("THES5678", "Thesis")
    for item in template_items():
        library.add(item["data"], key=item["key"])
    server = ZoteroServer(library)
    try:
        yield server
    finally:
        server.stop()


# --- the parser, on the documented shapes ----------------------------------------------


def test_items_parse_into_papers_with_canonical_ids() -> None:
    items = {i.key: i for i in parse_items((FIXTURES / "items-page.json").read_bytes())}
    vaswani = items["X42A7DEB"]
    assert (vaswani.arxiv_id, vaswani.paper_id, vaswani.item_type) == (
        "1706.03762",
        "1706.03762",
        "preprint",
    )
    assert vaswani.authors == ("Ashish Vaswani", "Noam Shazeer", "Niki Parmar")
    assert vaswani.collections == ("BCDF1234",) and "to-read" in vaswani.tags
    sutton = items["ABCD2345"]
    assert (sutton.arxiv_id, sutton.paper_id) == (None, "10.1007/bf00115009")
    assert sutton.authors == ("Richard S. Sutton",)  # the editor is not an author
    assert not items["PDF99999"].is_paper and not items["NOTE1111"].is_paper
    lstm = items["TRASH777"]
    assert lstm.trashed and lstm.paper_id == "10.1162/neco.1997.9.8.1735"  # DOI in Extra
    paper = vaswani.to_source_paper()
    assert paper is not None and paper.link == "https://arxiv.org/abs/1706.03762"


def test_deleted_collections_and_links_parse() -> None:
    assert parse_deleted((FIXTURES / "deleted.json").read_bytes()) == ["KBCD2345", "GHIJ6789"]
    assert parse_collections((FIXTURES / "collections.json").read_bytes()) == {
        "BCDF1234": "To read",
        "THES5678": "Thesis",
    }
    header = (
        '<https://api.zotero.org/users/1/items?start=100&limit=100>; rel="next", '
        '<https://api.zotero.org/users/1/items?start=2900&limit=100>; rel="last"'
    )
    assert next_link(header) == "https://api.zotero.org/users/1/items?start=100&limit=100"
    assert next_link('<https://x/items?start=0>; rel="first"') is None
    assert next_link(None) is None


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty"),
        (b'[{"key": "A", "data": {"itemType": "book"', "not valid JSON"),
        (b'{"message": "nope"}', "not an array"),
        (b'[{"key": "A"}]', "has no data"),
    ],
)
def test_malformed_items_are_a_clear_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_items(body, url="https://api.zotero.org/users/1/items")


# --- a 3,000-item library --------------------------------------------------------------


def test_a_3000_item_library_syncs_page_by_page_then_answers_304(
    big: tuple[ZoteroServer, object], client: HttpClient, db: Storage
) -> None:
    server, expected = big
    config = make_config(server.base)
    user = config.user("ada")

    report = sync_user(user, db, client)

    assert report.status == "ok" and report.full and report.received == 3000
    pages = server.seen("items")
    assert len(pages) == 30  # 100 items a page, following Link rel="next"
    assert all(h["zotero-api-version"] == "3" and h["zotero-api-key"] == KEY for _, h in pages)
    want = set(expected.arxiv) | set(expected.other)  # type: ignore[attr-defined]
    assert set(db.zotero_paper_ids("ada")) == want
    assert report.total == len(want) and report.version == server.library.version
    # arXiv items are stored with their Zotero text; the others under their DOI
    stored = db.get_papers(sorted(want))
    assert set(stored) == want and all(p.title and p.abstract for p in stored.values())
    # they are the user's saved papers now
    profile = profile_for(db, user)
    assert {p.id for p in profile.saved} == want

    again = sync_user(user, db, client)

    assert again.status == "unchanged"
    last_path, last_headers = server.requests[-1]
    assert last_headers["if-modified-since-version"] == str(server.library.version)
    assert f"since={server.library.version}" in last_path
    assert len(server.seen("items")) == 31 and not server.seen("deleted")
    assert set(db.zotero_paper_ids("ada")) == want


def test_an_addition_and_a_deletion_are_synced_incrementally(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    config = make_config(small.base)
    user = config.user("ada")
    sync_user(user, db, client)
    assert set(db.zotero_paper_ids("ada")) == {"1706.03762", "10.1007/bf00115009"}
    synced = small.library.version

    added = small.library.add(
        {
            "itemType": "preprint",
            "title": "Language Models are Few-Shot Learners",
            "abstractNote": "We show that scaling up language models greatly improves "
            "task-agnostic, few-shot performance.",
            "creators": [{"creatorType": "author", "firstName": "Tom", "lastName": "Brown"}],
            "archiveID": "arXiv:2005.14165",
            "collections": [],
            "tags": [],
        }
    )
    small.library.delete("ABCD2345")
    report = sync_user(user, db, client)

    assert (report.status, report.full, report.added, report.removed) == ("ok", False, 1, 1)
    assert report.received == 1  # only what changed since the synced version
    assert set(db.zotero_paper_ids("ada")) == {"1706.03762", "2005.14165"}
    items_path, _ = small.seen("items")[-1]
    deleted_path, _ = small.seen("deleted")[-1]
    assert f"since={synced}" in items_path and f"since={synced}" in deleted_path
    assert db.zotero_items("ada")[added] == "2005.14165"
    # the deleted paper left the profile, and is a candidate again like any other paper
    assert "10.1007/bf00115009" not in {p.id for p in profile_for(db, user).saved}

    small.library.modify("X42A7DEB", deleted=1)  # moved to the trash
    assert sync_user(user, db, client).removed == 1
    assert db.zotero_paper_ids("ada") == ["2005.14165"]


def test_collections_follow_items_moving_in_and_out(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    user = make_config(small.base, collections=["To read"]).user("ada")
    sync_user(user, db, client)
    assert db.zotero_paper_ids("ada") == ["1706.03762"]  # the only paper in "To read"

    small.library.modify("X42A7DEB", collections=["THES5678"])  # moved out
    small.library.modify("ABCD2345", collections=["BCDF1234"])  # moved in
    report = sync_user(user, db, client)

    assert (report.full, report.added, report.removed) == (False, 1, 1)
    assert db.zotero_paper_ids("ada") == ["10.1007/bf00115009"]

    # naming another collection in config.toml starts again from version 0
    both = make_config(small.base, collections=["To read", "thesis"]).user("ada")
    report = sync_user(both, db, client)
    assert report.full and set(db.zotero_paper_ids("ada")) == {
        "1706.03762",
        "10.1007/bf00115009",
    }


def test_excluded_tags_and_a_missing_collection(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    user = make_config(small.base, exclude_tags=["TO-READ"]).user("ada")
    sync_user(user, db, client)
    assert db.zotero_paper_ids("ada") == ["10.1007/bf00115009"]

    wrong = make_config(small.base, collections=["To raed"]).user("ada")
    report = sync_user(wrong, db, client)
    assert report.status == "error"
    assert "no collection named 'To raed'" in (report.error or "")
    assert "'To read'" in (report.error or "")
    assert db.zotero_paper_ids("ada") == ["10.1007/bf00115009"]  # untouched


# --- failures never empty a profile ----------------------------------------------------


def test_a_bad_key_is_the_users_error_and_keeps_the_profile(
    small: ZoteroServer, client: HttpClient, db: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_config(small.base).user("ada")
    sync_user(user, db, client)
    before = db.zotero_paper_ids("ada")
    small.library.delete("ABCD2345")

    monkeypatch.setenv(ENV, "revoked-key")
    report = sync_user(user, db, client)

    assert report.status == "error" and "403" in (report.error or "")
    assert "api_key_env" in (report.error or "")
    assert "revoked-key" not in (report.error or "")  # never the secret
    assert db.zotero_paper_ids("ada") == before
    state = db.zotero_state("ada")
    assert state is not None and state.last_error == report.error

    monkeypatch.setenv(ENV, KEY)
    assert sync_user(user, db, client).removed == 1
    state = db.zotero_state("ada")
    assert state is not None and state.last_error is None


def test_a_redirect_to_another_host_never_carries_the_key(
    small: ZoteroServer, client: HttpClient, db: Storage, server: LocalServer
) -> None:
    """httpx keeps a custom header (Zotero-API-Key) on a redirect to another host: the
    key would reach whoever the API (or a man in the middle) redirects to. A different
    port on 127.0.0.1 is another origin."""
    elsewhere = server.serve(f"/{LIBRARY}/items", Reply(200, {}, b"[]"))
    small.fail_next(Fault("items", 302, {"Location": elsewhere}))

    report = sync_user(make_config(small.base).user("ada"), db, client)

    assert not any("zotero-api-key" in seen.headers for seen in server.requests)
    assert server.requests == []  # not followed at all
    assert report.status == "error" and "redirected to another host" in (report.error or "")
    assert server.base.split("//")[1] in (report.error or "") and KEY not in (report.error or "")
    assert not db.zotero_paper_ids("ada")


def test_a_redirect_within_the_api_keeps_the_key_and_syncs(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    small.fail_next(Fault("items", 301, {"Location": items_url(small.base, LIBRARY, since=0)}))
    report = sync_user(make_config(small.base).user("ada"), db, client)
    assert report.status == "ok" and report.total > 0
    assert all(headers.get("zotero-api-key") == KEY for _path, headers in small.requests)


def test_a_503_with_a_long_retry_after_defers_like_a_429(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    """A wait is read from the typed error (status, Retry-After), not from its words."""
    user = make_config(small.base).user("ada")
    small.fail_next(Fault("items", 503, {"Retry-After": "3600"}))
    now = utcnow()
    report = sync_user(user, db, client, now=now)
    assert report.status == "error" and "HTTP 503" in (report.error or "")
    state = db.zotero_state("ada")
    assert state is not None and state.retry_after is not None
    assert timedelta(minutes=59) < state.retry_after - now <= timedelta(hours=1, seconds=5)


def test_an_unset_key_variable_is_an_error_for_that_user_only(
    small: ZoteroServer, client: HttpClient, db: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV)
    report = sync_user(make_config(small.base).user("ada"), db, client)
    assert report.status == "error" and f"${ENV}" in (report.error or "")
    assert not small.requests  # nothing was asked without a key


def test_429_with_a_short_retry_after_is_waited_out(
    small: ZoteroServer, client: HttpClient, db: Storage, fake: FakeTime
) -> None:
    small.fail_next(Fault("items", 429, {"Retry-After": "7"}))
    report = sync_user(make_config(small.base).user("ada"), db, client)
    assert report.status == "ok" and 7.0 in fake.sleeps


def test_429_with_a_long_retry_after_defers_the_next_syncs(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    user = make_config(small.base).user("ada")
    sync_user(user, db, client)
    before = db.zotero_paper_ids("ada")
    small.library.delete("ABCD2345")
    small.fail_next(Fault("items", 429, {"Retry-After": "3600"}))
    now = utcnow()

    report = sync_user(user, db, client, now=now)

    assert report.status == "error" and "429" in (report.error or "")
    assert db.zotero_paper_ids("ada") == before
    asked = len(small.requests)
    deferred = sync_user(user, db, client, now=now + timedelta(minutes=30))
    assert deferred.status == "deferred" and len(small.requests) == asked  # not even asked
    later = sync_user(user, db, client, now=now + timedelta(hours=2))
    assert later.status == "ok" and later.removed == 1


def test_a_backoff_header_is_honoured_between_pages(
    big: tuple[ZoteroServer, object], client: HttpClient, db: Storage, fake: FakeTime
) -> None:
    server, _expected = big
    server.fail_next(Fault("items", 200, {"Backoff": "30"}, after=3))
    report = sync_user(make_config(server.base).user("ada"), db, client)
    assert report.status == "ok" and fake.sleeps == [30.0]


def test_a_truncated_page_changes_nothing_and_the_next_sync_completes(
    big: tuple[ZoteroServer, object], client: HttpClient, db: Storage
) -> None:
    server, expected = big
    user = make_config(server.base).user("ada")
    server.fail_next(Fault("items", truncate=True, after=12))  # page 13 of 30, cut short

    report = sync_user(user, db, client)

    assert report.status == "error" and "not valid JSON" in (report.error or "")
    assert db.zotero_paper_ids("ada") == []  # not half a library
    state = db.zotero_state("ada")
    assert state is not None and state.version is None

    report = sync_user(user, db, client)
    assert report.status == "ok" and report.full
    assert len(db.zotero_paper_ids("ada")) == len(expected.arxiv | expected.other)  # type: ignore[attr-defined]


def test_an_outage_mid_sync_keeps_the_last_complete_sync(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    user = make_config(small.base).user("ada")
    sync_user(user, db, client)
    before = (db.zotero_paper_ids("ada"), db.zotero_state("ada"))
    small.library.delete("ABCD2345")
    small.fail_next(Fault("deleted", 503))
    small.fail_next(Fault("deleted", 503))  # and again on the retry

    report = sync_user(user, db, client)

    assert report.status == "error" and "503" in (report.error or "")
    assert db.zotero_paper_ids("ada") == before[0]
    state = db.zotero_state("ada")
    assert state is not None and before[1] is not None and state.version == before[1].version


# --- in the fetch job, the digest and the CLI ------------------------------------------


def test_one_users_failure_never_stops_the_others(
    small: ZoteroServer, client: HttpClient, db: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOB_ZOTERO_KEY", "wrong")
    config = make_config(
        small.base,
        extra_users=f"""
[[users]]
name = "bob"
email = "bob@example.org"
[users.zotero]
library = "{LIBRARY}"
api_key_env = "BOB_ZOTERO_KEY"
url = "{small.base}"
""",
    )
    reports = {r.name: r for r in fetch_all(config, db, client)}

    assert reports["zotero:bob"].status == "error"
    assert reports["zotero:ada"].status == "ok"
    assert db.zotero_paper_ids("bob") == []
    assert set(db.zotero_paper_ids("ada")) == {"1706.03762", "10.1007/bf00115009"}


def test_synced_papers_are_never_candidates(
    small: ZoteroServer, client: HttpClient, db: Storage
) -> None:
    from paperboy.jobs.core.records import SourcePaper

    user = make_config(small.base).user("ada")
    sync_user(user, db, client)
    listed = [
        SourcePaper("1706.03762", "Attention Is All You Need", "x", (), ("cs.CL",), ""),
        SourcePaper("2401.01234", "Something new", "y", (), ("cs.CL",), ""),
    ]
    db.upsert_papers(listed, source="arxiv", listed=True)
    assert [p.id for p in candidates_for(db, user)] == ["2401.01234"]


def test_fetch_and_status_from_the_command_line(small: ZoteroServer, tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    database = f"sqlite:///{tmp_path / 'p.db'}"
    text = f"""
[paperboy]
database = "{database}"

[[users]]
name = "ada"
email = "ada@example.org"

[users.zotero]
library = "{LIBRARY}"
api_key_env = "{ENV}"
url = "{small.base}"
"""
    config_file.write_text(text)
    runner = CliRunner()

    result = runner.invoke(cli, ["--config", str(config_file), "fetch", "--source", "zotero"])
    assert result.exit_code == 0, result.output
    assert "zotero:ada" in result.output

    result = runner.invoke(cli, ["--config", str(config_file), "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    zotero = row["users"][0]["zotero"]
    assert zotero["library"] == LIBRARY and zotero["items"] == 2 and zotero["error"] is None
    assert zotero["version"] == small.library.version and zotero["last_sync"]

    result = runner.invoke(cli, ["--config", str(config_file), "profile", "list", "--user", "ada"])
    assert result.exit_code == 0, result.output
    assert "Zotero (users/123456) (2):" in result.output
    assert "Attention Is All You Need" in result.output

    small.fail_next(Fault("items", 403))
    result = runner.invoke(cli, ["--config", str(config_file), "fetch", "--source", "zotero"])
    assert result.exit_code == 1 and "403" in result.output
    result = runner.invoke(cli, ["--config", str(config_file), "status"])
    assert result.exit_code == 1
    assert "zotero users/123456" in result.output and "FAILING" in result.output
    assert "version" in result.output


# --- config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, message",
    [
        ('library = "123456"', 'must be "users/<user id>"'),
        ('library = "users/1"\napi_key = "abc"', "secrets never live in config.toml"),
        ('library = "users/1"\ncolections = ["x"]', "did you mean 'collections'"),
        ('library = "users/1"\nurl = "ftp://x"', "must be an http(s) URL"),
    ],
)
def test_bad_zotero_tables_are_config_errors(table: str, message: str) -> None:
    text = f'[[users]]\nname = "ada"\nemail = "a@example.org"\n[users.zotero]\n{table}\n'
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(text, Path("/nonexistent/config.toml"))


def test_a_zotero_table_parses() -> None:
    text = (
        '[[users]]\nname = "ada"\nemail = "a@example.org"\n[users.zotero]\n'
        'library = "groups/42"\napi_key_env = "ZOTERO_API_KEY"\n'
        'collections = ["To read", "Thesis"]\nexclude_tags = ["skip"]\n'
    )
    zotero = parse_config(text, Path("/x/config.toml")).user("ada").zotero
    assert zotero is not None
    assert (zotero.library, zotero.api_key_env, zotero.collections, zotero.exclude_tags) == (
        "groups/42",
        "ZOTERO_API_KEY",
        ("To read", "Thesis"),
        ("skip",),
    )
    assert zotero.url == "https://api.zotero.org"


def test_a_library_changing_mid_sync_or_a_short_answer_changes_nothing(
    big: tuple[ZoteroServer, object], client: HttpClient, db: Storage
) -> None:
    server, _expected = big
    user = make_config(server.base).user("ada")
    version = str(server.library.version + 1)
    server.fail_next(Fault("items", 200, {"Last-Modified-Version": version}, after=4))
    report = sync_user(user, db, client)
    assert report.status == "error" and "changed during the sync" in (report.error or "")
    assert db.zotero_paper_ids("ada") == []

    server.fail_next(Fault("items", 200, {"Total-Results": "3050"}))
    report = sync_user(user, db, client)
    assert report.status == "error" and "got 3000 of the 3050 items" in (report.error or "")
    assert db.zotero_paper_ids("ada") == []


def test_sync_and_venue_storage_on_sqlite_and_postgresql(
    small: ZoteroServer, client: HttpClient, database_url: str
) -> None:
    from paperboy.jobs.fetch.venues import refresh_venue
    from tests.openreview_server import VENUE, OpenReviewServer, sample_venue

    user = make_config(small.base).user("ada")
    with Storage.open(database_url) as storage:
        sync_user(user, storage, client)
        small.library.delete("ABCD2345")
        report = sync_user(user, storage, client)
        assert (report.added, report.removed) == (0, 1)
        assert storage.zotero_paper_ids("ada") == ["1706.03762"]

        venue, fates = sample_venue()
        server = OpenReviewServer(venue)
        try:
            refresh_venue(storage, client, VENUE, "submitted", base=server.base, page_size=20)
        finally:
            server.stop()
        entries = storage.venue_entries(VENUE, "submitted")
        assert len(entries) == len(fates["accepted"]) + len(fates["rejected"])
        state = storage.venue_state(VENUE, "submitted")
        newest = max(n["tmdate"] for n in venue.notes)  # withdrawn ones count: seen is seen
        assert state is not None and state.max_tmdate == newest
