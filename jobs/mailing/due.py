"""Who is due a digest now, and why the others are not: pure functions of the user's
configuration (their schedule), their stored state (paused, unsubscribed, last digest)
and the time. No storage, no clock, no environment: jobs.mailing.run reads the state and
acts on the decision (claims the slot, builds the digest).

    decide(user, state, now, force):
        unsubscribed                          -> "unsubscribed"
        paused (until after now)              -> "paused"
        forced                                -> "due", slot "forced:<last digest>"
        never sent                            -> "due", slot "first"
        schedule fired since the last digest  -> "due", slot = that firing (UTC)
        otherwise                             -> "not-due"
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from paperboy.jobs.config.model import UserConfig
from paperboy.jobs.config.schedule import next_digest_firing
from paperboy.jobs.storage import UserState

log = logging.getLogger(__name__)

Status = Literal["due", "unsubscribed", "paused", "not-due"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one user's digest is due now; when it is, the slot it is claimed under."""

    user: str
    status: Status
    slot: str | None = None  # set exactly when status == "due"

    @property
    def due(self) -> bool:
        return self.status == "due"


def decide(user: UserConfig, state: UserState, now: datetime, *, force: bool = False) -> Decision:
    """Whether `user`, in `state`, is due a digest at `now` (``force``: whatever the
    schedule says; a paused or unsubscribed user still gets none)."""
    if state.unsubscribed_at is not None:  # "Unsubscribe" (issue #14)
        return Decision(user.name, "unsubscribed")
    if state.paused(now):  # "Pause for a week"
        return Decision(user.name, "paused")
    slot = digest_slot(user, state.last_digest_at, now, force=force)
    if slot is None:
        return Decision(user.name, "not-due")
    return Decision(user.name, "due", slot)


def digest_slot(
    user: UserConfig, last_digest_at: datetime | None, now: datetime, *, force: bool = False
) -> str | None:
    """Which digest is due now, as the key of its claim; None when none is.

    The slot is derived from the user's last digest only, so every runner that read the
    same state names the same slot: the schedule's first firing after the last digest
    (UTC, "2026-07-01T05:30:00Z"), "first" for a user's first digest, and
    "forced:<last digest time>" for a forced run (a second forced run after that digest
    is recorded builds on a new state, so it is a new slot).
    """
    if force:
        return "forced:" + (_iso(last_digest_at) if last_digest_at is not None else "first")
    if last_digest_at is None:
        return "first"
    following = next_digest_firing(user, last_digest_at)
    if following is None or following > now:
        return None
    return _iso(following)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
