"""`paperboy run`: APScheduler 3.x in the foreground, cron triggers from config.

    take the daemon lock for the database (one daemon per database)
    schedule: the fetch on arXiv's rhythm; one digest job per distinct schedule (send_at,
        days, zone), which runs the digests of the users on that schedule only: a firing
        costs the users due then, not every user (issue #20 item 17)
    catch up: a fetch or the digests missed while the daemon was down (within the grace),
        in one run
    a digest that failed and may pass (mailing.send.transient_error) is built again after
        30 s, doubling up to 30 min, FAILURE_TRIES tries in all, as a queue task would be;
        a failure that will not pass, or the last try, is recorded as a failed delivery
        that `paperboy status` shows
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

import contextlib
import faulthandler
import logging
import signal
import threading
from collections.abc import Callable, Sequence
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
from paperboy.jobs.mailing.retries import FAILURE_TRIES, failure_delay
from paperboy.jobs.mailing.run import DigestResult, run_digests
from paperboy.jobs.mailing.send import retry_all_pending, transient_error
from paperboy.jobs.ranking.encoding import encode_stored
from paperboy.jobs.runners.fetch_job import MISFIRE_GRACE, fetch_job, fetch_overdue
from paperboy.jobs.storage import Storage

log = logging.getLogger(__name__)

RELOAD_CHECK_SECONDS = 5
STOP_GRACE_SECONDS = 60.0  # the longest the daemon waits, once stopped, for a running job
RETRY_CHECK_SECONDS = 300  # pending deliveries are retried with backoff (jobs.mailing.send)
ENCODE_CHECK_SECONDS = 600  # papers left without a vector are encoded, a budget at a time
# jobs that schedule() leaves alone: the interval jobs, and the next try of failed digests
KEEP_JOBS = ("reload", "retry", "encode", "digest-retry")
# Missed runs coalesce into one; a job never overlaps itself.
JOB_OPTIONS: dict[str, Any] = {
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": MISFIRE_GRACE,
}

FetchFn = Callable[[Config, Storage], None]
DigestFn = Callable[[Config, Storage, str], None]  # one user's digest (queue: enqueue it)
RetryFn = Callable[[Config, Storage], object]


def digest_job(
    config: Config, storage: Storage, users: Sequence[str], *, stop: Stop | None = None
) -> list[DigestResult]:
    """The digests of `users` (those on one schedule, whose job fired), ranked together
    over every core (jobs.ranking.pool). Names no longer in the config (a reload removed
    them after the job was made) are skipped."""
    known = {user.name for user in config.users}
    names = [name for name in users if name in known]
    if not names:
        return []
    return run_digests(config, storage, users=names, stop=stop)


def schedule_groups(config: Config) -> dict[str, tuple[BaseTrigger, tuple[str, ...]]]:
    """The users by schedule: job id -> (trigger, user names), one digest job for the users
    whose digests fire at the same times (same cron fields and zone)."""
    groups: dict[str, tuple[BaseTrigger, list[str]]] = {}
    for user in config.users:
        trigger = user.trigger()
        key = f"digest:{trigger} {getattr(trigger, 'timezone', '')}"
        groups.setdefault(key, (trigger, []))[1].append(user.name)
    return {key: (trigger, tuple(names)) for key, (trigger, names) in groups.items()}


def _some(names: Sequence[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


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
        self._failures: dict[str, tuple[int, datetime]] = {}  # user -> (tries, next try)

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
        """One user's digest (and the overdue fetch first)."""
        self.run_digests((user_name,))

    def run_digests(self, names: Sequence[str]) -> None:
        """The digests of `names` (the users of one schedule); first the fetch, if the
        latest scheduled one has not run yet."""
        self._until_stopped(f"the digest run for {_some(names)}", lambda: self._digests(names))

    def _digests(self, names: Sequence[str]) -> None:
        if self.fetch_before_digest and fetch_overdue(self.config, self.storage, self.now()):
            log.info("the fetch is overdue; fetching before the digests of %s", _some(names))
            self._fetch()
        if self.digest is not None:
            for name in names:
                self.digest(self.config, self.storage, name)
            return
        try:
            results = digest_job(self.config, self.storage, names, stop=self.stop)
        except Stopped:
            raise
        except Exception as e:  # the run itself failed (the database is unreachable, ...)
            if not transient_error(e):
                raise
            error = f"{type(e).__name__}: {e}"
            results = [DigestResult(name, "failed", error=error, transient=True) for name in names]
        self._settle(results)

    def _settle(self, results: Sequence[DigestResult]) -> None:
        """Failed digests that may pass are tried again later (FAILURE_TRIES in all, with a
        doubling wait); the others, and the last try, are recorded as failed deliveries."""
        now = self.now()
        for result in results:
            if result.status != "failed":
                self._failures.pop(result.user, None)
                continue
            tries = self._failures.get(result.user, (0, now))[0] + 1
            if result.transient and tries < FAILURE_TRIES:
                delay = failure_delay(tries)
                self._failures[result.user] = (tries, now + timedelta(seconds=delay))
                log.warning(
                    "digest for %s failed (try %d of %d), again in %.0f s: %s",
                    result.user,
                    tries,
                    FAILURE_TRIES,
                    delay,
                    result.error,
                )
                continue
            self._failures.pop(result.user, None)
            why = f"after {tries} tries" if result.transient else "and will not pass by retrying"
            log.error("digest for %s failed %s: %s", result.user, why, result.error)
            try:
                self.storage.record_failed_digest(
                    result.user,
                    f"digest not built ({why}): {result.error}",
                    digest_day=now.date(),
                    attempts=tries,
                )
            except Exception as e:  # the database itself is gone: the log is all there is
                log.error("could not record the failed digest for %s: %s", result.user, e)
        self._plan_retry()

    def _plan_retry(self) -> None:
        """One "digest-retry" job, at the earliest next try of a failed digest."""
        while self.scheduler.get_job("digest-retry") is not None:  # (before the start,
            self.scheduler.remove_job("digest-retry")  # replace_existing does not replace)
        if self._failures:
            self.scheduler.add_job(
                self.retry_digests,
                "date",
                run_date=min(at for _tries, at in self._failures.values()),
                id="digest-retry",
                name="failed digests, again",
                **JOB_OPTIONS,
            )

    def retry_digests(self) -> None:
        """Build again, together, the failed digests whose wait has passed."""
        now = self.now()
        names = [name for name, (_tries, at) in self._failures.items() if at <= now]
        if names:
            self.run_digests(names)
        else:
            self._plan_retry()

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
        wanted: dict[str, tuple[Callable[..., None], BaseTrigger, tuple[Any, ...], str]] = {}
        if wants_fetch(self.config):
            wanted["fetch"] = (self.run_fetch, fetch_trigger(self.config), (), "fetch all sources")
        for job_id, (trigger, names) in schedule_groups(self.config).items():
            wanted[job_id] = (self.run_digests, trigger, (names,), f"digest for {_some(names)}")
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
        missed = missed_digests(self.config, self.storage, now)
        if missed:
            log.info(
                "digests were missed while Paperboy was down; sending them now: %s", _some(missed)
            )
            # Jobs run one at a time: without the grace period, a catch-up queued behind
            # the fetch would count as "missed" and be dropped.
            self.scheduler.add_job(
                self.run_digests,
                args=(tuple(missed),),
                id="catch-up:digests",
                name=f"catch-up for {_some(missed)}",
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
        # `kill -USR1 PID` prints every thread's stack to stderr: what a daemon that seems
        # stuck (or slow to stop) is doing, without stopping it.
        with contextlib.suppress(ValueError, OSError, RuntimeError, AttributeError):
            faulthandler.register(signal.SIGUSR1, all_threads=True)  # needs a real stderr
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
