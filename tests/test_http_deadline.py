"""A request has a deadline for its whole answer (issue #20, item 21).

A real server on loopback sends an RSS head and then trickles one byte at a time, well
inside the per-read timeout: only a deadline for the whole answer ends the request. The
deadline here is 1 s (the default is 120 s), so each test takes about a second.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from paperboy.jobs.config.load import parse_config
from paperboy.jobs.core.errors import SourceError
from paperboy.jobs.fetch.http import DEADLINE, HttpClient
from paperboy.jobs.fetch.listings import fetch_all
from paperboy.jobs.storage import Storage
from tests.http_server import LocalServer, Reply

BLOG = Path(__file__).parent / "fixtures" / "feeds" / "blog-rss.xml"
HEAD = b"<?xml version='1.0' encoding='UTF-8'?>\n<rss version=\"2.0\"><channel><title>slow"


class Trickler:
    """Answers every connection with headers and an RSS head, then one byte every
    `every` seconds until the client hangs up (or 30 s pass: a test that failed)."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                    b"Content-Length: 100000\r\n\r\n" + HEAD
                )
                until = time.monotonic() + 30
                while not self.stopped.is_set() and time.monotonic() < until:
                    conn.sendall(b" ")
                    time.sleep(self.every)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    t = Trickler()
    try:
        yield t
    finally:
        t.stop()


def test_the_default_deadline_is_two_minutes() -> None:
    with HttpClient() as client:
        assert client.deadline == DEADLINE == 120.0


def test_a_trickling_server_is_given_up_at_the_deadline(trickler: Trickler) -> None:
    with HttpClient(timeout=5.0, deadline=1.0, retries=2, sleep=lambda s: None) as client:
        began = time.monotonic()
        with pytest.raises(SourceError) as caught:
            client.get(trickler.url)
        took = time.monotonic() - began
    assert trickler.url in str(caught.value) and "1 s deadline" in str(caught.value)
    assert 1.0 <= took < 3.0  # one attempt: the same server would trickle again


def test_a_source_past_its_deadline_fails_and_the_others_go_on(
    trickler: Trickler, server: LocalServer, tmp_path: Path
) -> None:
    good = server.serve("/blog/feed/", Reply(200, {}, BLOG.read_bytes()))
    config = parse_config(
        f"""
[paperboy]
database = "sqlite://"

[[sources.feeds]]
name = "Slow"
url = "{trickler.url}"

[[sources.feeds]]
name = "Gradient Notes"
url = "{good}"
""",
        Path("/nonexistent/config.toml"),
    )
    with (
        Storage.open(f"sqlite:///{tmp_path / 'p.db'}") as storage,
        HttpClient(timeout=5.0, deadline=1.0, retries=0) as client,
    ):
        slow, notes = fetch_all(config, storage, client, today=date(2026, 6, 12))
        assert slow.status == "error" and "deadline" in (slow.error or "")
        state = storage.source_state("Slow")
        assert state is not None and state.last_error == slow.error
        assert (notes.status, notes.kept) == ("ok", 4)
