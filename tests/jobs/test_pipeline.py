"""The whole main path against real parts: the bundled RSS days through the real parser,
a real SQLite (and PostgreSQL) database, the real ranker, and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.config.schedule import is_due
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.listings import LOOKUP_SOURCE, ingest_feed
from paperboy.jobs.fetch.paperfiles import read_jsonl
from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.mailing.send import make_transport, retry_all_pending
from paperboy.jobs.runners.demo import sample_dir
from paperboy.jobs.storage import Storage
from tests.smtp_server import DroppingSMTPServer, LocalSMTPServer

SAVED = [r for r in read_jsonl(Path(str(sample_dir() / "saved.jsonl")))]
NOW = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin, after send_at


def config_for(tmp_path: Path, database_url: str, port: int, extra: str = "") -> Config:
    saved = ", ".join(f'"{r.id}"' for r in SAVED)
    text = f"""
[paperboy]
database = "{database_url}"

[sources.arxiv]
categories = ["cs.CL", "cs.LG", "cs.AI", "cs.CV"]

[email]
from = "Paperboy <paperboy@example.org>"
transport = "smtp"
[email.smtp]
host = "127.0.0.1"
port = {port}
security = "none"

[[users]]
name = "ada"
email = ["ada@example.org", "ada@lab.example.org"]
timezone = "Europe/Berlin"
send_at = "07:30"
max_papers = 8
saved = [{saved}]
{extra}
"""
    return parse_config(text, tmp_path / "config.toml")


def load_sample(storage: Storage, *, days: int = 4) -> None:
    """What `paperboy fetch` does, on the bundled days, plus the saved papers' lookup."""
    files = sorted(f for f in sample_dir().iterdir() if f.name.startswith("arxiv-"))
    for f in [*files][:days]:
        feed = parse_arxiv_rss(f.read_bytes(), url=f.name)
        ingest_feed(storage, feed, source="arxiv", url=f.name, announce_types=("new", "cross"))
    storage.upsert_papers(
        [
            SourcePaper(
                r.id,
                r.title,
                r.abstract,
                r.authors,
                r.categories,
                f"https://arxiv.org/abs/{r.id}",
                announced=r.announced,
            )
            for r in SAVED
        ],
        source=LOOKUP_SOURCE,
        listed=False,
    )


def add_hostile_paper(storage: Storage) -> None:
    """A listed paper whose title carries HTML and LaTeX, and whose text matches ada well."""
    base = SAVED[-1]
    storage.upsert_papers(
        [
            SourcePaper(
                id="2607.00001",
                title="<script>alert('x')</script> $\\alpha$-GRPO: " + base.title,
                abstract=base.abstract,
                authors=("Mallory <mallory@example.org>",),
                categories=("cs.LG",),
                link="https://arxiv.org/abs/2607.00001",
                version=1,
                announce_type="new",
            )
        ],
        source="arxiv",
        listed=True,
    )


@pytest.fixture
def smtp() -> Iterator[LocalSMTPServer]:
    with LocalSMTPServer() as server:
        yield server


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_digest_arrives_by_smtp_and_escapes_html(
    tmp_path: Path, database_url: str, smtp: LocalSMTPServer
) -> None:
    config = config_for(tmp_path, database_url, smtp.port)
    with Storage.open(config.database) as storage:
        load_sample(storage)
        add_hostile_paper(storage)
        [result] = run_digests(config, storage, now=NOW)
        assert result.status == "sent", result.error
        assert result.considered > 400 and len(result.picked) == 8
        assert "2607.00001" in {r.paper.id for r in result.picked}
        [delivery] = storage.deliveries(user_name="ada")
        assert delivery.status == "sent" and delivery.receipt == f"127.0.0.1:{smtp.port}"

    [envelope] = smtp.envelopes
    assert set(envelope.rcpt_tos) == {"ada@example.org", "ada@lab.example.org"}
    [message] = smtp.messages
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == delivery.message_id
    assert message["Subject"].startswith("Paperboy — 8 papers for ")
    for header in ("Date", "From", "To", "Auto-Submitted"):
        assert message[header], header
    text, html = parts(message)
    assert "<script>alert('x')</script> α-GRPO" in text  # plain text shows it as text
    assert "&lt;script&gt;" in html
    links = Links()
    links.feed(html)
    assert "script" not in links.tags
    assert "https://arxiv.org/abs/2607.00001" in links.hrefs
    assert "https://arxiv.org/pdf/2607.00001" in links.hrefs
    assert all(h.startswith("https://") or h.startswith("mailto:") for h in links.hrefs)


def test_running_twice_sends_once(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port)
    with Storage.open(config.database) as storage:
        load_sample(storage)
        first = run_digests(config, storage, now=NOW)
        second = run_digests(config, storage, now=NOW + timedelta(minutes=5))
        forced = run_digests(config, storage, now=NOW + timedelta(minutes=6), force=True)
    assert first[0].status == "sent"
    assert second[0].status == "not-due"
    assert forced[0].status == "empty"  # forced, but every candidate was already considered
    assert len(smtp.messages) == 1


def test_next_day_brings_only_new_papers(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port)
    clock = [NOW - timedelta(days=1)]
    with Storage.open(config.database, now=lambda: clock[0]) as storage:
        load_sample(storage, days=3)
        [day1] = run_digests(config, storage, now=clock[0])
        clock[0] = NOW  # the next morning: the fourth day arrives
        files = sorted(f for f in sample_dir().iterdir() if f.name.startswith("arxiv-"))
        feed = parse_arxiv_rss(files[3].read_bytes())
        ingest_feed(storage, feed, source="arxiv", url="", announce_types=("new", "cross"))
        fourth = {p.id for p in feed.papers}
        assert is_due(config.users[0], storage.user_state("ada").last_digest_at, clock[0])
        [day2] = run_digests(config, storage, now=clock[0])
    assert day1.status == day2.status == "sent"
    first_ids = {r.paper.id for r in day1.picked}
    second_ids = {r.paper.id for r in day2.picked}
    assert not first_ids & second_ids
    assert second_ids <= fourth  # only papers listed since the last digest
    assert len(smtp.messages) == 2


def test_temporary_failure_is_retried_with_the_same_message(tmp_path: Path) -> None:
    with LocalSMTPServer(reply="451 4.3.0 try again later") as busy:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", busy.port)
        with Storage.open(config.database) as storage:
            load_sample(storage)
            [result] = run_digests(config, storage, now=NOW)
            assert result.status == "retry-later" and "451" in (result.error or "")
            [pending] = storage.deliveries(user_name="ada", status="pending")
    with LocalSMTPServer() as ok:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", ok.port)
        with Storage.open(config.database) as storage:
            [result] = run_digests(config, storage, now=NOW + timedelta(hours=1))
            assert result.resent == 1 and result.status == "not-due"
            [sent] = storage.deliveries(user_name="ada")
            assert sent.status == "sent" and sent.attempts == 2
    [message] = ok.messages
    assert message["Message-ID"] == pending.message_id


def test_dropped_connection_is_temporary(tmp_path: Path) -> None:
    with DroppingSMTPServer() as dropper:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", dropper.port)
        with Storage.open(config.database) as storage:
            load_sample(storage)
            [result] = run_digests(config, storage, now=NOW)
            assert result.status == "retry-later"
            assert storage.deliveries(status="pending")


def test_permanent_failure_returns_papers_to_the_next_digest(tmp_path: Path) -> None:
    with LocalSMTPServer(reply="550 5.1.1 mailbox unavailable", stage="RCPT") as refusing:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", refusing.port)
        with Storage.open(config.database) as storage:
            load_sample(storage)
            [failed] = run_digests(config, storage, now=NOW)
    assert failed.status == "failed" and "550" in (failed.error or "")
    with LocalSMTPServer() as ok:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", ok.port)
        with Storage.open(config.database) as storage:
            [again] = run_digests(config, storage, now=NOW + timedelta(days=1))
            assert again.status == "sent"
            assert {r.paper.id for r in failed.picked} <= {r.paper.id for r in again.picked}
            statuses = [d.status for d in storage.deliveries(user_name="ada")]
            assert statuses == ["failed", "sent"]


def test_crash_between_record_and_send_is_sent_next_run(
    tmp_path: Path, smtp: LocalSMTPServer
) -> None:
    """A process that dies after recording the digest must not lose or duplicate it."""

    class Crashing:
        def send(self, message: EmailMessage) -> str:
            raise SystemExit("killed")  # what a dying process looks like from here

    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port)
    with Storage.open(config.database) as storage:
        load_sample(storage)
        with pytest.raises(SystemExit):
            run_digests(config, storage, now=NOW, transport=Crashing())
        [pending] = storage.deliveries(user_name="ada", status="pending")
    with Storage.open(config.database) as storage:
        [result] = run_digests(config, storage, now=NOW + timedelta(minutes=1))
        assert result.resent == 1 and result.status == "not-due"
        mailed = storage.mailed_ids("ada")
    [message] = smtp.messages
    assert message["Message-ID"] == pending.message_id
    assert len(mailed) == pending.paper_count


def test_dry_run_records_nothing(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port)
    preview = tmp_path / "preview.html"
    with Storage.open(config.database) as storage:
        load_sample(storage)
        [result] = run_digests(config, storage, now=NOW, dry_run=True, preview=preview)
        assert result.status == "dry-run" and len(result.picked) == 8
        assert storage.deliveries() == [] and storage.user_state("ada").last_digest_at is None
    assert smtp.messages == []
    assert "<html" in preview.read_text(encoding="utf-8").lower()


def test_outbox_transport_writes_eml_and_html(tmp_path: Path) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", 25).__class__
    text = (Path(str(resources.files("paperboy.jobs") / "data" / "config.toml"))).read_text("utf-8")
    cfg = parse_config(text, tmp_path / "config.toml")
    assert config is Config
    transport = make_transport(cfg)
    with Storage.open(cfg.database) as storage:
        load_sample(storage)
        [result] = run_digests(cfg, storage, now=NOW, transport=transport)
    assert result.status == "sent"
    eml = Path(result.receipt or "")
    assert eml.parent == tmp_path.resolve() / "outbox" and eml.suffix == ".eml"
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert eml.with_suffix(".html").exists()


def test_user_filters_categories_and_threshold(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    config = config_for(
        tmp_path,
        f"sqlite:///{tmp_path / 'p.db'}",
        smtp.port,
        extra='categories = ["cs.CV"]\nmin_score = 0.99\n',
    )
    with Storage.open(config.database) as storage:
        load_sample(storage)
        [result] = run_digests(config, storage, now=NOW, dry_run=True)
    assert all("cs.CV" in r.paper.categories for r in result.picked)
    assert all(r.score >= 0.99 for r in result.picked)


def test_trending_section_and_hugging_face_links(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    from paperboy.jobs.storage import TrendingEntry

    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port)
    with Storage.open(config.database) as storage:
        load_sample(storage)
        [dry] = run_digests(config, storage, now=NOW, dry_run=True)
        top = dry.picked[0].paper.id
        other = next(
            p.id for p in storage.listed_papers() if p.id not in {r.paper.id for r in dry.picked}
        )
        storage.record_trending(
            [
                TrendingEntry(top, NOW.date(), "huggingface", 321, 4, 1),
                TrendingEntry(other, NOW.date(), "huggingface", 99, 0, 2),
            ]
        )
        [result] = run_digests(config, storage, now=NOW)
    assert result.status == "sent"
    text, html = parts(smtp.messages[0])
    assert "Trending on Hugging Face" in text, text
    assert "321 upvotes" in text and "99 upvotes" in text
    assert f"https://huggingface.co/papers/{top}" in html


def test_send_empty_mails_a_note_and_records_it(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    config = config_for(
        tmp_path,
        f"sqlite:///{tmp_path / 'p.db'}",
        smtp.port,
        extra="min_score = 1.0\nsend_empty = true\n",
    )
    with Storage.open(config.database) as storage:
        load_sample(storage)
        [result] = run_digests(config, storage, now=NOW)
        assert result.status == "sent" and result.picked == ()
        [delivery] = storage.deliveries(user_name="ada")
        assert delivery.paper_count == 0 and storage.mailed_ids("ada") == set()
    [message] = smtp.messages
    assert "Nothing new for you today" in parts(message)[0]


def test_per_user_transport_overrides_the_default(tmp_path: Path, smtp: LocalSMTPServer) -> None:
    config = config_for(
        tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port, extra='transport = "outbox"\n'
    )
    with Storage.open(config.database) as storage:
        load_sample(storage)
        [result] = run_digests(config, storage, now=NOW)
    assert result.status == "sent" and smtp.messages == []
    assert Path(result.receipt or "").suffix == ".eml"


def test_disliked_and_library_papers_are_never_candidates(
    tmp_path: Path, smtp: LocalSMTPServer
) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port)
    with Storage.open(config.database) as storage:
        load_sample(storage)
        [first] = run_digests(config, storage, now=NOW, dry_run=True)
        disliked, in_library = first.picked[0].paper.id, first.picked[1].paper.id
        storage.add_to_library("ada", [in_library])
        config = config_for(
            tmp_path,
            f"sqlite:///{tmp_path / 'p.db'}",
            smtp.port,
            extra=f'disliked = ["{disliked}"]\n',
        )
        [again] = run_digests(config, storage, now=NOW, dry_run=True)
    ids = {r.paper.id for r in again.picked}
    assert disliked not in ids and in_library not in ids


def test_temporary_failures_back_off_then_give_up(tmp_path: Path) -> None:
    """Retries wait 5 min, 10 min, ... (at most 6 h); after 3 days the digest is given up
    and its papers go into the next one instead of waiting forever."""
    from paperboy.jobs.mailing.send import retry_all_pending, retry_delay

    assert [retry_delay(n).total_seconds() / 60 for n in (1, 2, 3)] == [5, 10, 20]
    assert retry_delay(50) == timedelta(hours=6)
    with LocalSMTPServer(reply="451 4.3.0 try again later") as busy:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", busy.port)
        with Storage.open(config.database) as storage:
            load_sample(storage)
            [first] = run_digests(config, storage, now=NOW)
            assert first.status == "retry-later"
            # Too early: nothing is tried (the server would have seen a second message).
            assert retry_all_pending(config, storage, now=NOW + timedelta(minutes=2)) == 0
            [d] = storage.deliveries(user_name="ada")
            assert d.attempts == 1
            retry_all_pending(config, storage, now=NOW + timedelta(minutes=6))
            [d] = storage.deliveries(user_name="ada")
            assert (d.status, d.attempts) == ("pending", 2)
            retry_all_pending(config, storage, now=NOW + timedelta(days=3, minutes=1))
            [d] = storage.deliveries(user_name="ada")
            assert d.status == "failed" and "gave up after 2 attempts" in (d.last_error or "")
            picked = {r.paper.id for r in first.picked}
            assert picked <= {p.id for p in storage.returned_papers("ada")}


def test_no_retry_reaches_a_user_who_unsubscribed_meanwhile(tmp_path: Path) -> None:
    """A digest left pending by a busy server is not sent after the user clicked
    "Unsubscribe": it is marked failed (papers released), and the server gets nothing."""
    with LocalSMTPServer(reply="451 4.3.0 try again later") as busy:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", busy.port)
        with Storage.open(config.database) as storage:
            load_sample(storage)
            [result] = run_digests(config, storage, now=NOW)
            assert result.status == "retry-later"
            storage.set_unsubscribed("ada", True, at=NOW + timedelta(minutes=5))
    with LocalSMTPServer() as ok:
        config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", ok.port)
        with Storage.open(config.database) as storage:
            assert retry_all_pending(config, storage, now=NOW + timedelta(hours=1)) == 0
            [delivery] = storage.deliveries(user_name="ada")
            assert delivery.status == "failed" and "unsubscribed" in (delivery.last_error or "")
            assert storage.mailed_ids("ada") == set()  # released, not lost
    assert ok.messages == []
