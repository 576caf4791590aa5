"""Concurrent writers of papers and of the fetch (issue #20, items 5 and 6).

Item 5: processes storing overlapping papers at the same moment on PostgreSQL never
collide (each paper stored once, no IntegrityError), nor do "UPDATE, else INSERT" writers
of one row; two fetch jobs started at once fetch once. Item 6: a paper committed by an
overlapping or clock-skewed writer still falls inside some user's window.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.sources.arxiv_rss import render_arxiv_rss
from paperboy.jobs.runners import fetch_job as fetch_job_module
from paperboy.jobs.runners.fetch_job import fetch_job
from paperboy.jobs.storage import Storage, fetch_lock
from paperboy.jobs.storage.papers import store_papers
from paperboy.jobs.storage.schema import paper_sources, papers
from tests.commands import PAPERBOY
from tests.http_server import Loopback

T0 = datetime(2026, 6, 12, 6, 0, tzinfo=UTC)
PROCESSES = 3
ROUNDS = 4


def paper(pid: str) -> SourcePaper:
    return SourcePaper(
        id=pid,
        title=f"Paper {pid}",
        abstract=f"Abstract of {pid}.",
        authors=("Ada Lovelace",),
        categories=("cs.LG",),
        link=f"https://arxiv.org/abs/{pid}",
        version=1,
    )


def overlapping(round_: int, worker: int) -> list[SourcePaper]:
    """Each worker's batch of a round: 200 papers, 150 of them shared with the others."""
    shared = [paper(f"2606.{round_}{n:04d}") for n in range(150)]
    own = [paper(f"2606.{round_}{5000 + 100 * worker + n:04d}") for n in range(50)]
    return [*reversed(shared), *own] if worker % 2 else [*shared, *own]


# --- item 5: racing writers on PostgreSQL -------------------------------------------------


def _writer(url: str, worker: int, barrier: Barrier, out: Connection) -> None:
    """One process: each round, wait for the others, then write the same rows they do."""
    errors: list[str] = []
    with Storage.open(url) as storage:
        for round_ in range(ROUNDS):
            barrier.wait(timeout=60)
            try:
                storage.upsert_papers(
                    overlapping(round_, worker), source=f"feed{worker}", listed=True
                )
            except Exception as e:
                errors.append(f"store_papers: {e}")
            barrier.wait(timeout=60)
            try:
                storage.record_fetch(f"arxiv{round_}", url="https://example.org", count=1, new=1)
            except Exception as e:
                errors.append(f"record_fetch: {e}")
            barrier.wait(timeout=60)
            try:
                storage.set_paused_until(f"user{round_}", T0 + timedelta(days=worker))
            except Exception as e:
                errors.append(f"user state: {e}")
    out.send(errors)


@pytest.mark.postgres
def test_processes_storing_the_same_papers_at_once_never_collide(postgres_url: str) -> None:
    """PROCESSES processes store overlapping batches at the same moment, ROUNDS times,
    then write the same source's fetch state and the same user's state at once."""
    with Storage.open(postgres_url) as storage:  # the schema, before anyone races for it
        pass
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    pipes = [context.Pipe() for _ in range(PROCESSES)]
    procs = [
        context.Process(target=_writer, args=(postgres_url, worker, barrier, child))
        for worker, (_parent, child) in enumerate(pipes)
    ]
    for p in procs:
        p.start()
    try:
        errors = [parent.recv() for parent, _child in pipes]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert errors == [[]] * PROCESSES
    expected = {p.id for r in range(ROUNDS) for w in range(PROCESSES) for p in overlapping(r, w)}
    with Storage.open(postgres_url) as storage:
        with storage.engine.connect() as conn:
            ids = [row.id for row in conn.execute(select(papers.c.id))]
            sightings = conn.execute(select(func.count()).select_from(paper_sources)).scalar()
        assert sorted(ids) == sorted(expected)  # every paper, once
        assert sightings == sum(
            len(overlapping(r, w)) for r in range(ROUNDS) for w in range(PROCESSES)
        )
        assert {s.name for s in storage.all_sources()} == {f"arxiv{r}" for r in range(ROUNDS)}
        assert set(storage.user_states()) == {f"user{r}" for r in range(ROUNDS)}


# --- item 5: one fetch at a time -----------------------------------------------------------


class SlowFeed:
    """A local arXiv feed that counts its requests and answers each after `delay`."""

    def __init__(self, body: bytes, delay: float) -> None:
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.count += 1
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.loopback = Loopback(Handler).start()
        self.base = self.loopback.base


@pytest.fixture
def slow_feed() -> Iterator[SlowFeed]:
    listing = [paper(f"2606.{n:05d}") for n in range(1, 21)]
    body = render_arxiv_rss(listing, categories="cs.LG", announced=date(2026, 6, 12))
    feed = SlowFeed(body, delay=1.5)
    yield feed
    feed.loopback.stop()


def fetch_config(tmp_path: Path, database_url: str, feed: SlowFeed) -> Config:
    text = (
        f'[paperboy]\ndatabase = "{database_url}"\n'
        f'[sources.arxiv]\ncategories = ["cs.LG"]\nbase_url = "{feed.base}/rss/"\n'
        "backfill_days = 0\n"
    )
    return parse_config(text, tmp_path / "config.toml")


def test_two_fetch_jobs_started_at_once_fetch_once(
    tmp_path: Path,
    database_url: str,
    slow_feed: SlowFeed,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two runners (each with its own connection, as two workers) start a fetch together:
    one fetches, the other finds the fetch running and skips it."""
    # Indexing and encoding are not the point here (and would take minutes).
    monkeypatch.setattr(fetch_job_module, "index_after_fetch", lambda *a, **k: None)
    monkeypatch.setattr(fetch_job_module, "encode_stored", lambda *a, **k: None)
    config = fetch_config(tmp_path, database_url, slow_feed)
    with Storage.open(database_url):
        pass  # the schema
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with Storage.open(database_url) as storage:
                start.wait(timeout=30)
                fetch_job(config, storage)
        except BaseException as e:
            failures.append(e)

    caplog.set_level(logging.INFO, logger="paperboy.jobs.runners.fetch_job")
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert slow_feed.count == 1
    assert "fetch running elsewhere" in caplog.text
    with Storage.open(database_url) as storage:
        assert storage.count_papers() == 20
        # The lock is free again: the next fetch runs.
        fetch_job(config, storage)
    assert slow_feed.count == 2


def _hold_fetch_lock(url: str, out: Connection) -> None:
    """A fetch that never ends: holds the lock until killed."""
    with Storage.open(url) as storage, fetch_lock(storage) as held:
        out.send(held)
        time.sleep(120)


def test_a_fetch_killed_mid_way_leaves_no_lock_behind(database_url: str) -> None:
    """kill -9 of a fetching process: the lock goes with it, the next fetch runs."""
    with Storage.open(database_url) as storage:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        holder = context.Process(target=_hold_fetch_lock, args=(database_url, child))
        holder.start()
        try:
            assert parent.poll(60) and parent.recv() is True
            with fetch_lock(storage) as held:
                assert held is False  # running elsewhere
        finally:
            holder.kill()
            holder.join(timeout=30)
        deadline = time.monotonic() + 10
        while True:  # PostgreSQL ends the session once it sees the connection gone
            with fetch_lock(storage) as held:
                if held or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        assert held is True


def test_paperboy_fetch_beside_a_running_fetch_fetches_nothing(
    tmp_path: Path, database_url: str, slow_feed: SlowFeed
) -> None:
    """`paperboy fetch` typed while the daemon (here: another process) is fetching into
    the same database says so and exits 1, without a request: every request is not sent
    twice, and the index is not built twice."""
    config = fetch_config(tmp_path, database_url, slow_feed)
    config.path.write_text(
        f'[paperboy]\ndatabase = "{database_url}"\n[sources.arxiv]\ncategories = ["cs.LG"]\n'
        f'base_url = "{slow_feed.base}/rss/"\nbackfill_days = 0\n',
        encoding="utf-8",
    )
    with Storage.open(database_url):
        pass  # the schema
    env = {**os.environ, "PAPERBOY_CONFIG": str(config.path)}
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    holder = context.Process(target=_hold_fetch_lock, args=(database_url, child))
    holder.start()
    try:
        assert parent.poll(60) and parent.recv() is True
        run = subprocess.run(
            [*PAPERBOY, "fetch"], capture_output=True, text=True, env=env, timeout=120
        )
    finally:
        holder.kill()
        holder.join(timeout=30)
    assert run.returncode == 1, run.stderr
    assert "A fetch is running on this database right now" in run.stderr
    assert run.stdout == "" and slow_feed.count == 0


# --- item 6: windows follow the commit order -----------------------------------------------


def digest_window(storage: Storage, user: str) -> set[str]:
    """What a digest takes, as jobs.ranking.candidates and jobs.mailing.run do: the papers
    listed after the user's window, and the window moved to the newest of them."""
    state = storage.user_state(user)
    found = storage.listed_papers(after=state.listed_through)
    through = max((p.listed_at for p in found if p.listed_at), default=None)
    storage.record_empty_digest(user, through, built_on=state)
    return {p.id for p in found}


@pytest.mark.postgres
def test_a_digest_between_overlapping_fetches_loses_no_paper(postgres_url: str) -> None:
    """Fetch T1 begins and inserts; fetch T2 (a later clock) begins, inserts and commits; a
    digest runs; T1 commits; the next digest still gets T1's papers."""
    first = [paper(f"2606.1{n:04d}") for n in range(5)]
    second = [paper(f"2606.2{n:04d}") for n in range(5)]
    with (
        Storage.open(postgres_url, now=lambda: T0) as t1,
        Storage.open(postgres_url, now=lambda: T0 + timedelta(seconds=30)) as t2,
        Storage.open(postgres_url, now=lambda: T0 + timedelta(minutes=5)) as reader,
    ):
        taken: list[set[str]] = []
        failures: list[BaseException] = []

        def fetch_two() -> None:
            try:
                t2.upsert_papers(second, source="feed", listed=True)
            except BaseException as e:
                failures.append(e)

        with t1._tx() as conn:
            store_papers(conn, first, source="arxiv", listed=True, now=T0)
            writer = threading.Thread(target=fetch_two)
            writer.start()
            writer.join(timeout=2.0)  # it commits, or waits for T1 (its turn comes after)
            taken.append(digest_window(reader, "ada"))
        writer.join(timeout=30)
        assert failures == []
        taken.append(digest_window(reader, "ada"))
        taken.append(digest_window(reader, "ada"))
    everything = {p.id for p in [*first, *second]}
    assert set().union(*taken) == everything
    assert sum(len(t) for t in taken) == len(everything)  # each once


def test_a_writer_with_a_slow_clock_is_not_behind_the_window(database_url: str) -> None:
    """Machines' clocks differ: papers stored after a digest by a machine whose clock is
    an hour behind are still in the next digest."""
    early = [paper(f"2606.3{n:04d}") for n in range(3)]
    late = [paper(f"2606.4{n:04d}") for n in range(3)]
    with (
        Storage.open(database_url, now=lambda: T0 + timedelta(hours=1)) as fast,
        Storage.open(database_url, now=lambda: T0) as slow,
    ):
        fast.upsert_papers(early, source="arxiv", listed=True)
        assert digest_window(fast, "ada") == {p.id for p in early}
        slow.upsert_papers(late, source="feed", listed=True)
        assert digest_window(fast, "ada") == {p.id for p in late}
        assert digest_window(fast, "ada") == set()
