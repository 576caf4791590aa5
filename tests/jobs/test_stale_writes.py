"""A send that outlives its lease settles nothing (issue #20 item 7).

Runner A takes a pending delivery and starts sending; its send takes longer than the
lease, runner B takes the delivery over and settles it (sends it, or cancels it after an
unsubscribe). A's late outcome, whatever it is, is refused: the row stays as B left it.
On a SQLite file and on a real PostgreSQL database.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest

from paperboy.emails.delivery import DeliveryError, PermanentDeliveryError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.mailing.send import resend_pending, send_delivery
from paperboy.jobs.storage import FAILED, PENDING, SENT, Storage

START = datetime(2026, 7, 1, 6, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PAPER = "2607.00001"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[Storage]:
    with Storage.open(database_url, now=clock) as storage:
        yield storage


def record(storage: Storage) -> int:
    storage.upsert_papers(
        [SourcePaper(PAPER, "A title", "An abstract.", ("Ada",), ("cs.LG",), "")],
        source="arxiv",
        listed=True,
    )
    message = EmailMessage()
    message["To"] = "ada@example.org"
    message["Message-ID"] = "<1@paperboy.test>"
    message.set_content("papers")
    return storage.create_delivery(
        user_name="ada",
        message_id="<1@paperboy.test>",
        digest_day=date(2026, 7, 1),
        message=message.as_bytes(),
        paper_ids=[PAPER],
        listed_through=None,
    )


def message_of(storage: Storage, delivery_id: int) -> EmailMessage:
    [d] = [d for d in storage.deliveries() if d.id == delivery_id]
    message = email.message_from_bytes(d.message, policy=email.policy.SMTP)
    assert isinstance(message, EmailMessage)
    return message


class Transport:
    """Sends by calling `during` (what happens elsewhere while the message is on its
    way), then accepts with `receipt` or raises `error`."""

    def __init__(
        self,
        receipt: str,
        during: Callable[[], None] = lambda: None,
        error: Exception | None = None,
    ) -> None:
        self.receipt, self.during, self.error = receipt, during, error
        self.sent = 0

    def send(self, message: EmailMessage) -> str:
        self.during()
        self.sent += 1
        if self.error is not None:
            raise self.error
        return self.receipt


def b_takes_over_and_sends(storage: Storage, clock: Clock, delivery_id: int) -> Callable[[], None]:
    def during() -> None:
        clock.now += LEASE + timedelta(seconds=1)  # A's lease runs out mid-send
        status, receipt, _ = send_delivery(
            storage,
            Transport("smtp-by-B"),
            delivery_id,
            message_of(storage, delivery_id),
            owner="B",
            lease=LEASE,
        )
        assert (status, receipt) == ("sent", "smtp-by-B")

    return during


@pytest.mark.parametrize(
    "late",
    [None, DeliveryError("451 4.3.0 try later"), PermanentDeliveryError("550 5.1.1 unknown")],
    ids=["sent", "temporary-failure", "permanent-failure"],
)
def test_a_late_outcome_of_a_stale_holder_is_refused(
    store: Storage, clock: Clock, late: Exception | None
) -> None:
    delivery_id = record(store)
    a = Transport("smtp-by-A", during=b_takes_over_and_sends(store, clock, delivery_id), error=late)
    status, _receipt, error = send_delivery(
        store, a, delivery_id, message_of(store, delivery_id), owner="A", lease=LEASE
    )
    [d] = store.deliveries()
    assert (d.status, d.receipt, d.attempts, d.last_error) == (SENT, "smtp-by-B", 1, None)
    assert d.lease_owner is None
    assert store.mailed_ids("ada") == {PAPER}  # B sent it: the paper stays mailed
    assert status == "elsewhere" and error is not None


def test_storage_refuses_writes_of_a_runner_that_lost_the_lease(
    store: Storage, clock: Clock
) -> None:
    delivery_id = record(store)
    assert store.take_delivery(delivery_id, "A", LEASE)
    clock.now += LEASE + timedelta(seconds=1)
    assert store.take_delivery(delivery_id, "B", LEASE)
    # While B holds it, A can neither settle it nor put it back to pending.
    assert not store.mark_sent(delivery_id, "smtp-by-A", owner="A")
    assert not store.mark_attempt_failed(delivery_id, "451", permanent=False, owner="A")
    assert not store.mark_attempt_failed(delivery_id, "550", permanent=True, owner="A")
    [d] = store.deliveries()
    assert (d.status, d.lease_owner, d.attempts) == (PENDING, "B", 0)
    assert store.mark_sent(delivery_id, "smtp-by-B", owner="B")
    # Once sent, nobody's late write applies, not even B's own.
    assert not store.mark_attempt_failed(delivery_id, "451", permanent=False, owner="A")
    assert not store.mark_attempt_failed(delivery_id, "451", permanent=False, owner="B")
    assert not store.mark_sent(delivery_id, "again", owner="B")
    assert not store.mark_attempt_failed(delivery_id, "550", permanent=True)
    [d] = store.deliveries()
    assert (d.status, d.receipt, d.attempts) == (SENT, "smtp-by-B", 1)
    assert store.mailed_ids("ada") == {PAPER}


def test_a_late_send_does_not_undo_an_unsubscribe(store: Storage, clock: Clock) -> None:
    """A's send outlives its lease; meanwhile the user unsubscribes and B cancels the
    delivery (failed, its papers released). A's late mark_sent does not turn it back."""
    delivery_id = record(store)

    def during() -> None:
        clock.now += LEASE + timedelta(seconds=1)
        store.set_unsubscribed("ada", True)
        assert resend_pending(store, Transport("smtp-by-B"), "ada", clock.now, owner="B") == 0

    a = Transport("smtp-by-A", during=during)
    status, _receipt, _error = send_delivery(
        store, a, delivery_id, message_of(store, delivery_id), owner="A", lease=LEASE
    )
    [d] = store.deliveries()
    assert (d.status, d.last_error, d.receipt) == (FAILED, "the user unsubscribed", None)
    assert store.mailed_ids("ada") == set()
    assert [p.id for p in store.returned_papers("ada")] == [PAPER]
    assert status == "elsewhere"
