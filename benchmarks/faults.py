"""The fault campaign of issue #20: digests through the queue while things break.

Each run: 2 worker processes (`paperboy worker`, concurrency 1) and the scheduler
(`paperboy run` with a [queue] table: it only enqueues) on PostgreSQL and RabbitMQ, a
real SMTP sink (tests/smtp_server.py), ``--users`` users in a users_dir, every one due at
the start (their send time passed a few minutes ago: the scheduler's catch-up enqueues
them). While the digests go out, ``--faults`` faults are injected, an equal share of
each kind, in a random order, each starting at a random moment of the first
``--window`` seconds (default: a quarter of a second per user, about as long as the
digests take here) in a thread of its own, so that they overlap:

    kill-worker    kill -9 a worker's process group (a machine gone); a new one starts
                   1-3 s later
    broker         restart the broker (rabbitmqctl stop_app, 1-4 s, start_app)
    smtp-421       the sink answers 421 to every message for 1-4 s
    smtp-451       ... 451
    smtp-drop      ... hangs up, half the time after taking the message and before its
                   OK (the SMTP boundary: the digest is sent again, same Message-ID)
    cron           a `paperboy digest` started as cron would, racing the workers
    pause          3 users pause their digest for a week
    unsubscribe    3 users unsubscribe
    add-users      3 users added to users_dir, due at the next minute the scheduler's
                   reload can still see coming (their digests count as due)

Then the sink's faults are cleared and the run waits (``--settle`` s at most) until every
due digest arrived and nothing is left pending. Counted from what the sink received
(and compared with the ledger), per run:

    due        users due a digest: all but those paused or unsubscribed mid-run
    sent       due users with a digest received since it was due (for a user added
               mid-run: since their send time; a digest the cron run sent them before
               it is an earlier one)
    repeats    messages received beyond the first for a user's digest (its slot, in the
               claims): "same" carried that digest's Message-ID (the SMTP-boundary
               repeat, the same bytes), "new" did not (a second digest for one slot: a
               defect); in brackets, digests of a later slot (a user added mid-run
               whose first digest came from the cron run, due again at their send
               time: not a repeat)
    twice      (user, paper) pairs in two different messages (Message-IDs): a defect
    lost       due users who received nothing since it was due; "ledger" counts those
               with no delivery of that digest marked sent (the two should agree)
    task runs  digest task runs (each start of the task, redeliveries and retries
               included) per due digest, mean and most for one user: a spinning task
               shows as hundreds
    wait       the longest time from a user's digest being due to its arrival
    stopped    users paused or unsubscribed mid-run; in brackets, messages of theirs that
               arrived more than 10 s after the stop (a digest recorded before it and
               in flight arrives at once; a later one is a defect)

The workers and the scheduler are the package's own (jobs.runners.queue.app.make_app and
run_worker; the CLI's `run`), started through this script so that each digest task's
start is counted and the back-off waits are scaled down to fit a run into minutes (the
SMTP retry's first wait 5 min -> 4 s, a failed task's 30 s -> 2 s, the scheduler's retry
tick 300 s -> 5 s); the claims' lease is PAPERBOY_LEASE_SECONDS=15, as in the tests. The
broker is a RabbitMQ node of the campaign's own (on free ports, started with
rabbitmq-server, stopped at the end) so restarting it disturbs no one else; ``--broker
URL --broker-node NODE`` uses another one. The bundled sample (jobs/data/sample: 4 arXiv
days and the saved papers, stored as `paperboy demo` stores them, with their bundled
vectors) is stored and indexed once per campaign, in a new PostgreSQL database
dropped at the end; each run has users of its own.

Usage::

    python benchmarks/faults.py [--runs 3] [--users 200] [--faults 40] [--seed 1]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Exit status 0 when every run has 0 lost, 0 new repeats, 0 papers twice and 0 deliveries
after a stop; 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.commands import PAPERBOY, kill_group

ROOT = Path(__file__).resolve().parent.parent
KINDS = (
    "kill-worker",
    "broker",
    "smtp-421",
    "smtp-451",
    "smtp-drop",
    "cron",
    "pause",
    "unsubscribe",
    "add-users",
)
LEASE = "15"
AFTER_STOP = 10.0  # seconds after a pause or unsubscribe a digest may still arrive
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# --- the processes a run starts: workers and the scheduler, through this script -------


def scale_down_waits() -> None:
    """The back-off waits, scaled down so a run takes minutes (the logic is unchanged)."""
    from paperboy.jobs.mailing import retries
    from paperboy.jobs.runners import scheduler

    retries.RETRY_FIRST = timedelta(seconds=4)  # e-mail and channel resends
    retries.FAILURE_FIRST = timedelta(seconds=2)  # the queue's failed tasks (and the daemon's)
    scheduler.RETRY_CHECK_SECONDS = 5


def worker_main(config_path: str, counts: str) -> int:
    """`paperboy worker --concurrency 1`, each digest task's start appended to `counts`."""
    import logging
    from typing import Any

    from paperboy.jobs.config.load import load_config
    from paperboy.jobs.runners.queue import tasks
    from paperboy.jobs.runners.queue.app import make_app, run_worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    scale_down_waits()
    real = tasks.run_digest_task

    def counted(task: Any, path: Path, user_name: str, *args: Any, **kwargs: Any) -> str:
        fd = os.open(counts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{user_name}\n".encode())
        finally:
            os.close(fd)
        return real(task, path, user_name, *args, **kwargs)

    tasks.run_digest_task = counted
    config = load_config(Path(config_path))
    run_worker(make_app(config), config, concurrency=1)
    return 0


def scheduler_main(config_path: str) -> int:
    """`paperboy -v run` (with the config's [queue] table: it only enqueues)."""
    from paperboy.jobs import entry

    scale_down_waits()
    sys.argv = ["paperboy", "--config", config_path, "-v", "run"]
    entry.main()
    return 0


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A process in a session of its own (kill -9 of its group kills its pool too)."""
    return subprocess.Popen(
        args,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PAPERBOY_LEASE_SECONDS": LEASE},
        start_new_session=True,
        cwd=ROOT,
    )


# --- the broker -----------------------------------------------------------------------


class Broker:
    """A RabbitMQ node the campaign may restart: its own (started here) or a named one."""

    def __init__(self, url: str | None, node: str | None, folder: Path) -> None:
        from tests.smtp_server import free_port

        self.own = url is None
        self.port, self.dist_port = free_port(), free_port()
        self.url = url or f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.node = node or f"pbfaults-{uuid.uuid4().hex[:6]}@localhost"
        self.folder = folder

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args], check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        if not self.own:
            return
        if shutil.which("rabbitmq-server") is None:
            raise SystemExit("rabbitmq-server is not installed: pass --broker and --broker-node")
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.folder, "rabbitmq", "rabbitmq")  # the server runs as rabbitmq
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
        }
        if self._answers():
            raise SystemExit(f"a RabbitMQ node {self.node} is running already: stop it first")
        subprocess.run(
            ["rabbitmq-server", "-detached"], env=env, check=True, timeout=120, cwd="/tmp"
        )
        deadline = time.monotonic() + 90
        while not self._answers():
            if time.monotonic() > deadline:
                raise SystemExit(f"the campaign's broker did not start: see {self.folder}/log")
            time.sleep(1)

    def _answers(self) -> bool:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, "await_startup", "--timeout", "5"],
            capture_output=True,
            timeout=60,
        )
        return done.returncode == 0

    def restart(self, outage: float) -> None:
        self._ctl("stop_app")
        time.sleep(outage)
        self._ctl("start_app")

    def stop(self) -> None:
        if self.own:
            try:
                self._ctl("stop")
            except (subprocess.SubprocessError, OSError) as e:
                print(f"could not stop the campaign's broker {self.node}: {e}", file=sys.stderr)

    def delete_queue(self, name: str) -> None:
        from celery import Celery

        app = Celery(broker=self.url, set_as_current=False)
        try:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(name)
        except Exception:  # never declared, or the broker is gone: nothing to clean up
            pass


# --- the campaign's database: the bundled sample, stored and indexed once -------------


@contextmanager
def campaign_database(server_url: str) -> Iterator[str]:
    """A new PostgreSQL database on `server_url`, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"paperboy_faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def store_sample(config_path: Path) -> list[str]:
    """Store the sample as `paperboy demo` does (the bundled arXiv days and the saved
    papers; not the Hugging Face day, whose trending section every digest would repeat),
    with its bundled vectors, build the index, encode what they do not cover; record the
    fetch as done (no task fetches from the network). Returns the ids users' saved papers
    are drawn from (the saved sample, and the first day's papers)."""
    from paperboy.jobs.config.load import load_config
    from paperboy.jobs.fetch.paperfiles import read_jsonl
    from paperboy.jobs.fetch.sources.arxiv_rss import parse_arxiv_rss
    from paperboy.jobs.ranking.corpus import refresh_index
    from paperboy.jobs.ranking.encoding import encode_stored
    from paperboy.jobs.runners import demo
    from paperboy.jobs.storage import Storage

    config = load_config(config_path)
    first = min(
        (f for f in demo.sample_dir().iterdir() if f.name.startswith("arxiv-")),
        key=lambda f: f.name,
    )
    with Storage.open(config.database) as storage:
        demo.store_sample(config, storage)
        refresh_index(config, storage)
        demo.store_sample_vectors(storage)
        encode_stored(storage, seconds=None)
        storage.record_fetch("arxiv", url="bundled")
        announced = parse_arxiv_rss(first.read_bytes(), url=f"bundled:{first.name}").papers
        # the announcements kept, not replacements
        pool = sorted(storage.get_papers([p.id for p in announced]))
    with resources.as_file(demo.sample_dir() / "saved.jsonl") as saved_path:
        return [r.id for r in read_jsonl(saved_path)] + pool


CONFIG = """
[paperboy]
database = "{database}"
index = "{index}"
users_dir = "{users}"
workers = 1
fetch_schedule = "0 3 1 1 *"  # once a year: nothing fetches from the network

[email]
from = "Paperboy <paperboy@example.org>"
transport = "smtp"
[email.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout = 10
{queue}"""


def write_config(folder: Path, database: str, index: Path, port: int, queue: str = "") -> Path:
    users = folder / "users"
    users.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    text = CONFIG.format(database=database, index=index, users=users, port=port, queue=queue)
    path.write_text(text, encoding="utf-8")
    return path


def write_user(users: Path, name: str, send_at: datetime, saved: Sequence[str]) -> None:
    """One user's file, written whole under a temporary name and renamed into place, so
    that a reload never reads half of it."""
    text = (
        f'name = "{name}"\nemail = "{name}@example.org"\ntimezone = "UTC"\n'
        f'send_at = "{send_at:%H:%M}"\nmax_papers = 8\nsend_empty = true\n'
        f"saved = [{', '.join(f'{s!r}'.replace(chr(39), chr(34)) for s in saved)}]\n"
    )
    tmp = users / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.rename(users / f"{name}.toml")


# --- one run --------------------------------------------------------------------------


@dataclass
class RunResult:
    users: int
    due: int
    sent: int
    repeats_same: int
    repeats_new: int
    later: int  # a later slot's digest (a user added, digested by cron, then due by schedule)
    twice: int
    lost: int
    lost_ledger: int
    pending: int
    task_runs: int
    runs_most: int
    wait: float
    stopped: int
    after_stop: int
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def defects(self) -> int:
        return self.lost + self.lost_ledger + self.repeats_new + self.twice + self.after_stop


class Run:
    """One run: its users, processes and fault injector."""

    def __init__(
        self,
        number: int,
        folder: Path,
        database: str,
        index: Path,
        smtp: object,
        broker: Broker,
        pool: list[str],
        rng: random.Random,
    ) -> None:
        from tests.smtp_server import LocalSMTPServer

        assert isinstance(smtp, LocalSMTPServer)
        self.smtp = smtp
        self.number, self.folder, self.broker, self.pool, self.rng = (
            number,
            folder,
            broker,
            pool,
            rng,
        )
        self.queue = f"paperboy-faults-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        table = f'\n[queue]\nbroker = "{broker.url}"\nname = "{self.queue}"\n'
        self.config = write_config(folder, database, index, smtp.port, table)
        self.users_dir = folder / "users"
        self.database = database
        self.counts = folder / "task-runs.txt"
        self.due_at: dict[str, float] = {}  # user -> when their digest became due
        self.stopped_at: dict[str, float] = {}  # user -> when they paused / unsubscribed
        self.workers: list[subprocess.Popen[bytes]] = []
        self.crons: list[subprocess.Popen[bytes]] = []
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.faults: Counter[str] = Counter()
        self.first_message = len(smtp.messages)
        self.errors: list[str] = []  # faults that could not be injected
        self._logs = 0
        self._lock = threading.Lock()
        self._broker_lock = threading.Lock()

    def _saved(self) -> list[str]:
        return self.rng.sample(self.pool, self.rng.randint(4, 10))

    def _log(self, what: str) -> Path:
        self._logs += 1
        return self.folder / f"{self._logs:03d}-{what}.log"

    def add_users(self, n: int, send_at: datetime, due: float) -> list[str]:
        names = []
        for _ in range(n):
            name = f"r{self.number}u{len(self.due_at)}"
            write_user(self.users_dir, name, send_at, self._saved())
            self.due_at[name] = due
            names.append(name)
        return names

    def start_worker(self) -> None:
        args = [sys.executable, str(Path(__file__).resolve()), "worker"]
        self.workers.append(spawn([*args, str(self.config), str(self.counts)], self._log("worker")))

    def start(self, users: int) -> None:
        now = datetime.now(UTC)
        self.add_users(users, now - timedelta(minutes=3), time.time())
        self.start_worker()
        self.start_worker()
        args = [sys.executable, str(Path(__file__).resolve()), "scheduler", str(self.config)]
        self.scheduler = spawn(args, self._log("scheduler"))

    # --- faults ---

    def inject(self, kind: str, rng: random.Random) -> None:
        """One fault; those that last (a worker down, the broker, the sink) sleep here, in
        the fault's own thread, so that faults overlap as they would."""
        if kind == "kill-worker":
            with self._lock:
                live = [w for w in self.workers if w.poll() is None]
                if not live:
                    return  # both are down already (another kill): not counted
                victim = rng.choice(live)
                self.workers.remove(victim)
                self.faults[kind] += 1
            kill_group(victim)
            time.sleep(rng.uniform(1, 3))
            with self._lock:
                self.start_worker()
            return
        self.faults[kind] += 1
        if kind == "broker":
            with self._broker_lock:
                self.broker.restart(rng.uniform(1, 4))
        elif kind.startswith("smtp-"):
            fault = {
                "smtp-421": "421 4.3.2 service shutting down",
                "smtp-451": "451 4.3.0 try again later",
                "smtp-drop": rng.choice(["drop", "drop-after-data"]),
            }[kind]
            self.smtp.fault = fault
            time.sleep(rng.uniform(1, 4))
            with self._lock:
                if self.smtp.fault == fault:  # not since replaced by another SMTP fault
                    self.smtp.fault = None
        elif kind == "cron":
            args = [*PAPERBOY, "--config", str(self.config), "digest"]
            with self._lock:
                self.crons.append(spawn(args, self._log("cron")))
        elif kind in ("pause", "unsubscribe"):
            self.stop_users(kind, 3, rng)
        elif kind == "add-users":
            # Due at a minute 12-72 s ahead: the scheduler's reload (every 5 s) sees it coming.
            now = datetime.now(UTC)
            fire = (now + timedelta(seconds=72)).replace(second=0, microsecond=0)
            with self._lock:
                self.add_users(3, fire, fire.timestamp())
        else:
            raise ValueError(kind)

    def stop_users(self, kind: str, n: int, rng: random.Random) -> None:
        from paperboy.jobs.storage import Storage

        with self._lock:
            choices = [u for u in self.due_at if u not in self.stopped_at]
            chosen = rng.sample(choices, min(n, len(choices)))
            for user in chosen:
                self.stopped_at[user] = float("inf")  # taken; the time is set below
        with Storage.open(self.database) as storage:
            for user in chosen:
                if kind == "pause":
                    storage.set_paused_until(user, datetime.now(UTC) + timedelta(days=7))
                else:
                    storage.set_unsubscribed(user, True)
                self.stopped_at[user] = time.time()

    def campaign(self, kinds: list[str], window: float) -> None:
        """Start each fault at a random moment of the first `window` seconds, each in a
        thread of its own; return when all are over."""
        started = time.monotonic()
        moments = sorted(self.rng.uniform(1, window) for _ in kinds)
        threads = []
        for kind, moment in zip(kinds, moments, strict=True):
            time.sleep(max(0.0, started + moment - time.monotonic()))
            rng = random.Random(self.rng.random())
            thread = threading.Thread(target=self._inject, args=(kind, rng), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        self.smtp.fault = None

    def _inject(self, kind: str, rng: random.Random) -> None:
        try:
            self.inject(kind, rng)
        except Exception as e:  # the campaign goes on; the report says what failed
            self.errors.append(f"{kind}: {type(e).__name__}: {e}")

    # --- the end ---

    def received(self) -> list[tuple[str, str, set[str], float]]:
        """(user, Message-ID, paper ids, arrival) of this run's messages."""
        from tests.jobs.test_claims import paper_ids

        got = []
        for m, at in zip(
            self.smtp.messages[self.first_message :],
            self.smtp.arrived[self.first_message :],
            strict=True,
        ):
            user = str(m["To"]).split("@", 1)[0]
            if user in self.due_at:
                got.append((user, str(m["Message-ID"]), paper_ids(m), at))
        return got

    def settled(self) -> bool:
        from paperboy.jobs.storage import Storage, utcnow

        now = time.time()
        if any(at + 10 > now for at in self.due_at.values()):
            return False  # a firing not yet past (added users), or just past
        arrived = {user for user, *_ in self.received()}
        due = set(self.due_at) - set(self.stopped_at)
        if not due <= arrived:
            return False
        with Storage.open(self.database) as storage:
            pending = storage.deliveries(status="pending")
            held = [  # a digest being built now (a claim not run out)
                c
                for u in due
                for c in storage.claims(u)
                if c["state"] == "claimed" and c["expires_at"] > utcnow()
            ]
        return not held and not any(d.user_name in due for d in pending)

    def finish(self, settle: float) -> None:
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and not self.settled():
            time.sleep(1)
        time.sleep(5)  # a repeat, if any, arrives by now
        for cron in self.crons:
            try:
                cron.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(cron, signal.SIGTERM)
        if self.scheduler is not None:
            kill_group(self.scheduler, signal.SIGTERM)
        for w in self.workers:
            kill_group(w, signal.SIGTERM)
        self.broker.delete_queue(self.queue)

    def result(self, started: float) -> RunResult:
        from paperboy.jobs.storage import Storage

        got = self.received()
        due = set(self.due_at) - set(self.stopped_at)
        with Storage.open(self.database) as storage:
            deliveries = [d for d in storage.deliveries() if d.user_name in self.due_at]
            slots = {  # delivery id -> the digest slot it was claimed under
                c["delivery_id"]: c["slot"]
                for user in self.due_at
                for c in storage.claims(user)
                if c["delivery_id"] is not None
            }
        slot_of = {d.message_id: slots.get(d.id, "?") for d in deliveries}
        seen: dict[tuple[str, str], str] = {}  # (user, slot) -> the Message-ID sent for it
        first_at: dict[str, float] = {}
        same = new = later = 0
        papers: dict[tuple[str, str], set[str]] = {}
        for user, mid, ids, at in got:
            if at >= self.due_at[user]:  # the digest due then (not a cron's earlier one)
                first_at.setdefault(user, at)
            key = (user, slot_of.get(mid, "?"))
            if key not in seen:
                seen[key] = mid
                later += any(u == user for u, _slot in seen if (u, _slot) != key)
            elif seen[key] == mid:
                same += 1  # the SMTP-boundary repeat: the same message again
            else:
                new += 1  # a second digest for the same slot
            for pid in ids:
                papers.setdefault((user, pid), set()).add(mid)
        twice = sum(1 for mids in papers.values() if len(mids) > 1)
        sent_ledger = {  # a digest's time is its firing's (or a cron run's start)
            d.user_name
            for d in deliveries
            if d.status == "sent" and d.created_at.timestamp() >= self.due_at[d.user_name] - 1
        }
        after = sum(  # in flight at the stop (recorded before it) arrives within seconds
            1 for user, _mid, _ids, at in got if at > self.stopped_at.get(user, at) + AFTER_STOP
        )
        pending = sum(1 for d in deliveries if d.status == "pending" and d.user_name in due)
        runs = Counter(self.counts.read_text().split()) if self.counts.exists() else Counter()
        waits = [first_at[u] - self.due_at[u] for u in due if u in first_at]
        notes = [f"fault not injected: {e}" for e in self.errors]
        notes += [f"lost: {u}" for u in sorted(due - set(first_at))]
        notes += [f"not sent in the ledger: {u}" for u in sorted(due - sent_ledger)]
        notes += [f"{u}, slot {slot}: a second digest" for (u, slot) in _second(got, slot_of)]
        notes += [
            f"{u}: paper {p} in {len(m)} messages" for (u, p), m in papers.items() if len(m) > 1
        ]
        return RunResult(
            users=len(self.due_at),
            due=len(due),
            sent=len(due & set(first_at)),
            repeats_same=same,
            repeats_new=new,
            later=later,
            twice=twice,
            lost=len(due - set(first_at)),
            lost_ledger=len(due - sent_ledger),
            pending=pending,
            task_runs=sum(runs[u] for u in due),
            runs_most=max((runs[u] for u in self.due_at), default=0),
            wait=max(waits, default=0.0),
            stopped=len(self.stopped_at),
            after_stop=after,
            faults=self.faults,
            seconds=time.monotonic() - started,
            notes=notes,
        )


def _second(
    got: list[tuple[str, str, set[str], float]], slot_of: dict[str, str]
) -> list[tuple[str, str]]:
    """(user, slot) that received more than one Message-ID."""
    by: dict[tuple[str, str], set[str]] = {}
    for user, mid, _ids, _at in got:
        by.setdefault((user, slot_of.get(mid, "?")), set()).add(mid)
    return [key for key, mids in by.items() if len(mids) > 1]


def plan(faults: int, rng: random.Random) -> list[str]:
    """`faults` fault kinds: each kind an equal share (the first kinds one more), shuffled."""
    kinds = [KINDS[i % len(KINDS)] for i in range(faults)]
    rng.shuffle(kinds)
    return kinds


def campaign(
    *,
    runs: int,
    users: int,
    faults: int,
    seed: int = 1,
    database: str = DEFAULT_DATABASE,
    broker_url: str | None = None,
    broker_node: str | None = None,
    settle: float = 600,
    window: float | None = None,
    keep: Path | None = None,
    report: bool = True,
) -> list[RunResult]:
    """Set up once, then `runs` runs; the results, one per run."""
    from tests.smtp_server import LocalSMTPServer

    rng = random.Random(seed)
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="paperboy-faults-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        broker = Broker(broker_url, broker_node, Path(tmp).with_name(Path(tmp).name + "-rabbitmq"))
        try:
            broker.start()
            with campaign_database(database) as db, LocalSMTPServer() as smtp:
                index = folder / "paperboy.index"
                started = time.monotonic()
                pool = store_sample(write_config(folder / "setup", db, index, smtp.port))
                if report:
                    took = time.monotonic() - started
                    print(f"sample stored, indexed and encoded in {took:.0f} s\n")
                    print(HEADER)
                    print("|" + "---|" * 12, flush=True)
                for number in range(1, runs + 1):
                    started = time.monotonic()
                    run = Run(number, folder / f"run{number}", db, index, smtp, broker, pool, rng)
                    run.start(users)
                    try:
                        run.campaign(plan(faults, rng), window or max(20.0, users / 4))
                    finally:
                        run.finish(settle)
                    results.append(run.result(started))
                    if report:
                        print(row(number, results[-1]), flush=True)
                        for note in results[-1].notes[:20]:
                            print(f"    {note}", flush=True)
        finally:
            broker.stop()
            shutil.rmtree(broker.folder, ignore_errors=True)
    return results


HEADER = (
    "| run | users | due | sent | repeats: same / new Message-ID (a later slot's digest) "
    "| papers twice | lost "
    "(sink / ledger) | task runs per digest (most for one user) | longest wait s "
    "| stopped (mailed after) | faults | run s |"
)


def row(number: int | str, r: RunResult) -> str:
    per = r.task_runs / r.due if r.due else 0.0
    return (
        f"| {number} | {r.users} | {r.due} | {r.sent} | {r.repeats_same} / {r.repeats_new} "
        f"({r.later}) "
        f"| {r.twice} | {r.lost} / {r.lost_ledger} | {per:.2f} ({r.runs_most}) | {r.wait:.0f} "
        f"| {r.stopped} ({r.after_stop}) | {sum(r.faults.values())} | {r.seconds:.0f} |"
    )


SUMMED = [
    *("users", "due", "sent", "repeats_same", "repeats_new", "later", "twice", "lost"),
    *("lost_ledger", "pending", "task_runs", "stopped", "after_stop", "seconds"),
]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        return worker_main(*argv[1:])
    if argv[:1] == ["scheduler"]:
        return scheduler_main(*argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--faults", type=int, default=40, help="faults injected per run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle", type=float, default=600, help="most seconds to wait")
    parser.add_argument(
        "--window", type=float, help="faults start within this many seconds (users / 4)"
    )
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--broker", help="amqp:// URL of a broker to use (default: our own)")
    parser.add_argument("--broker-node", help="its node name, for rabbitmqctl -n")
    parser.add_argument("--keep", type=Path, help="keep the logs in this folder")
    args = parser.parse_args(argv)
    if (args.broker is None) != (args.broker_node is None):
        parser.error("--broker and --broker-node go together")
    # SIGTERM (and SIGINT, ignored in a background job) end the campaign through its
    # clean-up: the processes, the broker and the database go.
    signal.signal(signal.SIGTERM, lambda _n, _f: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    load = os.getloadavg()[0]
    results = campaign(
        runs=args.runs,
        users=args.users,
        faults=args.faults,
        seed=args.seed,
        database=args.database,
        broker_url=args.broker,
        broker_node=args.broker_node,
        settle=args.settle,
        window=args.window,
        keep=args.keep,
    )
    total = RunResult(
        **{name: sum(getattr(r, name) for r in results) for name in SUMMED},
        runs_most=max((r.runs_most for r in results), default=0),
        wait=max((r.wait for r in results), default=0.0),
        faults=sum((r.faults for r in results), Counter()),
    )
    print(row("total", total))
    kinds = ", ".join(f"{k} {total.faults[k]}" for k in KINDS)
    print(f"faults injected: {sum(total.faults.values())} ({kinds})")
    print(
        f"cores: {os.cpu_count()}, load average at start {load:.1f}, "
        f"at end {os.getloadavg()[0]:.1f}; pending deliveries of due users left: {total.pending}"
    )
    return 1 if total.defects else 0


if __name__ == "__main__":
    raise SystemExit(main())
