"""`paperboy run`: APScheduler 3.x in the foreground, cron triggers from config.

    take the daemon lock for the database (one daemon per database)
    schedule: the fetch on arXiv's rhythm; each user's digest at send_at in their zone
    catch up: a fetch or a digest missed while the daemon was down (within the grace)
    a digest job first runs the fetch if that day's fetch is overdue, so it never mails
        yesterday's papers because the machine woke up in the wrong order
    every few seconds (and on SIGHUP): reload config.toml if it or a file in users_dir
        changed (added, edited, removed); an invalid edit is logged and the last good
        config stays in force
    every 10 minutes: encode the papers still without a vector, 4 minutes at most
        (jobs.embeddings), so a due digest waits for it no longer than that
    SIGINT / SIGTERM: stop within seconds, at any point: the daemon's Stop is passed to
        the job it runs, which ends at its next safe point (a retry wait, between sources,
        between encoding chunks, before the next user of a digest run) with Stopped,
        logged as "stopped", not as a failure; what it committed stays, the next run does
        the rest; exit 0

Jobs run one at a time (a single worker thread), so a digest never races a fetch. A job
that raises is logged with its traceback and the daemon goes on.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.config.schedule import fetch_trigger, last_fire, wants_fetch
from paperboy.jobs.config.users import config_stamp
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.core.stopping import Stop, Stopped
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.mailing.send import retry_all_pending
from paperboy.jobs.ranking.encoding import encode_stored
from paperboy.jobs.runners.fetch_job import MISFIRE_GRACE, fetch_job, fetch_overdue
from paperboy.jobs.storage import Storage

log = logging.getLogger(__name__)

RELOAD_CHECK_SECONDS = 5
STOP_GRACE_SECONDS = 60.0  # the longest the daemon waits, once stopped, for a running job
RETRY_CHECK_SECONDS = 300  # pending deliveries are retried with backoff (jobs.mailing.send)
ENCODE_CHECK_SECONDS = 600  # papers left without a vector are encoded, a budget at a time
KEEP_JOBS = ("reload", "retry", "encode")  # interval jobs that schedule() leaves alone
# Missed runs coalesce into one; a job never overlaps itself.
JOB_OPTIONS: dict[str, Any] = {
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": MISFIRE_GRACE,
}

FetchFn = Callable[[Config, Storage], None]
DigestFn = Callable[[Config, Storage, str], None]
RetryFn = Callable[[Config, Storage], object]


def digest_job(
    config: Config, storage: Storage, user_name: str, *, stop: Stop | None = None
) -> None:
    """The digest of `user_name`, and of every other user whose digest is due now.

    Users with the same send time have jobs that fire together; the first one ranks them
    all at once over every core (jobs.rank_pool), and the others find nothing due.
    """
    run_digests(config, storage, stop=stop)


def missed_digests(
    config: Config, storage: Storage, now: datetime, grace: float = MISFIRE_GRACE
) -> list[str]:
    """Users whose send time passed within the grace period without a digest (daemon down)."""
    missed = []
    for user in config.users:
        fired = last_fire(user.trigger(), now, timedelta(seconds=grace))
        if fired is None:
            continue
        last = storage.user_state(user.name).last_digest_at
        if last is None or last < fired:
            missed.append(user.name)
    return missed


@dataclass
class Daemon:
    """The running daemon: its config (reloadable), storage and scheduler."""

    config: Config
    storage: Storage
    fetch: FetchFn | None = None  # None: fetch_job, with the daemon's stop
    digest: DigestFn | None = None  # None: digest_job, with the daemon's stop
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    retry: RetryFn | None = None  # None: retry_all_pending here, with self.now()
    fetch_before_digest: bool = True  # False with a queue: the digest task checks itself
    stop: Stop = field(default_factory=Stop)  # set on SIGTERM/SIGINT (run_forever)

    def __post_init__(self) -> None:
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults=JOB_OPTIONS,
            timezone=ZoneInfo("UTC"),
        )
        self.scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self._fetch_lock = threading.Lock()
        self._busy = threading.RLock()  # held by a running job: the stop waits for it
        self._config_stamp = config_stamp(self.config)
        self._reload_requested = threading.Event()

    # --- jobs ---------------------------------------------------------------------------

    def _until_stopped(self, what: str, job: Callable[[], object]) -> None:
        """Run a job; a stop (Stopped) ends it as "stopped", which is not a failure."""
        with self._busy:
            if self.stop.is_set():
                return
            try:
                job()
            except Stopped:
                log.info("%s stopped; what it committed stays, the next run does the rest", what)

    def run_fetch(self) -> None:
        self._until_stopped("the fetch", self._fetch)

    def _fetch(self) -> None:
        with self._fetch_lock:
            if self.fetch is None:
                fetch_job(self.config, self.storage, stop=self.stop)
            else:
                self.fetch(self.config, self.storage)

    def run_digest(self, user_name: str) -> None:
        """A user's digest; first the fetch, if the latest scheduled one has not run yet."""
        self._until_stopped(f"the digest run for {user_name}", lambda: self._digest(user_name))

    def _digest(self, user_name: str) -> None:
        if self.fetch_before_digest and fetch_overdue(self.config, self.storage, self.now()):
            log.info("the fetch is overdue; fetching before the digest for %s", user_name)
            self._fetch()
        if self.digest is None:
            digest_job(self.config, self.storage, user_name, stop=self.stop)
        else:
            self.digest(self.config, self.storage, user_name)

    def encode(self) -> None:
        """Encode papers without a vector, within the budget (the "encode" interval job)."""
        self._until_stopped("encoding", lambda: encode_stored(self.storage, stop=self.stop))

    def retry_deliveries(self) -> None:
        """Re-send deliveries that failed temporarily, once their backoff has passed."""
        with self._busy:
            if self.retry is not None:
                self.retry(self.config, self.storage)
                return
            retry_all_pending(self.config, self.storage, now=self.now())

    def schedule(self) -> None:
        """Bring the jobs in line with the current config, touching only what changed: a
        reload after one user's file changed replaces that user's job, not 10,000 of them
        (issue 13). Interval jobs and pending catch-ups stay."""
        wanted: dict[str, tuple[Callable[..., None], BaseTrigger, tuple[str, ...], str]] = {}
        if wants_fetch(self.config):
            wanted["fetch"] = (self.run_fetch, fetch_trigger(self.config), (), "fetch all sources")
        for user in self.config.users:
            wanted[f"digest:{user.name}"] = (
                self.run_digest,
                user.trigger(),
                (user.name,),
                f"digest for {user.name}",
            )
        for job in self.scheduler.get_jobs():
            if job.id in KEEP_JOBS or job.id.startswith("catch-up:"):
                continue
            want = wanted.get(job.id)
            if want is not None and _same_trigger(job.trigger, want[1]) and job.args == want[2]:
                del wanted[job.id]  # unchanged: keep the job as it is
            else:
                job.remove()  # gone or changed (removed first: a scheduler not yet
                # started would otherwise keep the old job beside the new one until start)
        for job_id, (func, trigger, args, name) in wanted.items():
            self.scheduler.add_job(func, trigger, args=args, id=job_id, name=name, **JOB_OPTIONS)

    def catch_up(self) -> None:
        """Run now what was missed while the daemon was down (within the grace period)."""
        now = self.now()
        if fetch_overdue(self.config, self.storage, now):
            log.info("a scheduled fetch was missed while Paperboy was down; fetching now")
            self.scheduler.add_job(
                self.run_fetch, id="catch-up:fetch", name="catch-up fetch", **JOB_OPTIONS
            )
        for name in missed_digests(self.config, self.storage, now):
            log.info("the digest for %s was missed while Paperboy was down; sending it now", name)
            # Jobs run one at a time: without the grace period, every catch-up queued
            # behind the first would count as "missed" and be dropped.
            self.scheduler.add_job(
                self.run_digest,
                args=(name,),
                id=f"catch-up:{name}",
                name=f"catch-up for {name}",
                **JOB_OPTIONS,
            )

    # --- config reload ------------------------------------------------------------------

    def request_reload(self) -> None:
        self._reload_requested.set()

    def check_reload(self) -> bool:
        """Reload config.toml if it (or users_dir) changed or a reload was asked for; True
        if reloaded."""
        stamp = config_stamp(self.config)
        if stamp == self._config_stamp and not self._reload_requested.is_set():
            return False
        self._reload_requested.clear()
        self._config_stamp = stamp
        try:
            new = load_config(self.config.path, previous=self.config)  # changed files only
        except ConfigError as e:
            log.error("the config changed but is invalid; keeping the last good config:\n%s", e)
            return False
        if new.database != self.config.database:
            log.error("the database cannot change while running; restart Paperboy to switch")
            return False
        if new.users_dir != self.config.users_dir:  # watch the new folder from now on
            self._config_stamp = config_stamp(new)
        self.config = new
        self.schedule()
        log.info("reloaded %s: %d users", new.path, len(new.users))
        return True

    # --- running ------------------------------------------------------------------------

    def _on_error(self, event: JobExecutionEvent) -> None:
        exc = event.exception
        log.error(
            "job %s raised %r; the daemon goes on",
            event.job_id,
            exc,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    def run_forever(self) -> None:
        """Start in the foreground until SIGINT/SIGTERM; SIGHUP reloads config.toml."""

        stopping = self.stop
        returned = threading.Event()  # run_forever is returning: nothing is left to stop
        helpers: list[threading.Thread] = []

        def shutdown_once_running() -> None:
            # The signal came while the jobs were being set up: either the check before
            # start() sees `stopping`, or the scheduler starts and is stopped here, or
            # run_forever returns without starting it (then this ends with it).
            for _ in range(200):
                if self.scheduler.running:
                    self.scheduler.shutdown(wait=False)
                    return
                if returned.wait(0.05):
                    return

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            stopping.set()
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            else:
                helper = threading.Thread(
                    target=shutdown_once_running, name="paperboy-stop", daemon=True
                )
                helpers.append(helper)
                helper.start()

        def hangup(_signum: int, _frame: FrameType | None) -> None:
            log.info("received SIGHUP, reloading config")
            self.request_reload()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hangup)
        try:
            self._run_scheduler()
        finally:
            returned.set()
            for helper in helpers:
                helper.join()

    def _run_scheduler(self) -> None:
        """Schedule the jobs, catch up, and run until a stop; then wait for a running job."""
        self.schedule()
        self.scheduler.add_job(
            self.retry_deliveries,
            "interval",
            seconds=RETRY_CHECK_SECONDS,
            id="retry",
            name="retry pending deliveries",
            coalesce=True,
        )
        self.scheduler.add_job(
            self.encode,
            "interval",
            seconds=ENCODE_CHECK_SECONDS,
            id="encode",
            name="encode papers without a vector",
            coalesce=True,
        )
        self.scheduler.add_job(
            self.check_reload,
            "interval",
            seconds=RELOAD_CHECK_SECONDS,
            id="reload",
            name="watch config.toml",
            coalesce=True,
        )
        self.catch_up()
        now = self.now()
        for job in self.scheduler.get_jobs():
            if job.id not in KEEP_JOBS:
                log.info(
                    "scheduled %s: next at %s", job.name, job.trigger.get_next_fire_time(None, now)
                )
        if not self.stop.is_set():
            self.scheduler.start()  # blocks until stop() shuts it down
        # The job running, if any, was told by `self.stop`: wait for it to leave its
        # transaction before the caller closes the database and releases the lock.
        if self._busy.acquire(timeout=STOP_GRACE_SECONDS):
            self._busy.release()
        else:
            log.warning("a job is still running %.0f s after the stop", STOP_GRACE_SECONDS)
        log.info("stopped")


def build_scheduler(
    config: Config,
    storage: Storage,
    *,
    fetch: FetchFn | None = None,
    digest: DigestFn | None = None,
) -> BlockingScheduler:
    """A scheduler with the fetch job and one digest job per user (not started)."""
    daemon = Daemon(config, storage, fetch=fetch, digest=digest)
    daemon.schedule()
    return daemon.scheduler


def run_forever(config: Config, storage: Storage) -> None:
    """`paperboy run`: one daemon per database, in the foreground.

    With a [queue] table it only schedules: each firing puts a task on the queue (a
    user's digest, the fetch, the retries) for `paperboy worker` processes to run.
    """
    from paperboy.jobs.runners.lock import acquire_daemon_lock

    with acquire_daemon_lock(storage, config.database):
        web = None
        if config.web.serve:  # the feedback pages in the same process (issue #14)
            from paperboy.jobs.web.server import WebThread, make_server

            web = WebThread(make_server(config, storage))
            web.start()
        try:
            if config.queue is None:
                Daemon(config, storage).run_forever()
            else:
                queue_daemon(config, storage).run_forever()
        finally:
            if web is not None:
                web.stop()


def queue_daemon(config: Config, storage: Storage) -> Daemon:
    """The scheduler of a queue deployment: it enqueues, `paperboy worker`s do the work.

    Tasks the broker refuses wait in an Enqueuer and go out with the next retry tick
    (every RETRY_CHECK_SECONDS) once the broker is back."""
    from paperboy.jobs.runners.queue.app import make_app
    from paperboy.jobs.runners.queue.tasks import Enqueuer

    enqueuer = Enqueuer(make_app(config))
    log.info("queue mode: tasks go to the queue %r", config.queue.name if config.queue else "")

    def fetch(_config: Config, _storage: Storage) -> None:
        if enqueuer.fetch():
            log.info("enqueued the fetch")

    def digest(_config: Config, _storage: Storage, user_name: str) -> None:
        if enqueuer.digest(user_name):
            log.info("enqueued the digest for %s", user_name)

    def retry(_config: Config, _storage: Storage) -> None:
        enqueuer.flush()
        enqueuer.retry()

    return Daemon(
        config, storage, fetch=fetch, digest=digest, retry=retry, fetch_before_digest=False
    )


def _same_trigger(a: BaseTrigger, b: BaseTrigger) -> bool:
    """Whether two triggers fire at the same times (cron fields and time zone)."""
    return a is b or (
        type(a) is type(b)
        and (str(a), str(getattr(a, "timezone", None)))
        == (
            str(b),
            str(getattr(b, "timezone", None)),
        )
    )
