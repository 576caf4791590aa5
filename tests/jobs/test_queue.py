"""The queue path against the real brokers on this machine (RabbitMQ 5672, Redis 6379):
enqueue -> two `paperboy worker` processes -> a real SMTP server; one worker is killed
with SIGKILL mid-digest. Every digest arrives once, none is lost, no paper twice.

Skipped, with the reason, where a broker is not running. Each test uses a queue of its
own (a random name), deleted afterwards, so parallel runs never see each other's tasks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.storage import Storage
from tests.commands import PAPERBOY, kill_group
from tests.jobs.test_claims import (
    PAUSING,
    assert_no_paper_twice,
    new_papers,
    sample_papers,
    store_saved,
    wait_for,
    write_config,
)
from tests.smtp_server import LocalSMTPServer

BROKERS = {
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", 5672),
    "redis": ("redis://127.0.0.1:6379/0", 6379),
}
USERS = 5
LEASE = "15"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> str:
    url, port = BROKERS[request.param]
    pytest.importorskip(
        "celery", reason="celery is not installed (pip install 'paperboy-digest[queue]')"
    )
    if not _reachable(port):
        pytest.skip(f"no {request.param} broker at 127.0.0.1:{port}")
    return url


def queue_config(tmp_path: Path, database_url: str, port: int, broker: str, queue: str) -> Path:
    # The queue is the test's own; Redis, though, keeps every queue's unacknowledged tasks
    # under the same keys (kombu's `unacked`), and any worker puts back to its queue a task
    # older than that worker's visibility_timeout. Every test here uses the same 8 s, so a
    # worker of another test running at once (pytest -n 2) returns a task exactly when
    # this test's own workers would.
    path = write_config(tmp_path, database_url, port, users=USERS)
    with path.open("a", encoding="utf-8") as f:
        f.write(f'\n[queue]\nbroker = "{broker}"\nname = "{queue}"\nvisibility_timeout = 8\n')
    return path


def start_worker(
    config: Path, log: Path, env: dict[str, str], pause: tuple[str, Path] | None = None
) -> subprocess.Popen[bytes]:
    """`paperboy worker` in a session of its own, so that killing it kills its pool too
    (a machine that dies takes every process with it). With ``pause`` (point, marker
    file), the same worker through tests/pausing_digest.py, stopping at that point."""
    command = [*PAPERBOY, "--config", str(config), "worker", "--concurrency", "1"]
    if pause is not None:
        command = [*PAUSING, "worker", str(config), pause[0], str(pause[1])]
    return subprocess.Popen(
        command,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PAPERBOY_LEASE_SECONDS": LEASE, **env},
        start_new_session=True,
    )


@pytest.fixture
def queue_name(broker: str) -> Iterator[str]:
    name = f"paperboy-test-{uuid.uuid4().hex[:10]}"
    yield name
    from celery import Celery

    app = Celery(broker=broker, set_as_current=False)
    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(name)
    except Exception:  # the queue was never declared: nothing to clean up
        pass


@pytest.mark.slow
def test_two_workers_one_killed_every_digest_once(
    tmp_path: Path, postgres_url: str, broker: str, queue_name: str
) -> None:
    from paperboy.jobs.runners.queue.app import make_app
    from paperboy.jobs.runners.queue.tasks import enqueue_digest

    workers: list[subprocess.Popen[bytes]] = []
    with LocalSMTPServer() as smtp:
        config_path = queue_config(tmp_path, postgres_url, smtp.port, broker, queue_name)
        config = load_config(config_path)
        with Storage.open(config.database) as storage:
            store_saved(storage)
            storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
            storage.record_fetch("arxiv", url="test")  # fetched: no task fetches from arXiv
        app = make_app(config)
        marker = tmp_path / "paused"
        try:
            # Worker A takes the first digest and stops right after claiming it...
            victim = start_worker(
                config_path,
                tmp_path / "worker-a.log",
                {},
                pause=("claimed", marker),
            )
            workers.append(victim)
            enqueue_digest(app, "u0")
            wait_for(marker, victim)
            # ... worker B starts, the other digests are enqueued, and A is killed.
            workers.append(start_worker(config_path, tmp_path / "worker-b.log", {}))
            for i in range(1, USERS):
                enqueue_digest(app, f"u{i}")
            enqueue_digest(app, "u1")  # a duplicate task: the claim makes it harmless
            kill_group(victim)
            deadline = time.monotonic() + 180
            while len(smtp.messages) < USERS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(5)  # anything sent twice would arrive by now
        finally:
            for w in workers:
                kill_group(w, signal.SIGTERM)
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("worker-*.log"))
        to = Counter(str(m["To"]) for m in smtp.messages)
        assert to == {f"u{i}@example.org": 1 for i in range(USERS)}, logs[-4000:]
        assert_no_paper_twice(smtp)
        with Storage.open(config.database) as storage:
            assert all(d.status == "sent" for d in storage.deliveries())
            [claim] = storage.claims("u0")
            assert claim["takeovers"] == 1  # the killed worker's claim, taken over


def test_worker_without_a_queue_table_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", 25)
    done = subprocess.run(
        [*PAPERBOY, "--config", str(config), "worker"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "no [queue] table" in done.stderr and "Traceback" not in done.stderr


def test_bad_queue_table_names_file_and_line(tmp_path: Path) -> None:
    from paperboy.jobs.config.load import parse_config
    from paperboy.jobs.core.errors import ConfigError

    text = '[paperboy]\ndatabase = "sqlite://"\n\n[queue]\nbroker = "http://x"\n'
    with pytest.raises(ConfigError, match=r"config.toml:5: queue.broker must be an amqp://"):
        parse_config(text, tmp_path / "config.toml")


@pytest.mark.slow
def test_paperboy_run_with_a_queue_only_enqueues_and_a_worker_sends(
    tmp_path: Path, postgres_url: str, broker: str, queue_name: str
) -> None:
    """`paperboy run` with [queue]: the digests missed an hour ago are enqueued at start
    (one task per user), and a `paperboy worker` sends them, once each."""
    from datetime import UTC, datetime, timedelta

    with LocalSMTPServer() as smtp:
        config_path = queue_config(tmp_path, postgres_url, smtp.port, broker, queue_name)
        hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%H:%M")
        text = config_path.read_text(encoding="utf-8")
        text = text.replace('timezone = "Europe/Berlin"', 'timezone = "UTC"')
        config_path.write_text(text.replace('send_at = "07:30"', f'send_at = "{hour_ago}"'))
        config = load_config(config_path)
        with Storage.open(config.database) as storage:
            store_saved(storage)
            storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
            storage.record_fetch("arxiv", url="test")  # fetched: no task fetches from arXiv
        log = tmp_path / "run.log"
        daemon = subprocess.Popen(
            [*PAPERBOY, "--config", str(config_path), "-v", "run"],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = start_worker(config_path, tmp_path / "worker.log", {})
        try:
            deadline = time.monotonic() + 180
            while len(smtp.messages) < USERS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(3)
        finally:
            kill_group(daemon, signal.SIGTERM)
            kill_group(worker, signal.SIGTERM)
        out = log.read_text(errors="replace")
        assert daemon.returncode == 0, out
        assert out.count("enqueued the digest for") == USERS, out
        to = Counter(str(m["To"]) for m in smtp.messages)
        assert to == {f"u{i}@example.org": 1 for i in range(USERS)}, out
        assert_no_paper_twice(smtp)


def test_the_broker_url_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperboy.jobs.config.load import parse_config
    from paperboy.jobs.core.errors import ConfigError

    text = '[paperboy]\ndatabase = "sqlite://"\n\n[queue]\nbroker_env = "PB_TEST_BROKER"\n'
    config = parse_config(text, tmp_path / "config.toml")
    assert config.queue is not None
    monkeypatch.delenv("PB_TEST_BROKER", raising=False)
    with pytest.raises(ConfigError, match=r"\$PB_TEST_BROKER, which is not set"):
        config.queue.broker_url()
    monkeypatch.setenv("PB_TEST_BROKER", "amqp://paperboy:s3cret@127.0.0.1:5672//")
    assert config.queue.broker_url().endswith("@127.0.0.1:5672//")
    both = text + 'broker = "amqp://x@127.0.0.1//"\n'
    with pytest.raises(ConfigError, match="both broker and broker_env"):
        parse_config(both, tmp_path / "config.toml")


def test_tasks_the_broker_refuses_wait_and_go_out_when_it_is_back(
    tmp_path: Path, broker: str, queue_name: str
) -> None:
    """A broker that is down delays digests, it does not lose them: the scheduler keeps
    what the broker refused (one per user, with its first firing time), stops trying
    the broker for each new task, and sends them all once it is back."""
    from datetime import UTC, datetime

    from paperboy.jobs.runners.queue.app import make_app
    from paperboy.jobs.runners.queue.tasks import DIGEST, FETCH, Enqueuer

    database = f"sqlite:///{tmp_path / 'p.db'}"
    dead = broker.replace(":5672/", ":1/").replace(":6379/", ":1/")  # nothing listens there
    (tmp_path / "down").mkdir()
    (tmp_path / "up").mkdir()
    down = load_config(queue_config(tmp_path / "down", database, 25, dead, queue_name))
    up = load_config(queue_config(tmp_path / "up", database, 25, broker, queue_name))
    enqueuer = Enqueuer(make_app(down))
    first = datetime(2026, 7, 2, 5, 0, tzinfo=UTC)
    assert not enqueuer.digest("u0", first)
    started = time.monotonic()
    assert not enqueuer.digest("u1")
    assert not enqueuer.fetch()
    assert not enqueuer.digest("u0")  # the same user's digest again: still one, at `first`
    assert time.monotonic() - started < 1.0  # while down, no new attempt per task
    assert enqueuer.waiting == 3
    assert enqueuer.flush() == 0 and enqueuer.waiting == 3  # still down

    enqueuer.app = make_app(up)  # the broker is back
    assert enqueuer.flush() == 3 and enqueuer.waiting == 0
    assert enqueuer.digest("u2")  # and new tasks go straight out again

    got = []
    with enqueuer.app.connection_for_read() as conn:
        queue = conn.SimpleQueue(queue_name)
        for _ in range(4):
            message = queue.get(timeout=10)
            got.append((message.headers["task"], message.payload[0]))
            message.ack()
        queue.close()
    assert [task for task, _args in got] == [DIGEST, DIGEST, FETCH, DIGEST]
    assert got[0][1] == ["u0", first.isoformat()]
    assert [args[0] for _task, args in got if _task == DIGEST] == ["u0", "u1", "u2"]
