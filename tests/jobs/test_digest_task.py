"""The queue's digest task, run as a worker runs it, with Celery's retry loop played by
the test (issue #20 items 1 and 4): a paused user's unsent digest ends the task instead
of spinning it; a failure that may pass is tried again with back-off, a bounded number
of times; one that will not is recorded, and `paperboy status` shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

pytest.importorskip("celery", reason="celery is not installed (the [queue] extra)")

from celery.exceptions import Retry

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.mailing import run
from paperboy.jobs.mailing.send import retry_all_pending
from paperboy.jobs.runners.queue import tasks
from paperboy.jobs.storage import Storage, utcnow
from tests.jobs.test_claims import (
    NOW,
    new_papers,
    sample_papers,
    store_saved,
    write_config,
)
from tests.smtp_server import LocalSMTPServer

AT = NOW.isoformat()  # the schedule's firing: u0's digest is due (08:00 in Berlin)


class FakeTask:
    """What run_digest_task uses of a bound Celery task: request.retries, and retry(),
    which (as Celery's) raises Retry after noting when and with what it comes back."""

    def __init__(self) -> None:
        self.request = SimpleNamespace(retries=0, kwargs={})
        self.countdowns: list[float] = []

    def retry(
        self, *, countdown: float, max_retries: int | None, kwargs: dict[str, Any] | None = None
    ) -> Retry:
        assert max_retries is not None, "an unbounded retry"
        assert self.request.retries < max_retries  # as Celery: MaxRetriesExceededError
        self.countdowns.append(countdown)
        if kwargs is not None:
            self.request.kwargs = kwargs
        raise Retry()


def drive(path: Path, user: str, limit: int = 2000) -> tuple[str | None, FakeTask, int]:
    """Run the task as a worker does until it ends, or `limit` runs: (status, task, runs)."""
    task = FakeTask()
    for runs in range(1, limit + 1):
        try:
            status = tasks.run_digest_task(task, path, user, AT, **task.request.kwargs)
        except Retry:
            task.request.retries += 1
            continue
        return status, task, runs
    return None, task, limit


@pytest.fixture(autouse=True)
def fresh_workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker's per-process state (config, open database), for this test alone."""
    workers: dict[str, Any] = {}
    monkeypatch.setattr(tasks, "_workers", workers)
    yield
    for w in workers.values():
        if w.storage is not None:
            w.storage.close()


def setup(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", port, users=1)
    if extra:
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    config = load_config(path)
    with Storage.open(config.database) as storage:
        store_saved(storage)
        storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
        storage.record_fetch("arxiv", url="test")  # fetched: no task fetches from arXiv
    return path


# --- item 1: a paused user's unsent digest --------------------------------------------


def test_a_paused_users_unsent_digest_ends_the_task_and_the_retry_job_sends_it(
    tmp_path: Path,
) -> None:
    with LocalSMTPServer() as smtp:
        path = setup(tmp_path, smtp.port)
        config = load_config(path)
        with Storage.open(config.database) as storage:
            # A digest recorded, the process killed before sending it: pending, never
            # tried, nobody's lease. Then the user pauses for a week.
            storage.create_delivery(
                user_name="u0",
                message_id="<unsent@paperboy.test>",
                digest_day=date(2026, 7, 1),
                message=b"To: u0@example.org\r\nMessage-ID: <unsent@paperboy.test>\r\n\r\nhi\r\n",
                paper_ids=["2608.00000"],
                listed_through=None,
                at=NOW,
            )
            storage.set_paused_until("u0", utcnow() + timedelta(days=7))
        status, task, runs = drive(path, "u0")
        # Before: ~600,000 runs over the week (countdown=1, max_retries=None).
        assert (status, runs, task.countdowns) == ("paused", 1, [])
        assert smtp.messages == []
        with Storage.open(config.database) as storage:
            [d] = storage.deliveries(user_name="u0")
            assert (d.status, d.attempts) == ("pending", 0)
            # The retry job owns it: nothing during the pause, sent after it.
            assert retry_all_pending(config, storage) == 0
            assert retry_all_pending(config, storage, now=utcnow() + timedelta(days=8)) == 1
            [d] = storage.deliveries(user_name="u0")
            assert d.status == "sent"
        assert [m["Message-ID"] for m in smtp.messages] == ["<unsent@paperboy.test>"]


def test_every_retry_in_the_package_has_a_cap() -> None:
    root = Path(__file__).resolve().parents[2] / "jobs"
    calls = []
    for source in root.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "max_retries=None" not in text, source
        calls += [(source.name, m) for m in re.findall(r"\.retry\(([^)]*)\)", text)]
    celery_retries = [(name, args) for name, args in calls if "countdown" in args]
    assert celery_retries, "the digest task's retries were not found"
    assert all("max_retries=" in args for _name, args in celery_retries), celery_retries


# --- item 4: a failed digest is retried, or recorded ----------------------------------


def drop_the_database(times: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The database connection drops while the digest gathers its candidates, `times`
    times (then it is back)."""
    calls = [0]
    real = run.candidates_for

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            raise OperationalError(
                "SELECT papers", {}, Exception("server closed the connection unexpectedly")
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "candidates_for", flaky)
    return calls


def test_a_failure_that_may_pass_is_tried_again_with_back_off_and_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalSMTPServer() as smtp:
        path = setup(tmp_path, smtp.port)
        calls = drop_the_database(2, monkeypatch)
        status, task, runs = drive(path, "u0")
        assert (status, runs, calls[0]) == ("sent", 3, 3)
        assert task.countdowns == [30.0, 60.0]
        assert [str(m["To"]) for m in smtp.messages] == ["u0@example.org"]
        with Storage.open(load_config(path).database) as storage:
            assert [d.status for d in storage.deliveries()] == ["sent"]


def test_a_failure_that_lasts_is_tried_a_bounded_number_of_times_then_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = setup(tmp_path, 25)
    drop_the_database(10**6, monkeypatch)
    status, task, runs = drive(path, "u0")
    assert (status, runs) == ("failed", tasks.FAILURE_TRIES)
    assert task.countdowns == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1800.0, 1800.0, 1800.0]
    with Storage.open(load_config(path).database) as storage:
        [d] = storage.deliveries()
        assert (d.status, d.attempts, d.paper_count) == ("failed", 10, 0)
        assert d.last_error is not None and "OperationalError" in d.last_error
        assert storage.mailed_ids("u0") == set()  # no paper is held by it
    out = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert out.exit_code == 1
    assert "u0: " in out.output and "1 FAILED (last: digest not built (after 10 tries)" in (
        out.output
    )


def test_a_failure_that_will_not_pass_is_recorded_at_once_and_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SMTP password's variable is not set: no retry will set it."""
    monkeypatch.delenv("PB_TEST_NO_SUCH_PASSWORD", raising=False)
    path = setup(tmp_path, 25)
    text = path.read_text(encoding="utf-8").replace(
        'security = "none"\n',
        'security = "none"\nusername = "pb"\npassword_env = "PB_TEST_NO_SUCH_PASSWORD"\n',
    )
    path.write_text(text, encoding="utf-8")
    status, task, runs = drive(path, "u0")
    assert (status, runs, task.countdowns) == ("failed", 1, [])
    with Storage.open(load_config(path).database) as storage:
        [d] = storage.deliveries()
        assert (d.status, d.attempts) == ("failed", 1)
        assert d.last_error is not None and "PB_TEST_NO_SUCH_PASSWORD" in d.last_error
    out = CliRunner().invoke(cli, ["--config", str(path), "status", "--format", "jsonl"])
    assert out.exit_code == 1
    assert "will not pass by retrying" in out.output and "PB_TEST_NO_SUCH_PASSWORD" in out.output


def test_failure_delays_double_and_stop_at_thirty_minutes() -> None:
    assert [tasks.failure_delay(n) for n in range(1, 9)] == [
        30.0,
        60.0,
        120.0,
        240.0,
        480.0,
        960.0,
        1800.0,
        1800.0,
    ]


# --- found by the fault campaign (benchmarks/faults.py): users added to users_dir ------


def move_users_to_a_folder(path: Path) -> Path:
    """The config's [[users]] tables moved into users_dir, one file each (as a large
    deployment keeps them); returns the folder."""
    text = path.read_text(encoding="utf-8")
    head, *users = text.split("\n[[users]]\n")
    folder = path.parent / "users.d"
    folder.mkdir()
    for block in users:
        name = block.split('name = "', 1)[1].split('"', 1)[0]
        (folder / f"{name}.toml").write_text(block, encoding="utf-8")
    head = head.replace("workers = 1\n", f'workers = 1\nusers_dir = "{folder}"\n', 1)
    path.write_text(head, encoding="utf-8")
    return folder


def test_a_user_added_to_users_dir_after_the_worker_started_gets_their_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker read users_dir once: a user added later had every digest task dropped
    ("no such user ... any more") and their pending deliveries never retried, until the
    worker restarted (config.toml's own stamp was all it checked)."""
    with LocalSMTPServer() as smtp:
        path = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port, users=2)
        folder = move_users_to_a_folder(path)
        added = (folder / "u1.toml").read_text(encoding="utf-8")
        (folder / "u1.toml").unlink()
        config = load_config(path)
        with Storage.open(config.database) as storage:
            store_saved(storage)
            storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
            storage.record_fetch("arxiv", url="test")
        assert drive(path, "u0")[0] == "sent"  # the worker has read its config and users
        (folder / "u1.toml").write_text(
            added, encoding="utf-8"
        )  # a new user, config.toml as it was
        status, _task, runs = drive(path, "u1")
        assert (status, runs) == ("sent", 1)
        assert sorted(str(m["To"]) for m in smtp.messages) == ["u0@example.org", "u1@example.org"]


def test_the_retry_task_sends_the_pending_delivery_of_a_user_added_since_the_worker_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A digest of a user added to users_dir, recorded by another runner (cron) and left
    pending by a 421: the worker's retry task knew only the users it started with and
    never sent it."""
    from celery import Celery

    monkeypatch.setattr(tasks, "RELOAD_CHECK", 0.0)  # the check's interval has passed
    with LocalSMTPServer() as smtp:
        path = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", smtp.port, users=2)
        folder = move_users_to_a_folder(path)
        added = (folder / "u1.toml").read_text(encoding="utf-8")
        (folder / "u1.toml").unlink()
        app = Celery("paperboy-test", set_as_current=False)
        tasks.register(app, path)
        retry = app.tasks[tasks.RETRY]
        assert retry() == 0  # the worker has read its config and users
        (folder / "u1.toml").write_text(added, encoding="utf-8")
        with Storage.open(load_config(path).database) as storage:
            storage.create_delivery(
                user_name="u1",
                message_id="<pending@paperboy.test>",
                digest_day=date(2026, 7, 1),
                message=b"To: u1@example.org\r\nMessage-ID: <pending@paperboy.test>\r\n\r\nhi\r\n",
                paper_ids=["2608.00000"],
                listed_through=None,
                at=NOW,
            )
        assert retry() == 1
        assert [m["Message-ID"] for m in smtp.messages] == ["<pending@paperboy.test>"]
