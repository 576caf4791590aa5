"""The queue's tasks: what `paperboy worker` runs, and what `paperboy run` enqueues.

    paperboy.digest(user, at)   the digest of one user, as `paperboy digest --user` at
                                time `at` (the schedule's firing): claimed in the
                                database, so a redelivered or duplicated task sends
                                nothing twice; while another runner holds the claim or
                                the lease of the user's unsent digest, the task comes
                                back after that lease (at most HOLD_RETRIES times), and
                                takes over if its holder died. A paused or unsubscribed
                                user's unsent digest is nobody's hold: the task ends, the
                                retry task sends it after the pause.
                                A failure that may pass (database or SMTP unreachable, a
                                timeout: mailing.send.transient_error) is tried again
                                after 30 s, doubling up to 30 min, FAILURE_TRIES tries in
                                all; one that will not (a bad config, a bug), or the last
                                try, is recorded as a failed delivery with its error
                                (`paperboy status` shows it) and the task ends. Before
                                the digest: an overdue fetch, unless one runs elsewhere
    paperboy.fetch()            fetch every source, rebuild the index if anything changed
                                (skipped while another fetch holds the database's lock)
    paperboy.retry()            re-send deliveries that failed temporarily (backoff)

Tasks take names and times, never objects. Each worker process keeps its config
(re-read when config.toml or a users_dir file changed: looked at every RELOAD_CHECK
seconds, and at once for a user it does not know), its database connection and the
loaded index (jobs.ranking.corpus.load_corpus: loaded once per index generation, reloaded
when a fetch builds a new one).

The scheduler sends through an :class:`Enqueuer`: a task the broker refuses (down,
unreachable) is kept and sent again when the broker is back, so an outage delays digests
instead of losing them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import Celery

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.config.users import config_stamp
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.mailing.retries import FAILURE_TRIES, failure_delay
from paperboy.jobs.storage import Storage, utcnow

if TYPE_CHECKING:
    from paperboy.jobs.mailing.run import Pause

log = logging.getLogger(__name__)

DIGEST, FETCH, RETRY = "paperboy.digest", "paperboy.fetch", "paperboy.retry"
MAX_WAIT = timedelta(minutes=30)  # a task waiting for another runner's lease checks again
HOLD_RETRIES = 96  # ... at most this many times (each wait is at most MAX_WAIT)
MAX_RETRIES = HOLD_RETRIES + FAILURE_TRIES  # Celery's own cap over both kinds of retry
RELOAD_CHECK = 5.0  # seconds between a worker's looks at config.toml and users_dir


@dataclass
class _Worker:
    """Per worker process: the config (reloaded when config.toml or a users_dir file
    changed) and storage."""

    path: Path
    config: Config | None = None
    stamp: tuple[object, ...] | None = None
    checked: float = 0.0  # time.monotonic() of the last look at the files
    names: frozenset[str] = frozenset()
    storage: Storage | None = None

    def get(self, user_name: str | None = None) -> tuple[Config, Storage]:
        """The config and storage, the config reloaded first if its files changed: looked
        at every RELOAD_CHECK seconds (a stat per users_dir file: 0.1 s at 10,000 users,
        as the scheduler's reload), and at once for a user this worker does not know yet
        (added to users_dir since it last looked: the scheduler may enqueue their digest
        before the next look)."""
        now = time.monotonic()
        if (
            self.config is None
            or now - self.checked >= RELOAD_CHECK
            or (user_name is not None and user_name not in self.names)
        ):
            self.checked = now
            if self.config is None:
                self._use(load_config(self.path))
            else:
                stamp = config_stamp(self.config)  # before reading: a later change shows
                if stamp != self.stamp:
                    try:
                        config = load_config(self.path, previous=self.config)
                    except ConfigError as e:  # as the scheduler: the last good one stays
                        log.error("the config changed but is invalid; keeping the last:\n%s", e)
                    else:
                        self._use(config, stamp)
        assert self.config is not None
        if self.storage is None:
            self.storage = Storage.open(self.config.database)
        return self.config, self.storage

    def _use(self, config: Config, stamp: tuple[object, ...] | None = None) -> None:
        if self.storage is not None and (
            self.config is None or config.database != self.config.database
        ):
            self.storage.close()
            self.storage = None
        if stamp is None or self.config is None or config.users_dir != self.config.users_dir:
            stamp = config_stamp(config)  # (a new users_dir: watch the new folder)
        self.config, self.stamp = config, stamp
        self.names = frozenset(u.name for u in config.users)


_workers: dict[str, _Worker] = {}
_lock = threading.Lock()


def _state(path: Path, user_name: str | None = None) -> tuple[Config, Storage]:
    with _lock:
        worker = _workers.setdefault(str(path), _Worker(path))
        return worker.get(user_name)


def wait_for_others(storage: Storage, user_name: str, now: datetime) -> float | None:
    """Seconds until another runner's hold on this user's digest runs out: a live claim
    not yet done, or a pending delivery never tried that someone else has leased. None
    when nothing of this user's is held by anyone."""
    ends = [
        c["expires_at"]
        for c in storage.claims(user_name)
        if c["state"] == "claimed" and c["expires_at"] > now
    ]
    ends += [
        d.lease_expires_at
        for d in storage.deliveries(user_name=user_name, status="pending")
        if d.attempts == 0 and d.lease_expires_at is not None and d.lease_expires_at > now
    ]
    if not ends:
        return None
    seconds: float = (max(ends) - now).total_seconds() + 1
    return max(1.0, min(seconds, MAX_WAIT.total_seconds()))


def unsent(storage: Storage, user_name: str) -> bool:
    """A pending delivery never tried, whose lease is free: the next run sends it."""
    return any(d.attempts == 0 for d in storage.deliveries(user_name=user_name, status="pending"))


class DigestFailed(Exception):
    """A digest task's run failed (the result of run_digests, or an error around it)."""

    def __init__(self, error: str, *, transient: bool) -> None:
        super().__init__(error)
        self.error, self.transient = error, transient


def run_digest_task(
    task: Any,
    path: Path,
    user_name: str,
    at: str | None,
    pause: Pause | None = None,
    failures: int = 0,
) -> str:
    """The body of paperboy.digest (see the module's docstring); returns the status.
    ``pause``: jobs.mailing.run.run_digests's hook (tests stop a worker with it).
    ``failures``: failed tries of this task so far (the task's retries carry it)."""
    from celery.exceptions import Retry

    from paperboy.jobs.mailing.send import transient_error

    try:
        return _digest_task(task, path, user_name, at, pause, failures)
    except Retry:
        raise
    except DigestFailed as e:
        return _failed(task, path, user_name, at, e.error, e.transient, failures)
    except Exception as e:  # around the digest: the config, the database, the fetch
        log.error("digest task for %s failed", user_name, exc_info=True)
        error = f"{type(e).__name__}: {e}"
        return _failed(task, path, user_name, at, error, transient_error(e), failures)


def _digest_task(
    task: Any, path: Path, user_name: str, at: str | None, pause: Pause | None, failures: int
) -> str:
    from paperboy.jobs.mailing.run import run_digests
    from paperboy.jobs.runners.fetch_job import fetch_if_overdue

    config, storage = _state(path, user_name)
    if user_name not in {u.name for u in config.users}:
        log.warning("digest task for %s: no such user in %s any more", user_name, path)
        return "unknown-user"
    now = datetime.fromisoformat(at) if at else utcnow()
    if fetch_if_overdue(config, storage, utcnow()):  # one worker fetches; the others go on
        log.info("fetched (it was overdue) before the digest for %s", user_name)
    [result] = run_digests(config, storage, users=[user_name], now=now, workers=1, pause=pause)
    if result.status == "failed":
        raise DigestFailed(result.error or "failed", transient=result.transient)
    if not storage.user_state(user_name).receiving(utcnow()):
        # Paused or unsubscribed: what of theirs is pending is the retry task's (sent
        # after the pause, cancelled after an unsubscribe), not a hold to wait for.
        return result.status
    wait = wait_for_others(storage, user_name, utcnow())
    if wait is None and (result.status == "elsewhere" or unsent(storage, user_name)):
        wait = 1.0  # its holder's lease ran out just now: take it over
    if wait is None:
        return result.status
    waited = task.request.retries - failures
    if waited >= HOLD_RETRIES:
        log.error(
            "digest for %s: still held by another runner after %d waits; left to the "
            "retry task and the next firing",
            user_name,
            waited,
        )
        return "elsewhere"
    log.info("digest for %s is held by another runner; again in %.0f s", user_name, wait)
    raise task.retry(countdown=wait, max_retries=MAX_RETRIES)


def _failed(
    task: Any,
    path: Path,
    user_name: str,
    at: str | None,
    error: str,
    transient: bool,
    failures: int,
) -> str:
    """A failed try: again later if it may pass and tries are left, else recorded."""
    tries = failures + 1
    if transient and tries < FAILURE_TRIES:
        delay = failure_delay(tries)
        log.warning(
            "digest for %s failed (try %d of %d), again in %.0f s: %s",
            user_name,
            tries,
            FAILURE_TRIES,
            delay,
            error,
        )
        raise task.retry(countdown=delay, max_retries=MAX_RETRIES, kwargs={"failures": tries})
    why = f"after {tries} tries" if transient else "and will not pass by retrying"
    log.error("digest for %s failed %s: %s", user_name, why, error)
    try:
        _config, storage = _state(path)
        day = (datetime.fromisoformat(at) if at else utcnow()).date()
        storage.record_failed_digest(
            user_name, f"digest not built ({why}): {error}", digest_day=day, attempts=tries
        )
    except Exception as e:  # the database itself is gone: the log is all there is
        log.error("could not record the failed digest for %s: %s", user_name, e)
    return "failed"


def register(app: Celery, path: Path, *, pause: Pause | None = None) -> None:
    """Define Paperboy's tasks on `app`; workers read the config at `path`. ``pause``:
    the digests' test hook (jobs.mailing.run.run_digests)."""
    path = Path(path).resolve()

    def digest(self: Any, user_name: str, at: str | None = None, failures: int = 0) -> str:
        return run_digest_task(self, path, user_name, at, pause, failures)

    def fetch() -> None:
        from paperboy.jobs.runners.fetch_job import fetch_job

        config, storage = _state(path)
        fetch_job(config, storage)

    def retry() -> int:
        from paperboy.jobs.mailing.send import retry_all_pending

        config, storage = _state(path)
        return retry_all_pending(config, storage)

    late = {"acks_late": True, "reject_on_worker_lost": True}
    app.task(name=DIGEST, bind=True, **late)(digest)
    app.task(name=FETCH, **late)(fetch)
    app.task(name=RETRY, **late)(retry)


def enqueue_digest(app: Celery, user_name: str, at: datetime | None = None) -> None:
    """Put one user's digest on the queue (at: the schedule's firing, default now)."""
    app.send_task(DIGEST, args=[user_name, (at or utcnow()).astimezone(UTC).isoformat()])


def enqueue_fetch(app: Celery) -> None:
    app.send_task(FETCH)


def enqueue_retry(app: Celery) -> None:
    app.send_task(RETRY)


class Enqueuer:
    """The scheduler's way onto the queue. A task the broker does not take is kept (one
    per user's digest, with its first firing time; one fetch; one retry) and sent again
    by :meth:`flush`, which `paperboy run` calls every few minutes. While the broker is
    down, new tasks wait without trying it, so 10,000 firings at 05:00 do not each spend
    Celery's connection retries."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._waiting: dict[tuple[str, str], Callable[[], None]] = {}
        self._down = False
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Tasks not yet on the queue."""
        return len(self._waiting)

    def digest(self, user_name: str, at: datetime | None = None) -> bool:
        """Enqueue one user's digest for the firing `at` (default: now)."""
        at = at or utcnow()
        return self._send((DIGEST, user_name), lambda: enqueue_digest(self.app, user_name, at))

    def fetch(self) -> bool:
        return self._send((FETCH, ""), lambda: enqueue_fetch(self.app))

    def retry(self) -> bool:
        return self._send((RETRY, ""), lambda: enqueue_retry(self.app))

    def _send(self, key: tuple[str, str], send: Callable[[], None]) -> bool:
        with self._lock:
            if self._down:
                self._waiting.setdefault(key, send)  # the first firing's time is kept
                return False
            try:
                send()
            except Exception as e:  # kombu's OperationalError and friends: the broker
                self._down = True
                self._waiting.setdefault(key, send)
                log.error(
                    "the broker did not take %s (%s); keeping it and %s until it is back",
                    " ".join(k for k in key if k),
                    e,
                    "every later task",
                )
                return False
            return True

    def flush(self) -> int:
        """Send what is waiting, oldest first; stop at the first refusal. Returns how many
        tasks went out."""
        sent = 0
        with self._lock:
            for key, send in list(self._waiting.items()):
                try:
                    send()
                except Exception as e:
                    self._down = True
                    log.warning("the broker is still down (%s); %d tasks wait", e, self.waiting)
                    return sent
                del self._waiting[key]
                sent += 1
            self._down = False
        if sent:
            log.info("the broker is back: %d waiting tasks enqueued", sent)
        return sent
