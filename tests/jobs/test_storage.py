"""Storage contract tests: each runs on a SQLite file and on a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage import FAILED, PENDING, SENT, ClaimLost, Storage
from paperboy.jobs.storage.schema import LIVE_LEDGER, ledger


def paper(pid: str, **kw: object) -> SourcePaper:
    fields: dict[str, object] = {
        "id": pid,
        "title": f"Title of {pid}",
        "abstract": f"Abstract of {pid}.",
        "authors": ("Ada Lovelace", "Alan Turing"),
        "categories": ("cs.LG",),
        "link": f"https://arxiv.org/abs/{pid}",
        "version": 1,
        "announce_type": "new",
        "announced": date(2025, 6, 3),
    }
    fields.update(kw)
    return SourcePaper(**fields)  # type: ignore[arg-type]


def test_upsert_inserts_then_reports_unchanged(storage: Storage) -> None:
    first = storage.upsert_papers(
        [paper("2506.00001"), paper("2506.00002")], source="arxiv", listed=True
    )
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = storage.upsert_papers([paper("2506.00001")], source="arxiv", listed=True)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    assert storage.count_papers() == 2


def test_one_row_per_paper_across_versions_categories_and_sources(storage: Storage) -> None:
    storage.upsert_papers([paper("2506.00001")], source="arxiv", listed=True)
    storage.upsert_papers(
        [
            paper(
                "2506.00001",
                version=2,
                title="Better title",
                categories=("cs.CL", "cs.LG"),
                announced=date(2025, 6, 5),
            )
        ],
        source="arxiv",
        listed=True,
    )
    storage.upsert_papers([paper("2506.00001", categories=("stat.ML",))], source="hf", listed=False)
    stored = storage.get_papers(["2506.00001"])["2506.00001"]
    assert storage.count_papers() == 1
    assert stored.version == 2
    assert stored.title == "Better title"  # the newer version's title
    assert stored.categories == ("cs.LG", "cs.CL", "stat.ML")  # merged, first primary kept
    assert stored.announced == date(2025, 6, 3)  # the first announcement day


def test_never_overwritten_with_less(storage: Storage) -> None:
    storage.upsert_papers([paper("2506.00001", version=2)], source="arxiv", listed=True)
    storage.upsert_papers(
        [paper("2506.00001", version=2, abstract="", authors=())], source="arxiv", listed=True
    )
    storage.upsert_papers(
        [paper("2506.00001", version=1, title="Old title")], source="arxiv", listed=True
    )
    stored = storage.get_papers(["2506.00001"])["2506.00001"]
    assert stored.abstract == "Abstract of 2506.00001."
    assert stored.authors == ("Ada Lovelace", "Alan Turing")
    assert stored.title == "Title of 2506.00001"  # an older version does not replace it
    assert stored.version == 2


def test_lookup_papers_are_not_listed_until_a_listing_shows_them(storage: Storage) -> None:
    storage.upsert_papers([paper("1706.03762")], source="arxiv-api", listed=False)
    assert storage.listed_papers() == []
    storage.upsert_papers([paper("1706.03762")], source="arxiv", listed=True)
    assert [p.id for p in storage.listed_papers()] == ["1706.03762"]


def test_text_survives_round_trip(storage: Storage) -> None:
    title = "<script>alert(1)</script> $\\alpha$-divergence — Ünïcødé 数学"
    storage.upsert_papers(
        [paper("2506.00009", title=title, authors=("Zoë Ångström",))], source="arxiv", listed=True
    )
    stored = storage.get_papers(["2506.00009"])["2506.00009"]
    assert stored.title == title
    assert stored.authors == ("Zoë Ångström",)


def test_timestamps_are_aware_utc(database_url: str) -> None:
    clock = datetime(2025, 6, 3, 7, 30, tzinfo=UTC)
    with Storage.open(database_url, now=lambda: clock) as storage:
        storage.upsert_papers([paper("2506.00001")], source="arxiv", listed=True)
        listed_at = storage.get_papers(["2506.00001"])["2506.00001"].listed_at
        assert listed_at == clock and listed_at is not None and listed_at.tzinfo is not None
        assert storage.newest_listing() == clock


def test_listed_after_window_and_since(database_url: str) -> None:
    now = [datetime(2025, 6, 3, tzinfo=UTC)]
    with Storage.open(database_url, now=lambda: now[0]) as storage:
        storage.upsert_papers(
            [paper("2506.00001", announced=date(2025, 6, 3))], source="arxiv", listed=True
        )
        now[0] += timedelta(days=1)
        storage.upsert_papers(
            [paper("2506.00002", announced=date(2025, 6, 4))], source="arxiv", listed=True
        )
        after = datetime(2025, 6, 3, 12, tzinfo=UTC)
        assert [p.id for p in storage.listed_papers(after=after)] == ["2506.00002"]
        assert [p.id for p in storage.listed_papers(since=date(2025, 6, 4))] == ["2506.00002"]
        assert len(storage.listed_papers()) == 2


def test_delivery_ledger_excludes_mailed_papers(storage: Storage) -> None:
    storage.upsert_papers(
        [paper(f"2506.0000{i}") for i in range(1, 4)], source="arxiv", listed=True
    )
    delivery = storage.create_delivery(
        user_name="ada",
        message_id="<1@example.org>",
        digest_day=date(2025, 6, 3),
        message=b"Subject: x\r\n\r\nbody",
        paper_ids=["2506.00001", "2506.00002"],
        listed_through=None,
    )
    [pending] = storage.deliveries(user_name="ada", status=PENDING)
    assert pending.id == delivery and pending.message == b"Subject: x\r\n\r\nbody"
    # Pending papers are already promised to that digest: never in a second one.
    assert [p.id for p in storage.listed_papers(exclude_user="ada")] == ["2506.00003"]
    assert storage.mailed_ids("ada") == {"2506.00001", "2506.00002"}
    # Another user is not affected.
    assert len(storage.listed_papers(exclude_user="bob")) == 3
    storage.mark_sent(delivery, "outbox/1.eml")
    [sent] = storage.deliveries(user_name="ada", status=SENT)
    assert sent.receipt == "outbox/1.eml" and sent.attempts == 1 and sent.sent_at is not None


def test_temporary_failure_stays_pending_permanent_returns_papers(storage: Storage) -> None:
    storage.upsert_papers([paper("2506.00001"), paper("2506.00002")], source="arxiv", listed=True)
    delivery = storage.create_delivery(
        user_name="ada",
        message_id="<2@example.org>",
        digest_day=date(2025, 6, 3),
        message=b"m",
        paper_ids=["2506.00001"],
        listed_through=None,
    )
    storage.mark_attempt_failed(delivery, "451 try later", permanent=False)
    [d] = storage.deliveries(user_name="ada")
    assert (d.status, d.attempts, d.last_error) == (PENDING, 1, "451 try later")
    assert storage.returned_papers("ada") == []
    storage.mark_attempt_failed(delivery, "550 no such user", permanent=True)
    [d] = storage.deliveries(user_name="ada")
    assert d.status == FAILED
    # The paper is not lost: it is returned for the next digest, and no longer "mailed".
    assert [p.id for p in storage.returned_papers("ada")] == ["2506.00001"]
    assert storage.mailed_ids("ada") == set()
    # A later digest that carries it takes it over from the failed one.
    storage.create_delivery(
        user_name="ada",
        message_id="<3@example.org>",
        digest_day=date(2025, 6, 4),
        message=b"m2",
        paper_ids=["2506.00001"],
        listed_through=None,
    )
    assert storage.returned_papers("ada") == []
    assert storage.mailed_ids("ada") == {"2506.00001"}


def test_message_id_is_unique(storage: Storage) -> None:
    kwargs = dict(
        user_name="ada",
        message_id="<same@example.org>",
        digest_day=date(2025, 6, 3),
        message=b"m",
        paper_ids=[],
        listed_through=None,
    )
    storage.create_delivery(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        storage.create_delivery(**kwargs)  # type: ignore[arg-type]
    # The failed transaction left nothing behind.
    assert len(storage.deliveries(user_name="ada")) == 1


def test_user_state_window(database_url: str) -> None:
    clock = datetime(2025, 6, 3, 5, tzinfo=UTC)
    with Storage.open(database_url, now=lambda: clock) as storage:
        assert storage.user_state("ada").listed_through is None
        storage.record_empty_digest("ada", clock - timedelta(hours=1))
        state = storage.user_state("ada")
        assert state.listed_through == clock - timedelta(hours=1)
        assert state.last_digest_at == clock


def test_source_state_keeps_caching_headers_across_errors(storage: Storage) -> None:
    storage.record_fetch(
        "arxiv", url="u", etag='"abc"', last_modified="Tue, 03 Jun 2025", count=10, new=7
    )
    storage.record_fetch("arxiv", url="u", error="HTTP 503")
    state = storage.source_state("arxiv")
    assert state is not None
    assert state.last_error == "HTTP 503"
    assert state.etag == '"abc"' and state.last_count == 10 and state.last_success_at
    storage.record_fetch("arxiv", url="u", count=3, new=0)
    state = storage.source_state("arxiv")
    assert state is not None and state.last_error is None and state.etag == '"abc"'


def test_sample_papers_is_deterministic_and_excludes(storage: Storage) -> None:
    storage.upsert_papers([paper(f"2506.{i:05d}") for i in range(50)], source="arxiv", listed=True)
    a = storage.sample_papers(10, exclude={"2506.00001"}, seed=1)
    b = storage.sample_papers(10, exclude={"2506.00001"}, seed=1)
    assert sorted(p.id for p in a) == sorted(p.id for p in b)
    assert len(a) == 10 and "2506.00001" not in {p.id for p in a}
    assert len(storage.sample_papers(500, exclude=set())) == 50


def test_unusable_database_is_a_storage_error(tmp_path: object) -> None:
    with pytest.raises(StorageError, match="cannot open database"):
        Storage.open("sqlite:////nonexistent-dir/for/sure/paperboy.db")
    with pytest.raises(StorageError) as info:
        Storage.open("postgresql+psycopg://user:s3cret@127.0.0.1:1/nodb")
    assert "s3cret" not in str(info.value)


def test_a_claim_is_held_until_its_lease_expires_then_taken_over_once(database_url: str) -> None:
    clock = [datetime(2026, 7, 1, 6, tzinfo=UTC)]
    lease = timedelta(minutes=5)
    with Storage.open(database_url, now=lambda: clock[0]) as storage:
        first = storage.claim_digest("ada", "first", "runner-a", lease)
        assert first is not None and not first.taken_over
        assert storage.claim_digest("ada", "first", "runner-b", lease) is None
        assert storage.claim_digest("bob", "first", "runner-b", lease) is not None
        clock[0] += lease + timedelta(seconds=1)  # runner-a died: its lease runs out
        second = storage.claim_digest("ada", "first", "runner-b", lease)
        assert second is not None and second.taken_over
        assert storage.claim_digest("ada", "first", "runner-c", lease) is None
        # The dead runner's late write is refused: the claim is no longer its own.
        with pytest.raises(ClaimLost):
            storage.record_empty_digest(
                "ada", None, claim=first, built_on=storage.user_state("ada")
            )
        storage.record_empty_digest("ada", None, claim=second, built_on=storage.user_state("ada"))
        [claim] = storage.claims("ada")
        assert (claim["state"], claim["owner"], claim["takeovers"]) == ("done", "runner-b", 1)
        clock[0] += lease * 10
        assert storage.claim_digest("ada", "first", "runner-c", lease) is None  # done stays done


def test_a_digest_built_on_an_old_state_is_not_recorded(storage: Storage) -> None:
    storage.upsert_papers([paper("2506.00001"), paper("2506.00002")], source="arxiv", listed=True)
    lease = timedelta(minutes=5)
    state = storage.user_state("ada")
    a = storage.claim_digest("ada", "forced:first", "a", lease)
    b = storage.claim_digest("ada", "first", "b", lease)
    assert a is not None and b is not None
    common: dict[str, Any] = dict(
        user_name="ada", digest_day=date(2025, 6, 3), message=b"m", listed_through=None
    )
    storage.create_delivery(
        message_id="<a@x>", paper_ids=["2506.00001"], claim=a, built_on=state, lease=lease, **common
    )
    with pytest.raises(ClaimLost):
        storage.create_delivery(
            message_id="<b@x>", paper_ids=["2506.00002"], claim=b, built_on=state, **common
        )
    [d] = storage.deliveries(user_name="ada")
    assert d.message_id == "<a@x>" and d.lease_owner == "a"
    assert storage.mailed_ids("ada") == {"2506.00001"}


def test_a_pending_delivery_is_sent_by_one_lease_holder(database_url: str) -> None:
    clock = [datetime(2026, 7, 1, 6, tzinfo=UTC)]
    lease = timedelta(minutes=5)
    with Storage.open(database_url, now=lambda: clock[0]) as storage:
        delivery = storage.create_delivery(
            user_name="ada",
            message_id="<1@x>",
            digest_day=date(2026, 7, 1),
            message=b"m",
            paper_ids=[],
            listed_through=None,
        )
        assert storage.take_delivery(delivery, "a", lease)
        assert not storage.take_delivery(delivery, "b", lease)
        assert storage.take_delivery(delivery, "a", lease)  # renewing one's own
        clock[0] += lease + timedelta(seconds=1)
        assert storage.take_delivery(delivery, "b", lease)
        storage.mark_sent(delivery, "smtp")
        clock[0] += lease * 2
        assert not storage.take_delivery(delivery, "c", lease)  # sent: nobody sends it again


def test_a_failed_digest_releases_its_papers_and_keeps_its_rows(storage: Storage) -> None:
    storage.upsert_papers([paper("2506.00001")], source="arxiv", listed=True)
    common: dict[str, Any] = dict(
        user_name="ada", digest_day=date(2025, 6, 3), message=b"m", listed_through=None
    )
    first = storage.create_delivery(message_id="<1@x>", paper_ids=["2506.00001"], **common)
    storage.mark_attempt_failed(first, "550", permanent=True)
    second = storage.create_delivery(message_id="<2@x>", paper_ids=["2506.00001"], **common)
    with storage.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.delivery_id, ledger.c.released_at).order_by(ledger.c.delivery_id)
        ).all()
    assert [(r.delivery_id, r.released_at is not None) for r in rows] == [
        (first, True),
        (second, False),
    ]
    # A third digest cannot take a paper that a live digest holds.
    with pytest.raises(ClaimLost):
        storage.create_delivery(message_id="<3@x>", paper_ids=["2506.00001"], **common)


def test_the_live_ledger_index_is_partial_in_the_database(storage: Storage) -> None:
    """One live ledger row per (user, paper): the migrations make ux_ledger_live a unique
    index WHERE released_at IS NULL on both databases (the schema module does not repeat
    the predicate, so that SQLite users do not import the PostgreSQL dialect)."""
    with storage.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            found = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": "ux_ledger_live"},
            ).scalar_one()
        else:
            found = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                {"n": "ux_ledger_live"},
            ).scalar_one()
    definition = " ".join(str(found).replace("(", " ").replace(")", " ").split())
    assert "UNIQUE" in definition.upper()
    assert definition.endswith("WHERE " + LIVE_LEDGER), definition
