"""A venue, ranked (issue #15): OpenReview API v2 answers replayed from a local server
(tests/openreview_server.py), through the real client, parser, storage and ranker."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.core.errors import ParseError, SourceError
from paperboy.jobs.core.ids import title_key
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import fetch_all
from paperboy.jobs.fetch.sources.openreview import is_withdrawn, notes_url, parse_notes
from paperboy.jobs.fetch.venues import refresh_venue
from paperboy.jobs.ranking.candidates import candidates_for
from paperboy.jobs.storage import Storage
from tests.http_server import FakeTime
from tests.openreview_server import (
    FIXTURE,
    VENUE,
    Fault,
    OpenReviewServer,
    Venue,
    sample_venue,
)
from tests.zotero_server import sample_papers


@pytest.fixture
def server() -> Iterator[tuple[OpenReviewServer, dict[str, list[str]]]]:
    venue, fates = sample_venue()
    srv = OpenReviewServer(venue)
    try:
        yield srv, fates
    finally:
        srv.stop()


@pytest.fixture
def db() -> Iterator[Storage]:
    with Storage.open("sqlite://") as s:
        yield s


@pytest.fixture
def client() -> Iterator[HttpClient]:
    fake = FakeTime()
    with HttpClient(timeout=10, retries=1, sleep=fake.sleep, clock=fake.clock) as c:
        yield c


# --- the parser --------------------------------------------------------------------------


def test_a_recorded_page_parses_with_tldr_keywords_and_withdrawals() -> None:
    page = parse_notes(FIXTURE.read_bytes())
    assert page.count == 3
    poster, withdrawn, desk = page.notes
    assert poster.title.startswith("Group Relative Policy Optimization")
    assert poster.authors == ("Mei Tanaka", "Jonas Weber", "Priya Raman")
    assert "GRPO" in poster.keywords and poster.tldr and poster.tldr.startswith("Verifiable")
    assert (poster.venue, poster.venueid, poster.tmdate) == (
        "ICLR 2025 Poster",
        VENUE,
        1739941120447,
    )
    assert poster.link == "https://openreview.net/forum?id=NiYxC1VAsK"
    assert poster.arxiv_id is None and not is_withdrawn(poster)
    assert is_withdrawn(withdrawn) and is_withdrawn(desk)


def test_query_urls() -> None:
    accepted = notes_url("https://api2.openreview.net", VENUE, "accepted", offset=1000)
    assert accepted == (
        "https://api2.openreview.net/notes?content.venueid=ICLR.cc/2025/Conference"
        "&offset=1000&limit=1000&sort=number:asc"
    )
    submitted = notes_url("https://x", VENUE, "submitted", offset=0, mintmdate=5)
    assert "invitation=ICLR.cc/2025/Conference/-/Submission&mintmdate=5&offset=0" in submitted


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty OpenReview response"),
        (b'{"notes": [{"id": "x", "content": {"title": {"val', "not valid JSON"),
        (b'{"name": "RateLimitError", "message": "Too many requests"}', "RateLimitError"),
        (b"[]", "not an object"),
        (b'{"count": 3}', "no 'notes' array"),
        (b'{"notes": [{"content": {"title": {"value": "x"}}}]}', "has no id"),
        (b'{"notes": [{"id": "n1", "content": {"abstract": {"value": "x"}}}]}', "title.value"),
    ],
)
def test_malformed_answers_are_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_notes(body, url="https://api2.openreview.net/notes")


# --- fetching and caching ------------------------------------------------------------------


def test_accepted_papers_are_fetched_page_by_page_and_cached(
    server: tuple[OpenReviewServer, dict[str, list[str]]], db: Storage, client: HttpClient
) -> None:
    srv, fates = server
    report = refresh_venue(db, client, VENUE, base=srv.base, page_size=15)

    assert (report.result, report.papers, report.received) == ("ok", 40, 40)
    assert [q["offset"] for q in srv.requests] == ["0", "15", "30"]
    assert all(q["content.venueid"] == VENUE for q in srv.requests)
    entries = db.venue_entries(VENUE, "accepted")
    assert sorted(e.note_id for e in entries) == sorted(fates["accepted"])
    stored = db.get_papers([e.paper_id for e in entries])
    with_tldr = [p for p in stored.values() if p.tldr]
    assert len(with_tldr) == 20 and all(p.tldr_source == "OpenReview" for p in with_tldr)
    assert all(p.listed_at is None for p in stored.values())  # a venue is not news

    again = refresh_venue(db, client, VENUE, base=srv.base, page_size=15)
    assert again.result == "cached" and len(srv.requests) == 3  # no request at all

    # stale: refreshed conditionally, asking only for what changed since the newest note
    newest = max(e.tmdate or 0 for e in entries)
    added = srv.venue.add("A Late Camera-Ready Paper", "Its abstract.", ["C. Author"])
    later = refresh_venue(db, client, VENUE, base=srv.base, max_age=timedelta(0))
    assert [q for q in srv.requests if "mintmdate" in q][-1]["mintmdate"] == str(newest)
    assert later.received == 2  # the new note, and the newest one again (mintmdate is >=)
    assert later.papers == 41 and added in {e.note_id for e in db.venue_entries(VENUE, "accepted")}


def test_submissions_leave_out_withdrawn_and_desk_rejected(
    server: tuple[OpenReviewServer, dict[str, list[str]]], db: Storage, client: HttpClient
) -> None:
    srv, fates = server
    report = refresh_venue(db, client, VENUE, "submitted", base=srv.base)
    want = sorted(fates["accepted"] + fates["rejected"])
    assert report.papers == 50
    assert sorted(e.note_id for e in db.venue_entries(VENUE, "submitted")) == want
    assert srv.requests[0]["invitation"] == f"{VENUE}/-/Submission"

    srv.venue.set_venueid(fates["rejected"][0], f"{VENUE}/Withdrawn_Submission")
    later = refresh_venue(db, client, VENUE, "submitted", base=srv.base, max_age=None)
    # the withdrawn one, and the newest note again (mintmdate is inclusive)
    assert (later.received, later.removed, later.papers) == (2, 1, 49)


@pytest.mark.parametrize("fate", ["Withdrawn_Submission", "Desk_Rejected_Submission"])
def test_an_accepted_paper_withdrawn_later_leaves_the_cached_list(
    server: tuple[OpenReviewServer, dict[str, list[str]]],
    db: Storage,
    client: HttpClient,
    fate: str,
) -> None:
    """A withdrawal changes the note's venueid, so the incremental query (venueid and
    mintmdate) never shows it: the membership check (select=id) does."""
    srv, fates = server
    assert refresh_venue(db, client, VENUE, base=srv.base).papers == 40
    leaving = fates["accepted"][3]
    srv.venue.set_venueid(leaving, f"{VENUE}/{fate}")

    later = refresh_venue(db, client, VENUE, base=srv.base, max_age=None)

    assert (later.result, later.removed, later.papers) == ("ok", 1, 39)
    assert leaving not in {e.note_id for e in db.venue_entries(VENUE, "accepted")}
    assert srv.requests[-1]["select"] == "id"  # ids only: a few KB a page


def test_paging_uses_a_stable_order(
    server: tuple[OpenReviewServer, dict[str, list[str]]], db: Storage, client: HttpClient
) -> None:
    """Offset paging over an unordered answer skips and repeats notes (the local server
    shuffles unsorted answers, as a database may order them differently each time)."""
    srv, fates = server
    report = refresh_venue(db, client, VENUE, base=srv.base, page_size=7)
    assert (report.result, report.papers) == ("ok", 40)
    assert sorted(e.note_id for e in db.venue_entries(VENUE, "accepted")) == sorted(
        fates["accepted"]
    )
    assert all(q["sort"] == "number:asc" for q in srv.requests)
    srv.venue.add("A Late Camera-Ready Paper", "Its abstract.", ["C. Author"])
    later = refresh_venue(db, client, VENUE, base=srv.base, max_age=None, page_size=7)
    assert (later.removed, later.papers) == (0, 41)  # the id pages, too, lose none


def test_a_venue_changing_while_its_ids_are_read_keeps_the_cache(
    server: tuple[OpenReviewServer, dict[str, list[str]]], db: Storage, client: HttpClient
) -> None:
    srv, _fates = server
    refresh_venue(db, client, VENUE, base=srv.base)
    before = db.venue_entries(VENUE, "accepted")
    srv.faults.append(Fault(at=len(srv.requests) + 1, overcount=1))  # the first id page
    with pytest.raises(ParseError, match="note ids"):
        refresh_venue(db, client, VENUE, base=srv.base, max_age=None)
    assert db.venue_entries(VENUE, "accepted") == before


@pytest.mark.parametrize(
    "fault, message",
    [
        (Fault(at=1, truncate=True), "not valid JSON"),
        (Fault(at=0, overcount=7), "got 40 of the 47 notes"),
        (Fault(at=0, status=200, body=b"<html>Service Unavailable</html>"), "not valid JSON"),
    ],
)
def test_partial_and_broken_answers_keep_the_cache(
    server: tuple[OpenReviewServer, dict[str, list[str]]],
    db: Storage,
    client: HttpClient,
    fault: Fault,
    message: str,
) -> None:
    srv, _fates = server
    srv.faults.append(fault)
    with pytest.raises(SourceError, match=message):
        refresh_venue(db, client, VENUE, base=srv.base, page_size=20)
    assert db.venue_entries(VENUE, "accepted") == []
    state = db.venue_state(VENUE, "accepted")
    assert (
        state is not None
        and state.fetched_at is None
        and message.split()[0] in (state.last_error or "")
    )


# --- canonical papers ----------------------------------------------------------------------


def test_a_venue_paper_on_arxiv_is_one_row(db: Storage, client: HttpClient) -> None:
    papers = sample_papers()
    on_arxiv = papers[0]
    db.upsert_papers([on_arxiv], source="arxiv", listed=True)
    venue = Venue()
    same = venue.add(on_arxiv.title.upper(), "OpenReview's abstract", list(on_arxiv.authors))
    other_author = venue.add(on_arxiv.title, "a namesake", ["Somebody Else"])
    with_id = venue.add(
        "A paper that says where it is",
        "abstract",
        ["A. Author"],
        extra={"arxiv": {"value": "https://arxiv.org/abs/1706.03762v5"}},
    )
    with_doi = venue.add(
        "With a DOI", "abstract", ["B. Author"], extra={"doi": {"value": "10.1234/X"}}
    )
    srv = OpenReviewServer(venue)
    try:
        refresh_venue(db, client, VENUE, base=srv.base)
    finally:
        srv.stop()
    ids = {e.note_id: e.paper_id for e in db.venue_entries(VENUE, "accepted")}
    assert ids[same] == on_arxiv.id
    assert ids[other_author] == title_key(on_arxiv.title)  # same title, another first author
    assert ids[with_id] == "1706.03762"
    assert ids[with_doi] == "10.1234/x"
    # arXiv's row keeps arXiv's text, gains nothing it should not lose
    stored = db.get_papers([on_arxiv.id])[on_arxiv.id]
    assert stored.listed_at is not None and stored.categories == on_arxiv.categories


# --- rank --venue from the command line ---------------------------------------------------


def _user_config(tmp_path: Path, saved: list[str]) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[paperboy]
database = "sqlite:///{tmp_path / "p.db"}"
index = "{tmp_path / "p.index"}"

[[users]]
name = "ada"
email = "ada@example.org"
saved = {json.dumps(saved)}
"""
    )
    return config


def test_rank_a_venue_for_a_user_with_reasons(
    server: tuple[OpenReviewServer, dict[str, list[str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv, _fates = server
    monkeypatch.setenv("PAPERBOY_OPENREVIEW_URL", srv.base)
    papers = sample_papers()
    saved = papers[100:115]  # not at the venue
    config = _user_config(tmp_path, [p.id for p in saved])
    with Storage.open(f"sqlite:///{tmp_path / 'p.db'}") as storage:
        storage.upsert_papers(saved, source="arxiv-api", listed=False)
        storage.upsert_papers([papers[3]], source="arxiv", listed=True)  # also at the venue
    runner = CliRunner()
    args = ["--config", str(config), "-q", "rank", "--user", "ada", "--venue", VENUE]

    result = runner.invoke(cli, [*args, "--format", "json"])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 40 and all(r["why"] for r in rows)
    assert rows == sorted(rows, key=lambda r: -r["score"])
    assert papers[3].id in {r["id"] for r in rows}  # the arXiv row, not a second one
    asked = len(srv.requests)

    result = runner.invoke(cli, [*args, "--limit", "5"])  # from the cache
    assert result.exit_code == 0, result.output
    assert len(srv.requests) == asked and result.output.count("%") == 5

    result = runner.invoke(cli, [*args, "--venue-status", "submitted", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 50


def test_rank_a_venue_against_a_saved_file_without_config(
    server: tuple[OpenReviewServer, dict[str, list[str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv, _fates = server
    saved = tmp_path / "mine.jsonl"
    saved.write_text(
        "\n".join(
            json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract})
            for p in sample_papers()[200:210]
        )
    )
    monkeypatch.chdir(tmp_path)  # no config.toml here
    result = CliRunner().invoke(
        cli,
        [
            "-q",
            "rank",
            "--saved",
            str(saved),
            "--venue",
            VENUE,
            "--openreview-url",
            srv.base,
            "--format",
            "jsonl",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 40 and all(line["id"] and line["why"] for line in lines)


def test_rank_venue_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["rank", "--venue", VENUE])
    assert result.exit_code == 2 and "--user NAME or --saved FILE" in result.output
    venue = Venue()
    srv = OpenReviewServer(venue)
    srv.faults.append(Fault(at=0, status=200, body=b'{"notes": "nope"}'))
    saved = tmp_path / "s.jsonl"
    saved.write_text(json.dumps({"id": "1", "title": "t", "abstract": "a"}) + "\n")
    try:
        result = runner.invoke(
            cli, ["rank", "--saved", str(saved), "--venue", VENUE, "--openreview-url", srv.base]
        )
    finally:
        srv.stop()
    assert result.exit_code == 1 and "no 'notes' array" in result.output
    assert "Traceback" not in result.output


# --- as a source: new submissions reach a digest -------------------------------------------


def test_a_configured_venue_brings_submissions_to_the_digest(
    server: tuple[OpenReviewServer, dict[str, list[str]]], db: Storage, client: HttpClient
) -> None:
    srv, _fates = server
    mailed = sample_papers()[0]
    config = parse_config(
        f"""
[paperboy]
database = "sqlite://"
[[sources.openreview]]
venue = "{VENUE}"
api_url = "{srv.base}"
[[users]]
name = "ada"
email = "ada@example.org"
""",
        Path("/nonexistent/config.toml"),
    )
    # the first paper at the venue was on arXiv, and already mailed to ada
    db.upsert_papers([mailed], source="arxiv", listed=True)
    db.create_delivery(
        user_name="ada",
        message_id="<1@example.org>",
        digest_day=date(2026, 7, 1),
        message=b"x",
        paper_ids=[mailed.id],
        listed_through=None,
    )
    reports = {r.name: r for r in fetch_all(config, db, client)}
    report = reports[f"openreview:{VENUE}"]
    assert (report.status, report.received, report.kept) == ("ok", 60, 50)
    candidates = {p.id for p in candidates_for(db, config.user("ada"))}
    assert len(candidates) == 49 and mailed.id not in candidates  # one row, mailed once
    assert title_key(mailed.title) not in {p.id for p in db.listed_papers()}
    state = db.source_state(f"openreview:{VENUE}")
    assert state is not None and state.last_error is None

    srv.venue.add(
        "A Brand New Submission", "Fresh ideas.", ["New Author"], venueid=f"{VENUE}/Submission"
    )
    srv.venue.notes[-1]["invitations"] = [f"{VENUE}/-/Submission"]
    reports = {r.name: r for r in fetch_all(config, db, client)}
    again = reports[f"openreview:{VENUE}"]
    assert (again.received, again.new) == (2, 1)  # the new one (+ the newest, mintmdate >=)
    assert "mintmdate" in srv.requests[-2] and srv.requests[-1]["select"] == "id"


def test_openreview_config_is_validated() -> None:
    from paperboy.jobs.core.errors import ConfigError

    text = '[[sources.openreview]]\nvenue = "ICLR 2025"\nstatus = "rejected"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("/x/config.toml"))
    assert "venue id like" in str(info.value) and "status must be one of" in str(info.value)


def test_paper_text_from_openreview_does_not_replace_arxivs(db: Storage) -> None:
    paper = SourcePaper("2401.01234", "Title", "arXiv abstract", ("A",), ("cs.LG",), "x", version=2)
    db.upsert_papers([paper], source="arxiv", listed=True)
    with_tldr = SourcePaper(
        "2401.01234", "Title", "", (), (), "y", tldr="Short.", tldr_source="OpenReview"
    )
    db.upsert_papers([with_tldr], source="openreview:x", listed=False)
    stored = db.get_papers(["2401.01234"])["2401.01234"]
    assert (stored.abstract, stored.tldr, stored.tldr_source) == (
        "arXiv abstract",
        "Short.",
        "OpenReview",
    )


# --- TL;DR in the digest -------------------------------------------------------------------


def test_digests_show_openreview_and_hugging_face_tldrs(
    server: tuple[OpenReviewServer, dict[str, list[str]]],
    db: Storage,
    client: HttpClient,
    tmp_path: Path,
) -> None:
    from paperboy.emails.delivery import OutboxTransport
    from paperboy.jobs.fetch.from_file import ingest_file
    from paperboy.jobs.mailing.run import run_digests

    srv, _fates = server
    papers = sample_papers()
    config = parse_config(
        f"""
[paperboy]
database = "sqlite://"
index = "{tmp_path / "p.index"}"
[[sources.openreview]]
venue = "{VENUE}"
api_url = "{srv.base}"
[[users]]
name = "ada"
email = "ada@example.org"
max_papers = 60
saved = {json.dumps([p.id for p in papers[100:110]])}
""",
        Path("/nonexistent/config.toml"),
    )
    db.upsert_papers(papers[100:110], source="arxiv-api", listed=False)
    fetch_all(config, db, client)
    hf = Path(__file__).parent / "fixtures" / "hf-daily-papers" / "daily_papers.json"
    ingest_file(db, hf, source="huggingface", today=date(2026, 6, 12))
    summarised = [p for p in db.listed_papers() if p.tldr_source == "Hugging Face"]
    assert summarised  # the fixture's papers carry paper.ai_summary

    [result] = run_digests(
        config, db, transport=OutboxTransport(tmp_path / "outbox"), force=True, workers=1
    )

    assert result.status == "sent" and result.message is None  # kept in the database
    [stored] = db.deliveries(user_name=result.user)
    message = email.message_from_bytes(stored.message, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    plain, markup = " ".join(text.get_content().split()), html.get_content()
    picked = db.get_papers([r.paper.id for r in result.picked])
    with_ours = [p for p in picked.values() if p.tldr_source == "OpenReview"]
    assert with_ours and plain.count("TL;DR (OpenReview):") == len(with_ours)
    assert "TL;DR (Hugging Face):" in plain
    first = summarised[0]
    assert first.tldr is not None and " ".join(first.tldr.split()) in plain
    assert "TL;DR (OpenReview):" in markup and "TL;DR (Hugging Face):" in markup


def test_the_authors_tldr_wins_over_a_generated_one(db: Storage) -> None:
    hf = SourcePaper(
        "2401.01234", "T", "A", (), (), "", tldr="AI says.", tldr_source="Hugging Face"
    )
    ours = SourcePaper("2401.01234", "T", "A", (), (), "", tldr="We say.", tldr_source="OpenReview")
    db.upsert_papers([hf], source="huggingface", listed=True)
    db.upsert_papers([ours], source="openreview:x", listed=False)
    db.upsert_papers([hf], source="huggingface", listed=True)  # the next day's trending page
    stored = db.get_papers(["2401.01234"])["2401.01234"]
    assert (stored.tldr, stored.tldr_source) == ("We say.", "OpenReview")
