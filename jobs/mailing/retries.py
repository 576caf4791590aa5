"""When a delivery left pending is sent again (an e-mail's or a channel's): backoff,
giving up, and what an unsubscribe or a pause does to it. Pure: no I/O.

The retry policy of the digest's deliveries, shared by jobs.mailing.send (e-mail) and
jobs.mailing.channels (chat and push); send re-exports these names.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Protocol

from paperboy.jobs.storage import UserState

RETRY_FIRST = timedelta(minutes=5)  # a temporary SMTP failure is retried after this,
RETRY_MAX_DELAY = timedelta(hours=6)  # doubling up to this,
RETRY_GIVE_UP = timedelta(days=3)  # and given up (papers to the next digest) after this
# A digest that could not be built (queue tasks and the daemon alike):
FAILURE_FIRST = timedelta(seconds=30)  # a failure that may pass: tried again after this,
FAILURE_MAX = timedelta(minutes=30)  # doubling up to this,
FAILURE_TRIES = 10  # this many tries in all (about 2.5 hours), then recorded as failed

Action = Literal["send", "wait", "cancel", "give-up"]


def doubling(tries: int, first: timedelta, most: timedelta) -> timedelta:
    """The wait after `tries` failed tries: `first`, doubling with each, at most `most`."""
    delay: timedelta = first * 2 ** min(max(tries - 1, 0), 16)
    return min(delay, most)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed sends: 5 min, doubling, at most 6 h."""
    return doubling(attempts, RETRY_FIRST, RETRY_MAX_DELAY)


def failure_delay(failures: int) -> float:
    """Seconds before building a digest again after `failures` failed tries:
    FAILURE_FIRST, doubling, at most FAILURE_MAX."""
    return doubling(failures, FAILURE_FIRST, FAILURE_MAX).total_seconds()


class Attempted(Protocol):
    """What pending_action reads of a delivery: an e-mail's or a channel's."""

    @property
    def attempts(self) -> int: ...
    @property
    def last_attempt_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


def pending_action(delivery: Attempted, state: UserState, now: datetime) -> Action:
    """What to do now with a pending delivery of a user in `state`: "cancel" when they
    unsubscribed since it was built ("Unsubscribe" means no more mail, even one built
    before the click and left waiting for a retry), "wait" while they pause or while its
    backoff (retry_delay) lasts, "give-up" after RETRY_GIVE_UP of failed attempts, else
    "send" (at once when it was never tried: the process died before sending)."""
    if state.unsubscribed_at is not None:
        return "cancel"
    if state.paused(now):
        return "wait"  # sent (or given up) after the pause
    if delivery.attempts and delivery.last_attempt_at is not None:
        if now - delivery.created_at > RETRY_GIVE_UP:
            return "give-up"
        if now < delivery.last_attempt_at + retry_delay(delivery.attempts):
            return "wait"
    return "send"
