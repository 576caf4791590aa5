"""SIGTERM stops `paperboy run` within seconds at any point of a job, leaving the work
resumable (issue #20 item 18): in a retry wait, while encoding, between digests.

Each test starts a real daemon process, waits (by its log) until it is at that point,
sends SIGTERM and times the exit. STOP_WITHIN is generous for a loaded two-core machine;
before the fix each took the whole job (a minute of retries, four of encoding).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.stopping import Stop, Stopped
from paperboy.jobs.fetch.http import HttpClient
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.storage import Storage
from paperboy.recommender.encoder import MODEL_ID
from tests.commands import PAPERBOY
from tests.http_server import LocalServer, Reply
from tests.jobs.test_embeddings import fixture_papers

STOP_WITHIN = 5.0  # seconds from SIGTERM to exit; the daemon itself needs one or two
ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, feed_url: str, *, fetch: str, users: int = 0) -> Path:
    send_at = (datetime.now(UTC) - timedelta(hours=1)).strftime("%H:%M")  # due, an hour ago
    text = (
        f'[paperboy]\ndatabase = "sqlite:///p.db"\nfetch_schedule = "{fetch}"\n'
        "[sources.huggingface]\nenabled = false\n"
        f'[[sources.feeds]]\nname = "feed"\nurl = "{feed_url}"\n'
        '[email]\ntransport = "outbox"\noutbox = "outbox/"\n'
    )
    text += "".join(
        f'\n[[users]]\nname = "u{i:02d}"\nemail = "u{i:02d}@example.org"\ntimezone = "UTC"\n'
        f'send_at = "{send_at}"\n'
        for i in range(users)
    )
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start(command: list[str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PAPERBOY_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    with log.open("wb") as err:
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, env=env, cwd=config.parent
        )


def wait_for(daemon: subprocess.Popen[bytes], log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(encoding="utf-8", errors="replace"):
        assert daemon.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.05)


def stop(daemon: subprocess.Popen[bytes], log: Path) -> float:
    """SIGTERM; the seconds until the daemon exited, which it must with status 0."""
    sent = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=120)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if daemon.stdout is not None:
            daemon.stdout.close()
    took = time.monotonic() - sent
    assert daemon.returncode == 0, log.read_text()
    return took


def test_sigterm_during_the_fetch_retries(tmp_path: Path) -> None:
    server = LocalServer().start()
    try:
        url = server.serve("/rss", Reply(503, {"Retry-After": "30"}, b"busy"))
        config = write_config(tmp_path, url, fetch="* * * * *")  # overdue: fetched at start
        log = tmp_path / "daemon.log"
        daemon = start([*PAPERBOY, "-v", "run"], config, log)
        wait_for(daemon, log, "HTTP 503; retrying in 30 s", timeout=60)
        took = stop(daemon, log)
    finally:
        server.stop()
    text = log.read_text()
    assert took < STOP_WITHIN, text
    assert "the fetch stopped" in text and "stopped" in text.splitlines()[-1]
    assert "Traceback" not in text and "raised" not in text  # a stop is not a failure
    with Storage.open(load_config(config).database) as storage:
        # Not recorded as attempted: the next run fetches it, as if never started.
        assert [s.name for s in storage.all_sources() if s.last_attempt_at] == []


def test_sigterm_while_encoding(tmp_path: Path) -> None:
    server = LocalServer().start()  # the feed is missing (404): the fetch moves on at once
    try:
        config = write_config(tmp_path, server.base + "/none", fetch="* * * * *")
        database = load_config(config).database
        with Storage.open(database) as storage:
            storage.upsert_papers(fixture_papers(600), source="arxiv", listed=True)
        log = tmp_path / "daemon.log"
        daemon = start([*PAPERBOY, "-v", "run"], config, log)
        wait_for(daemon, log, "encoding the papers without a vector", timeout=120)
        time.sleep(2)  # within the first batch of 256: chunks encoded, none committed
        took = stop(daemon, log)
    finally:
        server.stop()
    text = log.read_text()
    assert took < STOP_WITHIN, text
    assert "the fetch stopped" in text and "Traceback" not in text
    with Storage.open(database) as storage:
        encoded = storage.count_embeddings(MODEL_ID)
    # The chunks encoded before the stop are committed; the rest is the next run's.
    assert 8 <= encoded < 256, text


def test_sigterm_between_the_digests_of_a_run(tmp_path: Path) -> None:
    server = LocalServer().start()
    try:
        # No fetch falls due; twenty digests are (an hour ago), each claimed digest
        # taking a second of uninterruptible work.
        config = write_config(tmp_path, server.base + "/none", fetch="0 0 1 1 *", users=20)
        log = tmp_path / "daemon.log"
        command = [sys.executable, str(ROOT / "tests" / "stopping_daemon.py"), str(config), "1"]
        daemon = start(command, config, log)
        assert daemon.stdout is not None
        claimed = [daemon.stdout.readline().decode() for _ in range(2)]
        assert all(line.startswith("claimed u") for line in claimed), claimed
        took = stop(daemon, log)
    finally:
        server.stop()
    text = log.read_text()
    assert took < STOP_WITHIN, text
    assert "stopped; what it committed stays" in text and "Traceback" not in text
    loaded = load_config(config)
    with Storage.open(loaded.database) as storage:
        # The claims it held were released: the next run does every digest, none of
        # them left "elsewhere" for a lease to run out.
        results = run_digests(loaded, storage)
    assert len(results) == 20
    assert {r.status for r in results} <= {"sent", "empty"}, results


def test_a_stopped_client_makes_no_request_and_ends_its_wait() -> None:
    server = LocalServer().start()
    try:
        url = server.serve("/rss", Reply(503, {"Retry-After": "60"}, b"busy"))
        halt = Stop()
        with HttpClient(stop=halt, min_interval={}) as client:
            timer = threading.Timer(0.3, halt.set)
            timer.start()
            began = time.monotonic()
            with pytest.raises(Stopped):
                client.get(url)
            timer.join()
            assert time.monotonic() - began < 5  # not the 60 s the server asked for
            assert len(server.seen("/rss")) == 1
            with pytest.raises(Stopped):
                client.get(url)
            assert len(server.seen("/rss")) == 1  # once stopped, no request is made
    finally:
        server.stop()
