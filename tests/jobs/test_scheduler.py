"""`paperboy run`: the jobs it schedules, catch-up after downtime, and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperboy.jobs.config.load import parse_config
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


def test_jobs_and_their_triggers(tmp_path: Path) -> None:
    config = parse_config(CONFIG, tmp_path / "config.toml")
    with Storage.open(config.database) as storage:
        scheduler = build_scheduler(config, storage)
        jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"fetch", "digest:ada", "digest:kai"}
    assert all(job.misfire_grace_time == MISFIRE_GRACE and job.coalesce for job in jobs.values())
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)  # a Monday
    fetch_next = jobs["fetch"].trigger.get_next_fire_time(None, now)
    assert fetch_next.isoformat() == "2025-06-02T20:30:00-04:00"  # US Eastern, DST
    ada_next = jobs["digest:ada"].trigger.get_next_fire_time(None, now)
    assert ada_next.isoformat() == "2025-06-03T07:30:00+02:00"
    kai_next = jobs["digest:kai"].trigger.get_next_fire_time(None, now)
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
        changed = CONFIG.replace('send_at = "07:30"', 'send_at = "08:15"').replace(
            '[[users]]\nname = "kai"', '[[users]]\nname = "lea"'
        )
        daemon.config = parse_config(changed, tmp_path / "config.toml")
        daemon.schedule()
        after = {job.id: job for job in daemon.scheduler.get_jobs()}
    assert set(after) == {"fetch", "digest:ada", "digest:lea", "catch-up:ada"}
    assert after["fetch"] is before["fetch"]  # untouched
    assert after["catch-up:ada"] is before["catch-up:ada"]
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    ada_next = after["digest:ada"].trigger.get_next_fire_time(None, now)
    assert ada_next.isoformat() == "2025-06-03T08:15:00+02:00"  # the new time
    assert after["digest:lea"].args == ("lea",)
