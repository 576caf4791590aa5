"""`paperboy run`: the jobs it schedules, catch-up after downtime, and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler

from paperboy.jobs.config.load import parse_config
from paperboy.jobs.mailing.retries import FAILURE_TRIES
from paperboy.jobs.mailing.run import DigestResult
from paperboy.jobs.runners.scheduler import MISFIRE_GRACE, build_scheduler, missed_digests
from paperboy.jobs.storage import Storage
from tests.commands import PAPERBOY

CONFIG = """
[paperboy]
database = "sqlite:///p.db"
fetch_schedule = "30 20 * * sun,mon-thu"

[sources.arxiv]
categories = ["cs.LG"]

[[users]]
name = "ada"
email = "ada@example.org"
timezone = "Europe/Berlin"
send_at = "07:30"

[[users]]
name = "kai"
email = "kai@example.org"
timezone = "Pacific/Auckland"
schedule = "weekly"
send_at = "06:00"
"""


def user_jobs(scheduler: BaseScheduler) -> dict[str, Job]:
    """Each user's digest job (one job serves every user on the same schedule)."""
    return {
        name: job
        for job in scheduler.get_jobs()
        if job.id.startswith("digest:")
        for name in job.args[0]
    }


# A user on kai's schedule, and one on ada's.
LEA = """
[[users]]
name = "lea"
email = "lea@example.org"
timezone = "Pacific/Auckland"
schedule = "weekly"
send_at = "06:00"
"""
MO = """
[[users]]
name = "mo"
email = "mo@example.org"
timezone = "Europe/Berlin"
send_at = "07:30"
"""


def test_jobs_and_their_triggers(tmp_path: Path) -> None:
    config = parse_config(CONFIG, tmp_path / "config.toml")
    with Storage.open(config.database) as storage:
        scheduler = build_scheduler(config, storage)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        users = user_jobs(scheduler)
    assert len(jobs) == 3 and set(users) == {"ada", "kai"} and "fetch" in jobs
    assert all(job.misfire_grace_time == MISFIRE_GRACE and job.coalesce for job in jobs.values())
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)  # a Monday
    fetch_next = jobs["fetch"].trigger.get_next_fire_time(None, now)
    assert fetch_next.isoformat() == "2025-06-02T20:30:00-04:00"  # US Eastern, DST
    ada_next = users["ada"].trigger.get_next_fire_time(None, now)
    assert ada_next.isoformat() == "2025-06-03T07:30:00+02:00"
    kai_next = users["kai"].trigger.get_next_fire_time(None, now)
    assert kai_next.isoformat() == "2025-06-09T06:00:00+12:00"  # a Monday in Auckland


def test_missed_digest_is_caught_up_once(tmp_path: Path) -> None:
    config = parse_config(CONFIG, tmp_path / "config.toml")
    now = datetime(2025, 6, 3, 9, tzinfo=UTC)  # 11:00 in Berlin: 07:30 passed 3.5 h ago
    with Storage.open(config.database) as storage:
        assert missed_digests(config, storage, now) == ["ada"]
        storage.record_empty_digest("ada", None, at=datetime(2025, 6, 3, 5, 31, tzinfo=UTC))
        assert missed_digests(config, storage, now) == []
        later = datetime(2025, 6, 3, 20, tzinfo=UTC)  # past the 12 h grace: not caught up
        storage.record_empty_digest("ada", None, at=datetime(2025, 6, 2, 5, 31, tzinfo=UTC))
        assert missed_digests(config, storage, later) == []
    assert date(2025, 6, 3).weekday() == 1


@pytest.mark.slow
def test_daemon_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "PAPERBOY_CONFIG": str(tmp_path / "config.toml")}
    daemon = subprocess.Popen(
        [*PAPERBOY, "-v", "run"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert daemon.stderr is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = daemon.stderr.readline()
        lines.append(line)
        if "scheduled digest for kai" in line:
            break
    time.sleep(0.5)
    daemon.send_signal(signal.SIGTERM)
    _, rest = daemon.communicate(timeout=30)
    log = "".join(lines) + rest
    assert daemon.returncode == 0, log
    assert "scheduled digest for ada: next at" in log
    assert "received SIGTERM, stopping" in log and "stopped" in log


def test_a_reload_replaces_only_the_jobs_that_changed(tmp_path: Path) -> None:
    """With thousands of users, a reload after one user's file changed must not remove
    and re-add every job (issue 13); a pending catch-up survives it."""
    from paperboy.jobs.runners.scheduler import Daemon

    config = parse_config(CONFIG, tmp_path / "config.toml")
    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage)
        daemon.schedule()
        daemon.scheduler.add_job(lambda: None, id="catch-up:ada", name="catch-up for ada")
        before = {job.id: job for job in daemon.scheduler.get_jobs()}
        kai = user_jobs(daemon.scheduler)["kai"]
        changed = CONFIG.replace('send_at = "07:30"', 'send_at = "08:15"') + LEA
        daemon.config = parse_config(changed, tmp_path / "config.toml")
        daemon.schedule()
        after = {job.id: job for job in daemon.scheduler.get_jobs()}
        users = user_jobs(daemon.scheduler)
    assert set(users) == {"ada", "kai", "lea"}
    assert len(after) == len(before)  # ada's job moved to the new time, lea joined kai's
    assert after["fetch"] is before["fetch"]  # untouched
    assert after["catch-up:ada"] is before["catch-up:ada"]
    assert users["kai"] is users["lea"] and users["kai"].args == (("kai", "lea"),)
    assert users["kai"].trigger is kai.trigger  # the same schedule
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    ada_next = users["ada"].trigger.get_next_fire_time(None, now)
    assert ada_next.isoformat() == "2025-06-03T08:15:00+02:00"  # the new time


def test_one_job_per_schedule_and_a_reload_leaves_other_schedules_alone(tmp_path: Path) -> None:
    """A firing runs the users of its schedule, not every user (issue #20 item 17); a
    user added to one schedule replaces that schedule's job and no other."""
    from paperboy.jobs.runners.scheduler import Daemon

    config = parse_config(CONFIG + LEA, tmp_path / "config.toml")
    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage)
        daemon.schedule()
        before = user_jobs(daemon.scheduler)
        daemon.config = parse_config(CONFIG + LEA + MO, tmp_path / "config.toml")
        daemon.schedule()
        after = user_jobs(daemon.scheduler)
    assert before["kai"] is before["lea"] and before["kai"].args == (("kai", "lea"),)
    assert after["kai"] is before["kai"]  # its schedule's users did not change
    assert after["ada"] is not before["ada"] and after["ada"].args == (("ada", "mo"),)
    assert len({job.id for job in after.values()}) == 2


# --- a firing runs its own users (issue #20 item 17) ------------------------------------


def test_a_firing_sends_the_digests_of_its_schedule_only(tmp_path: Path) -> None:
    """ada and mo share a schedule, kai has another: ada's firing sends ada's and mo's
    digests and leaves kai's (due too: never sent) to kai's own firing. The daemon once
    ran every user's digest on any firing: three queries per user, at 10,000 users, on
    its one job thread, and every user's digest whenever anyone's schedule fired."""
    from paperboy.jobs.runners.scheduler import Daemon
    from tests.jobs.test_pipeline import config_for, load_sample

    kai = '\n[[users]]\nname = "kai"\nemail = "kai@example.org"\nsend_at = "06:00"\n'
    mo = '\n[[users]]\nname = "mo"\nemail = "mo@example.org"\n'
    mo += 'timezone = "Europe/Berlin"\nsend_at = "07:30"\n'
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", 25, kai + mo)
    config = replace(config, email=replace(config.email, transport="outbox"))
    with Storage.open(config.database) as storage:
        load_sample(storage)
        daemon = Daemon(config, storage, fetch_before_digest=False)  # the sample is here
        daemon.schedule()
        jobs = user_jobs(daemon.scheduler)
        assert jobs["ada"] is jobs["mo"] and jobs["kai"] is not jobs["ada"]
        jobs["ada"].func(*jobs["ada"].args)
        after_ada = {d.user_name for d in storage.deliveries()}
        jobs["kai"].func(*jobs["kai"].args)
        after_kai = {d.user_name for d in storage.deliveries()}
    assert after_ada == {"ada", "mo"}
    assert after_kai == {"ada", "mo", "kai"}


def failed(name: str, *, transient: bool) -> DigestResult:
    return DigestResult(name, "failed", error="OperationalError: gone", transient=transient)


def test_a_failed_digest_is_tried_again_with_a_doubling_wait_then_recorded(
    tmp_path: Path,
) -> None:
    """The daemon retries a digest whose failure may pass (30 s, doubling, FAILURE_TRIES
    tries in all) as a queue task does, and records the last one, and any failure that
    will not pass, as a failed delivery that `paperboy status` shows."""
    from paperboy.jobs.runners.scheduler import Daemon

    config = parse_config(CONFIG, tmp_path / "config.toml")
    now = datetime(2025, 6, 3, 5, 30, tzinfo=UTC)
    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage, now=lambda: now)
        daemon._settle([failed("ada", transient=True), failed("kai", transient=False)])
        [kai_failed] = storage.deliveries(user_name="kai", status="failed")
        assert "will not pass by retrying" in (kai_failed.last_error or "")
        retry = daemon.scheduler.get_job("digest-retry")
        assert retry is not None and retry.trigger.run_date == now + timedelta(seconds=30)
        waits = []
        for _ in range(FAILURE_TRIES - 2):
            daemon._settle([failed("ada", transient=True)])
            job = daemon.scheduler.get_job("digest-retry")
            waits.append((job.trigger.run_date - now).total_seconds())
        assert waits == [60, 120, 240, 480, 960, 1800, 1800, 1800]
        assert storage.deliveries(user_name="ada") == []  # still being tried
        daemon._settle([failed("ada", transient=True)])  # the last try
        [ada_failed] = storage.deliveries(user_name="ada", status="failed")
        assert f"after {FAILURE_TRIES} tries" in (ada_failed.last_error or "")
        assert ada_failed.attempts == FAILURE_TRIES
        assert daemon.scheduler.get_job("digest-retry") is None  # nothing left to try


def test_the_retry_job_runs_the_failed_digests_whose_wait_passed(tmp_path: Path) -> None:
    from paperboy.jobs.runners.scheduler import Daemon

    config = parse_config(CONFIG, tmp_path / "config.toml")
    clock = [datetime(2025, 6, 3, 5, 30, tzinfo=UTC)]
    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage, now=lambda: clock[0], fetch_before_digest=False)
        daemon._settle([failed("ada", transient=True)])
        clock[0] += timedelta(seconds=10)
        daemon._settle([failed("kai", transient=True), failed("ada", transient=True)])
        ran: list[tuple[str, ...]] = []
        daemon._digests = lambda names: ran.append(tuple(names))  # type: ignore[method-assign]
        clock[0] += timedelta(seconds=35)  # kai's 30 s have passed, ada's 60 s not yet
        daemon.retry_digests()
        clock[0] += timedelta(seconds=60)
        daemon.retry_digests()
        daemon._settle([DigestResult("ada", "sent"), DigestResult("kai", "not-due")])
        assert daemon.scheduler.get_job("digest-retry") is None
    assert ran == [("kai",), ("ada", "kai")]
