"""When things are due: the cron arithmetic shared by the digest job, the daemon and
`paperboy status`.

Cheap to import: APScheduler's cron trigger is imported when a schedule is first asked
about (`paperboy status` does, to say when the next fetch and digests are due).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from paperboy.jobs.config.model import Config, UserConfig

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

_SECOND = timedelta(seconds=1)


def fires_after(trigger: CronTrigger, start: datetime) -> Iterator[datetime]:
    """The fire times of `trigger` from `start` on (inclusive), in order.

    Steps in UTC: wall-clock arithmetic would lose the fold of a repeated hour (when clocks
    fall back, 02:30 happens twice and a cron trigger fires at both).
    """
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None:
        yield fire
        fire = trigger.get_next_fire_time(None, fire.astimezone(UTC) + _SECOND)


def is_due(user: UserConfig, last_digest_at: datetime | None, now: datetime) -> bool:
    """Due when the user's schedule has fired since their last digest (or never had one).

    Wall-clock time decides: when clocks fall back, 02:30 happens twice, and the cron
    trigger fires twice; the second firing does not bring a second digest.
    """
    if last_digest_at is None:
        return True
    following = next_digest_firing(user, last_digest_at)
    return following is not None and following <= now


def next_digest_firing(user: UserConfig, last_digest_at: datetime) -> datetime | None:
    """The user's first schedule firing after their last digest, by wall-clock time (the
    second 02:30 of a night the clocks fall back is not a new firing); None: never."""
    last_local = last_digest_at.astimezone(ZoneInfo(user.timezone)).replace(tzinfo=None)
    for following in fires_after(user.trigger(), last_digest_at.astimezone(UTC) + _SECOND):
        if following.replace(tzinfo=None) > last_local:
            return following
    return None


def fetch_trigger(config: Config) -> CronTrigger:
    """The fetch schedule ([paperboy] fetch_schedule, in fetch_timezone)."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(config.fetch_schedule, timezone=ZoneInfo(config.fetch_timezone))


def last_fire(trigger: CronTrigger, now: datetime, within: timedelta) -> datetime | None:
    """The most recent fire time of `trigger` in (now - within, now], if any."""
    fired = None
    for fire in fires_after(trigger, now - within):
        if fire > now:
            break
        fired = fire
    return fired


def wants_fetch(config: Config) -> bool:
    """Whether there is anything to fetch: a source, or saved papers to look up."""
    return (
        config.arxiv is not None
        or config.huggingface is not None
        or bool(config.feeds)
        or any(u.saved_everywhere() for u in config.users)
    )
