"""jobs.mailing.due: who is due a digest now, and why the others are not. Pure: users,
their stored states and a time in, decisions out; no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from paperboy.jobs.config.model import UserConfig
from paperboy.jobs.mailing.due import Decision, decide, digest_slot
from paperboy.jobs.storage import UserState

# A Wednesday, 10:00 UTC. Daily digests at 07:30 UTC; weekly ones on Mondays.
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
TODAY_0730 = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)


def user(name: str = "ada", **kw: Any) -> UserConfig:
    return UserConfig(name=name, email=(f"{name}@localhost",), send_at=time(7, 30), **kw)


def state(
    last: datetime | None = None,
    *,
    unsubscribed: datetime | None = None,
    paused_until: datetime | None = None,
) -> UserState:
    return UserState("ada", None, last, unsubscribed_at=unsubscribed, paused_until=paused_until)


def test_never_sent_is_due_now_as_the_first_slot() -> None:
    assert decide(user(), state(), NOW) == Decision("ada", "due", "first")


def test_due_when_the_schedule_fired_since_the_last_digest() -> None:
    yesterday = TODAY_0730 - timedelta(days=1, minutes=-1)  # 07:31 yesterday
    decision = decide(user(), state(yesterday), NOW)
    assert decision.due and decision.slot == "2026-07-01T07:30:00.000000Z"


def test_not_due_yet_when_the_schedule_has_not_fired_since() -> None:
    this_morning = TODAY_0730 + timedelta(minutes=1)
    assert decide(user(), state(this_morning), NOW) == Decision("ada", "not-due")
    # and due once it has: tomorrow after 07:30
    tomorrow = NOW + timedelta(days=1)
    assert decide(user(), state(this_morning), tomorrow).slot == "2026-07-02T07:30:00.000000Z"


def test_not_due_exactly_before_the_firing_and_due_at_it() -> None:
    last = TODAY_0730 - timedelta(days=1)
    assert not decide(user(), state(last), TODAY_0730 - timedelta(seconds=1)).due
    assert decide(user(), state(last), TODAY_0730).due


def test_a_weekly_user_is_not_due_midweek() -> None:
    monday = datetime(2026, 6, 29, 7, 30, tzinfo=UTC)
    assert decide(user(schedule="weekly"), state(monday), NOW).status == "not-due"
    next_monday = monday + timedelta(days=7)
    assert decide(user(schedule="weekly"), state(monday), next_monday).due


def test_an_unsubscribed_user_is_never_due_even_forced() -> None:
    gone = state(unsubscribed=NOW - timedelta(days=3))
    assert decide(user(), gone, NOW) == Decision("ada", "unsubscribed")
    assert decide(user(), gone, NOW, force=True).status == "unsubscribed"


def test_a_paused_user_is_due_again_once_the_pause_ends() -> None:
    paused = state(paused_until=NOW + timedelta(days=7))
    assert decide(user(), paused, NOW) == Decision("ada", "paused")
    assert decide(user(), paused, NOW, force=True).status == "paused"
    assert decide(user(), paused, NOW + timedelta(days=7)).due  # paused until, exclusive


def test_unsubscribed_wins_over_paused() -> None:
    both = state(unsubscribed=NOW, paused_until=NOW + timedelta(days=1))
    assert decide(user(), both, NOW).status == "unsubscribed"


def test_forced_slots_name_the_state_they_build_on() -> None:
    last = TODAY_0730 + timedelta(minutes=1)
    assert decide(user(), state(), NOW, force=True).slot == "forced:first"
    assert decide(user(), state(last), NOW, force=True).slot == "forced:2026-07-01T07:31:00.000000Z"


def test_every_runner_names_the_same_slot_from_the_same_state() -> None:
    last = TODAY_0730 - timedelta(days=3)  # three firings missed: one digest, one slot
    slots = {digest_slot(user(), last, NOW + timedelta(minutes=m)) for m in range(0, 600, 7)}
    assert slots == {"2026-06-29T07:30:00.000000Z"}


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York"])
def test_the_slot_is_in_utc_whatever_the_users_time_zone(tz: str) -> None:
    decision = decide(user(timezone=tz), state(NOW - timedelta(days=2)), NOW + timedelta(days=1))
    assert decision.due and decision.slot is not None and decision.slot.endswith("Z")


def test_who_is_due_among_many_users() -> None:
    users = [user(n) for n in ("new", "sent-today", "sent-yesterday", "paused", "gone")]
    states = {
        "new": state(),
        "sent-today": state(TODAY_0730 + timedelta(minutes=5)),
        "sent-yesterday": state(TODAY_0730 - timedelta(hours=20)),
        "paused": state(TODAY_0730 - timedelta(days=1), paused_until=NOW + timedelta(hours=1)),
        "gone": state(None, unsubscribed=NOW - timedelta(hours=1)),
    }
    decisions = {u.name: decide(u, states[u.name], NOW).status for u in users}
    assert decisions == {
        "new": "due",
        "sent-today": "not-due",
        "sent-yesterday": "due",
        "paused": "paused",
        "gone": "unsubscribed",
    }
