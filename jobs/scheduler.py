"""`paperboy run`: APScheduler 3.x in the foreground, cron triggers from config.

One fetch job on arXiv's announcement rhythm and one digest job per user at the user's
`send_at` in their own time zone. Jobs run one at a time (a single worker thread), so a
digest never races the fetch that feeds it. A job that raises is logged and the daemon
goes on. SIGINT and SIGTERM stop it cleanly: a job already running finishes its current
transaction (every write is atomic), and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.config import Config
from jobs.digest import run_digests
from jobs.fetch import fetch_all
from jobs.http import HttpClient
from jobs.storage import Storage

log = logging.getLogger(__name__)

MISFIRE_GRACE = 12 * 3600  # a digest missed while the laptop slept still goes out, once
# Missed runs coalesce into one; a job never overlaps itself.
JOB_OPTIONS: dict[str, Any] = {
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": MISFIRE_GRACE,
}


def fetch_job(config: Config, storage: Storage) -> None:
    with HttpClient(contact=config.contact) as client:
        fetch_all(config, storage, client)


def digest_job(config: Config, storage: Storage, user_name: str) -> None:
    run_digests(config, storage, users=[user_name])


def build_scheduler(
    config: Config,
    storage: Storage,
    *,
    fetch: Callable[[Config, Storage], None] = fetch_job,
    digest: Callable[[Config, Storage, str], None] = digest_job,
) -> BlockingScheduler:
    """A scheduler with the fetch job and one digest job per user (not started)."""
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        timezone=ZoneInfo("UTC"),
    )
    if config.arxiv is not None or any(u.saved for u in config.users):
        scheduler.add_job(
            fetch,
            CronTrigger.from_crontab(
                config.fetch_schedule, timezone=ZoneInfo(config.fetch_timezone)
            ),
            args=(config, storage),
            id="fetch",
            name="fetch all sources",
            **JOB_OPTIONS,
        )
    for user in config.users:
        scheduler.add_job(
            digest,
            user.trigger(),
            args=(config, storage, user.name),
            id=f"digest:{user.name}",
            name=f"digest for {user.name}",
            **JOB_OPTIONS,
        )

    def on_error(event: JobExecutionEvent) -> None:
        log.error(
            "job %s raised %r; the daemon goes on",
            event.job_id,
            event.exception,
            exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
        )

    scheduler.add_listener(on_error, EVENT_JOB_ERROR)
    return scheduler


def missed_digests(
    config: Config, storage: Storage, now: datetime, grace: float = MISFIRE_GRACE
) -> list[str]:
    """Users whose send time passed within the grace period without a digest (daemon down)."""
    missed = []
    for user in config.users:
        fired = user.trigger().get_next_fire_time(None, now - timedelta(seconds=grace))
        if fired is None or fired > now:
            continue
        last = storage.user_state(user.name).last_digest_at
        if last is None or last < fired:
            missed.append(user.name)
    return missed


def run_forever(config: Config, storage: Storage, **kwargs: Any) -> None:
    """Start the scheduler in the foreground until SIGINT/SIGTERM."""
    scheduler = build_scheduler(config, storage, **kwargs)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    now = datetime.now(UTC)
    for name in missed_digests(config, storage, now):
        log.info("the digest for %s was missed while Paperboy was down; sending it now", name)
        scheduler.add_job(
            kwargs.get("digest", digest_job), args=(config, storage, name), id=f"catch-up:{name}"
        )
    for job in scheduler.get_jobs():
        log.info("scheduled %s: next at %s", job.name, job.trigger.get_next_fire_time(None, now))
    scheduler.start()  # blocks until stop() shuts it down
    log.info("stopped")
