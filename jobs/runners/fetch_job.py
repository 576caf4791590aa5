"""The fetch job: every source fetched, then the stored features and vectors brought up to date.

    fetch_job:        with the fetch lock (else log "fetch running elsewhere", return):
                          fetch_all(sources) -> index_after_fetch (if anything new)
                          -> encode_stored
    fetch_if_overdue: fetch_overdue? -> with the fetch lock: still overdue? -> as fetch_job

One fetch at a time per database (jobs.storage.process_lock.fetch_lock): while a fetch is overdue,
every queue worker starting a digest would otherwise run its own (issue #20, item 5). The
lock never waits: a worker that finds a fetch running goes on with its digest. A crash
mid-fetch releases the lock (it belongs to the process's database session or open file)
and leaves what was stored; the next fetch picks up from there.

A stop (the daemon's Stop, set on SIGTERM) raises Stopped out of fetch_job at the next wait,
between sources, before the index is rebuilt or within an encoding chunk: the sources
fetched stay recorded, the rest is for the next run (the index is rebuilt after the next
fetch that brings anything new, vectors by the encode job).

Its own module so that both runners of it, the daemon (jobs.runners.scheduler) and the queue's
workers (jobs.runners.queue.tasks), import it without importing each other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from paperboy.jobs.config.model import Config
from paperboy.jobs.config.schedule import fetch_trigger, last_fire, wants_fetch
from paperboy.jobs.core.stopping import Stop
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.fetch.listings import fetch_all
from paperboy.jobs.ranking.corpus import index_after_fetch
from paperboy.jobs.ranking.encoding import encode_stored
from paperboy.jobs.storage import Storage, fetch_lock

__all__ = ["MISFIRE_GRACE", "fetch_if_overdue", "fetch_job", "fetch_overdue"]

log = logging.getLogger(__name__)

MISFIRE_GRACE = 12 * 3600  # a digest missed while the laptop slept still goes out, once


def fetch_job(config: Config, storage: Storage, *, stop: Stop | None = None) -> None:
    """Fetch every source, then rebuild the stored index if anything new was stored; or
    nothing, when another process is fetching into this database right now. Raises
    Stopped once ``stop`` is set (at its next safe point)."""
    with fetch_lock(storage) as held:
        if not held:
            log.info("fetch running elsewhere; not fetching here")
            return
        _fetch(config, storage, stop)


def fetch_if_overdue(
    config: Config, storage: Storage, now: datetime, *, stop: Stop | None = None
) -> bool:
    """Fetch first when a scheduled fetch is overdue (a queue worker before a digest);
    True if this call fetched. A fetch running elsewhere is not waited for."""
    if not fetch_overdue(config, storage, now):
        return False
    with fetch_lock(storage) as held:
        if not held:
            log.info("fetch running elsewhere; going on without it")
            return False
        if not fetch_overdue(config, storage, now):
            return False  # another worker's fetch ended between the check and the lock
        log.info("the fetch is overdue; fetching first")
        _fetch(config, storage, stop)
    return True


def _fetch(config: Config, storage: Storage, stop: Stop | None) -> None:
    with HttpClient(contact=config.contact, stop=stop) as client:
        reports = fetch_all(config, storage, client)
    if stop is not None:
        stop.check()
    index_after_fetch(config, storage, changed=any(r.new or r.updated for r in reports))
    encode_stored(storage, stop=stop)  # within a budget; the "encode" job drains the rest
    if stop is not None:
        stop.check()


def fetch_overdue(
    config: Config, storage: Storage, now: datetime, within: float = MISFIRE_GRACE
) -> bool:
    """True when a scheduled fetch (within the grace period) has not been attempted since."""
    if not wants_fetch(config):
        return False
    fired = last_fire(fetch_trigger(config), now, timedelta(seconds=within))
    if fired is None:
        return False
    # A fetch run attempts every source; its latest attempt tells whether it ran. Files
    # ingested by hand (`file:NAME`, paperboy fetch --from-file) are not a fetch run.
    attempts = [
        s.last_attempt_at
        for s in storage.all_sources()
        if s.last_attempt_at and not s.name.startswith("file:")
    ]
    return not attempts or max(attempts) < fired
