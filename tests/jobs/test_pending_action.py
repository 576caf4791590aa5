"""jobs.mailing.send.pending_action: what a run does now with a delivery left pending.
Pure: the delivery, the user's state and a time in; no database, no transport."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from paperboy.jobs.mailing.send import (
    RETRY_GIVE_UP,
    pending_action,
    retry_delay,
)
from paperboy.jobs.storage import Delivery, UserState

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def delivery(attempts: int = 0, last: datetime | None = None, created: datetime = NOW) -> Delivery:
    return Delivery(
        id=1,
        user_name="ada",
        message_id="<m@x>",
        digest_day=date(2026, 7, 1),
        status="pending",
        paper_count=3,
        created_at=created,
        sent_at=None,
        attempts=attempts,
        last_error="451 try later" if attempts else None,
        receipt=None,
        message=b"",
        last_attempt_at=last,
    )


RECEIVING = UserState("ada", None, None)


def test_never_tried_goes_at_once() -> None:
    assert pending_action(delivery(), RECEIVING, NOW) == "send"


def test_a_failed_one_waits_for_its_backoff() -> None:
    failed = delivery(attempts=2, last=NOW, created=NOW - timedelta(hours=1))
    assert retry_delay(2) == timedelta(minutes=10)
    assert pending_action(failed, RECEIVING, NOW + timedelta(minutes=9)) == "wait"
    assert pending_action(failed, RECEIVING, NOW + timedelta(minutes=10)) == "send"


def test_the_backoff_doubles_up_to_six_hours() -> None:
    assert [retry_delay(n) for n in (0, 1, 2, 3)] == [
        timedelta(minutes=5),
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
    ]
    assert retry_delay(50) == timedelta(hours=6)


def test_given_up_after_retry_give_up() -> None:
    old = delivery(attempts=9, last=NOW - timedelta(minutes=1), created=NOW - RETRY_GIVE_UP)
    assert pending_action(old, RECEIVING, NOW) == "wait"  # exactly at the limit: not yet
    assert pending_action(old, RECEIVING, NOW + timedelta(seconds=1)) == "give-up"


def test_unsubscribed_cancels_even_a_never_tried_one() -> None:
    gone = UserState("ada", None, None, unsubscribed_at=NOW - timedelta(minutes=1))
    assert pending_action(delivery(), gone, NOW) == "cancel"


def test_paused_waits_and_sends_after_the_pause() -> None:
    paused = UserState("ada", None, None, paused_until=NOW + timedelta(days=1))
    assert pending_action(delivery(), paused, NOW) == "wait"
    assert pending_action(delivery(), paused, NOW + timedelta(days=1)) == "send"
