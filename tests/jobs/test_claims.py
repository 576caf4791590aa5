"""Exactly once, whoever runs it: real processes race for the same users' digests.

Every test here counts what a real SMTP server on 127.0.0.1 received: each due digest
arrives once, and no user ever gets the same paper twice, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.paperfiles import read_jsonl
from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.runners.demo import sample_dir
from paperboy.jobs.storage import Storage
from tests.commands import PAPERBOY
from tests.smtp_server import LocalSMTPServer

NOW = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin, after send_at
USERS = 2
RUNNERS = 3
ROUNDS = 50
PER_ROUND = 4  # new papers listed before each round


def write_config(tmp_path: Path, database_url: str, port: int, users: int = USERS) -> Path:
    saved = [r.id for r in read_jsonl(Path(str(sample_dir() / "saved.jsonl")))]
    blocks = "".join(
        f"""
[[users]]
name = "u{i}"
email = "u{i}@example.org"
timezone = "Europe/Berlin"
send_at = "07:30"
max_papers = 2
saved = [{", ".join(f'"{pid}"' for pid in saved[i::users])}]
"""
        for i in range(users)
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[paperboy]
database = "{database_url}"
workers = 1

[sources.arxiv]
categories = ["cs.CL", "cs.LG", "cs.AI", "cs.CV"]

[email]
from = "Paperboy <paperboy@example.org>"
transport = "smtp"
[email.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
{blocks}""",
        encoding="utf-8",
    )
    return path


def sample_papers() -> list[SourcePaper]:
    day = sorted(
        (f for f in sample_dir().iterdir() if f.name.startswith("arxiv-")), key=lambda f: f.name
    )[0]
    return list(parse_arxiv_rss(day.read_bytes(), url=day.name).papers)


def store_saved(storage: Storage) -> None:
    storage.upsert_papers(
        [
            SourcePaper(
                r.id, r.title, r.abstract, r.authors, r.categories, "", announced=r.announced
            )
            for r in read_jsonl(Path(str(sample_dir() / "saved.jsonl")))
        ],
        source="arxiv-api",
        listed=False,
    )


def new_papers(round_: int, pool: list[SourcePaper]) -> list[SourcePaper]:
    """PER_ROUND papers never seen before (real text from the sample, fresh ids)."""
    out = []
    for i in range(PER_ROUND):
        base = pool[(round_ * PER_ROUND + i) % len(pool)]
        pid = f"2608.{round_:03d}{i:02d}"
        out.append(
            SourcePaper(
                pid,
                f"{base.title} ({pid})",
                base.abstract,
                base.authors,
                ("cs.LG",),
                f"https://arxiv.org/abs/{pid}",
            )
        )
    return out


def received(server: LocalSMTPServer) -> list[tuple[str, set[str]]]:
    """(recipient, paper ids) of every message the server accepted."""
    out = []
    for message in list(server.messages):
        out.append((str(message["To"]), paper_ids(message)))
    return out


def paper_ids(message: EmailMessage) -> set[str]:
    body = message.get_body(("plain",))
    assert body is not None
    return {
        line.rsplit("/", 1)[1].strip()
        for line in body.get_content().splitlines()
        if "arxiv.org/abs/" in line
    }


def assert_no_paper_twice(server: LocalSMTPServer) -> None:
    pairs = Counter((to, pid) for to, ids in received(server) for pid in ids)
    twice = {pair: n for pair, n in pairs.items() if n > 1}
    assert not twice, f"{len(twice)} (user, paper) pairs mailed more than once: {twice}"


# --- N processes, the same users, many rounds ---------------------------------------------


def _runner(config_path: str, barrier: Barrier, conn: Connection) -> None:
    """A digest runner in its own process: each round, wait for the others, then run
    what `paperboy digest` runs, at that round's time."""
    config = load_config(Path(config_path))
    with Storage.open(config.database) as storage:
        while True:
            round_ = conn.recv()
            if round_ is None:
                return
            barrier.wait(timeout=60)
            results = run_digests(config, storage, now=NOW + timedelta(days=round_), workers=1)
            conn.send([(r.user, r.status) for r in results])


@pytest.mark.slow
def test_racing_runners_send_each_digest_once(tmp_path: Path, database_url: str) -> None:
    """RUNNERS processes start each round's digests at the same moment, ROUNDS times."""
    with LocalSMTPServer() as smtp:
        config = load_config(write_config(tmp_path, database_url, smtp.port))
        pool = sample_papers()
        with Storage.open(config.database) as storage:
            store_saved(storage)
            context = multiprocessing.get_context("spawn")
            barrier = context.Barrier(RUNNERS)
            pipes = [context.Pipe() for _ in range(RUNNERS)]
            procs = [
                context.Process(target=_runner, args=(str(config.path), barrier, child))
                for _parent, child in pipes
            ]
            for p in procs:
                p.start()
            try:
                sent_per_round = []
                for round_ in range(ROUNDS):
                    storage.upsert_papers(new_papers(round_, pool), source="arxiv", listed=True)
                    for parent, _child in pipes:
                        parent.send(round_)
                    outcomes = [parent.recv() for parent, _child in pipes]
                    statuses = Counter(s for rows in outcomes for _user, s in rows)
                    sent_per_round.append(statuses["sent"])
                    assert not statuses["failed"], outcomes
            finally:
                for parent, _child in pipes:
                    parent.send(None)
                for p in procs:
                    p.join(timeout=30)
                    if p.is_alive():
                        p.kill()
            deliveries = storage.deliveries()
        time.sleep(0.2)  # the last message's DATA is handled in the server's thread
        got = received(smtp)
    # Every round, every user's digest was due once: sent once, by one runner.
    assert sent_per_round == [USERS] * ROUNDS
    assert len(deliveries) == USERS * ROUNDS
    assert all(d.status == "sent" for d in deliveries)
    assert len(got) == USERS * ROUNDS
    assert Counter(to for to, _ids in got) == {f"u{i}@example.org": ROUNDS for i in range(USERS)}
    assert_no_paper_twice(smtp)


# --- a runner killed with SIGKILL after claiming, or after recording ---------------------


PAUSING = [sys.executable, str(Path(__file__).resolve().parents[1] / "pausing_digest.py")]


def start_digest(
    config: Path, env: dict[str, str], pause: tuple[str, Path] | None = None
) -> subprocess.Popen[str]:
    """`paperboy digest` as a process of its own; with ``pause`` (point, marker file),
    the same run through tests/pausing_digest.py, which stops at that point."""
    command = [*PAPERBOY, "--config", str(config), "digest"]
    if pause is not None:
        command = [*PAUSING, "digest", str(config), pause[0], str(pause[1])]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def wait_for(path: Path, proc: subprocess.Popen[Any], timeout: float = 120) -> str:
    """The pause marker the runner writes when it reaches the test hook."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the runner finished without pausing: {out}{err}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the runner never reached its pause point")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["claimed", "recorded"])
def test_runner_killed_mid_digest_is_taken_over_once_the_lease_expires(
    tmp_path: Path, database_url: str, point: str
) -> None:
    lease = 6.0
    with LocalSMTPServer() as smtp:
        config_path = write_config(tmp_path, database_url, smtp.port, users=1)
        config = load_config(config_path)
        with Storage.open(config.database) as storage:
            store_saved(storage)
            storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
        marker = tmp_path / "paused"
        victim = start_digest(
            config_path,
            {
                "PAPERBOY_LEASE_SECONDS": str(lease),
                # A runner of another machine: whether it died cannot be seen from here.
                "PAPERBOY_RUNNER_HOST": "another-machine",
            },
            pause=(point, marker),
        )
        wait_for(marker, victim)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        with Storage.open(config.database) as storage:
            [claim] = storage.claims("u0")
            assert claim["state"] == ("claimed" if point == "claimed" else "done")
            # While the dead runner's lease lasts, another runner leaves the digest alone.
            if datetime.now(UTC) < claim["expires_at"] - timedelta(seconds=1):
                [result] = run_digests(config, storage, workers=1)
                # (after "recorded", the digest is no longer due: only its sending is left)
                expected = "elsewhere" if point == "claimed" else "not-due"
                assert (result.status, result.resent) == (expected, 0)
                assert smtp.messages == []
            # Both leases must run out: the claim's, and (after "recorded") the pending
            # delivery's, which started later, when the dead runner recorded it.
            leases = [claim["expires_at"]] + [
                d.lease_expires_at
                for d in storage.deliveries(user_name="u0", status="pending")
                if d.lease_expires_at is not None
            ]
            wait = (max(leases) - datetime.now(UTC)).total_seconds()
        time.sleep(max(0.0, wait) + 0.5)
        # After it, the next run takes the digest over and sends it, once.
        survivor = start_digest(config_path, {"PAPERBOY_LEASE_SECONDS": str(lease)})
        out, err = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, out + err
        again = start_digest(config_path, {})
        out2, err2 = again.communicate(timeout=300)
        assert again.returncode == 0, out2 + err2
        time.sleep(0.2)
        assert len(smtp.messages) == 1, out + out2
        assert paper_ids(smtp.messages[0])
        with Storage.open(config.database) as storage:
            [delivery] = storage.deliveries(user_name="u0")
            [claim] = storage.claims("u0")
        assert delivery.status == "sent" and delivery.lease_owner is None
        assert claim["state"] == "done" and claim["delivery_id"] == delivery.id
        assert claim["takeovers"] == (1 if point == "claimed" else 0)
        assert smtp.messages[0]["Message-ID"] == delivery.message_id


def test_paperboy_digest_twice_at_once_sends_once(tmp_path: Path, database_url: str) -> None:
    """The issue's report: two overlapping `paperboy digest` runs (cron next to the
    daemon) for one user, as real processes."""
    with LocalSMTPServer() as smtp:
        config_path = write_config(tmp_path, database_url, smtp.port, users=2)
        config = load_config(config_path)
        with Storage.open(config.database) as storage:
            store_saved(storage)
            storage.upsert_papers(new_papers(0, sample_papers()), source="arxiv", listed=True)
        procs = [start_digest(config_path, {}) for _ in range(3)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        time.sleep(0.2)
        assert sorted(str(m["To"]) for m in smtp.messages) == [
            "u0@example.org",
            "u1@example.org",
        ]
        assert_no_paper_twice(smtp)


def test_a_claim_of_a_killed_process_on_this_machine_is_taken_over_at_once(
    tmp_path: Path,
) -> None:
    """kill -9 leaves a claim whose lease runs for minutes: a runner on the same machine
    sees that its owner's process is gone and takes it over without waiting."""
    import subprocess
    from datetime import timedelta

    from paperboy.jobs.mailing.claims import owner_gone, runner_id, this_machine

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    corpse = f"{this_machine()}:{dead.pid}:abcdef01"
    assert owner_gone(corpse)
    assert not owner_gone(runner_id())  # this very process
    assert not owner_gone(f"another-host:{dead.pid}:abcdef01")  # left to its lease
    assert not owner_gone("garbage")
    with Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as storage:
        lease = timedelta(minutes=15)
        first = storage.claim_digest("ada", "slot", corpse, lease)
        assert first is not None
        assert storage.claim_digest("ada", "slot", "x:1:live", lease) is None  # lease alive
        taken = storage.claim_digest("ada", "slot", runner_id(), lease, gone=owner_gone)
        assert taken is not None and taken.taken_over
