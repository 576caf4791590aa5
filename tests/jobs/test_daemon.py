"""The daemon you can forget about: one per database, reloads, DST, and real kill -9 crashes."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import pytest

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config, UserConfig
from paperboy.jobs.config.schedule import is_due, last_fire
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.fetch.sources.arxiv_rss import render_arxiv_rss
from paperboy.jobs.runners.demo import sample_dir, starter_config
from paperboy.jobs.runners.lock import AlreadyRunning, acquire_daemon_lock
from paperboy.jobs.runners.scheduler import Daemon, fetch_overdue
from paperboy.jobs.storage import Storage
from tests.commands import PAPERBOY, stop_or_dump
from tests.jobs.test_scheduler import user_jobs


def paperboy(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PAPERBOY_CONFIG": str(config)}
    return subprocess.Popen(
        [*PAPERBOY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


# --- one daemon per database ----------------------------------------------------------


def test_second_lock_on_the_same_database_is_refused(database_url: str) -> None:
    with Storage.open(database_url) as one, Storage.open(database_url) as two:
        lock = acquire_daemon_lock(one, database_url)
        with pytest.raises(AlreadyRunning, match="already using"):
            acquire_daemon_lock(two, database_url)
        lock.release()
        acquire_daemon_lock(two, database_url).release()  # free again once released


def test_lock_dies_with_a_killed_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from paperboy.jobs.storage import Storage\n"
            "from paperboy.jobs.runners.lock import acquire_daemon_lock\n"
            f"lock = acquire_daemon_lock(Storage.open({url!r}), {url!r})\n"
            "print('locked', flush=True)\ntime.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    with Storage.open(url) as storage:
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            acquire_daemon_lock(storage, url)
        holder.kill()  # SIGKILL: no cleanup code runs
        holder.wait(timeout=30)
        acquire_daemon_lock(storage, url).release()


def test_two_daemons_started_at_once_exactly_one_runs(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(starter_config(), encoding="utf-8")
    config = tmp_path / "config.toml"
    daemons = [paperboy(config, "-v", "run"), paperboy(config, "-v", "run")]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and all(d.poll() is None for d in daemons):
            time.sleep(0.1)
        refused = [d for d in daemons if d.poll() is not None]
        assert len(refused) == 1, "exactly one daemon must refuse to start"
        _, err = refused[0].communicate(timeout=10)
        assert refused[0].returncode == 1 and "already using" in err
        [running] = [d for d in daemons if d is not refused[0]]
        time.sleep(0.5)
        assert running.poll() is None
    finally:
        for d in daemons:
            if d.poll() is None:
                d.send_signal(signal.SIGTERM)
                d.communicate(timeout=30)
                assert d.returncode == 0


# --- time zones and DST ---------------------------------------------------------------


def user(send_at: clock, zone: str, schedule: str = "daily") -> UserConfig:
    return UserConfig(
        name="ada", email=("ada@example.org",), send_at=send_at, timezone=zone, schedule=schedule
    )


def test_fall_back_day_sends_one_digest_at_0230() -> None:
    ada = user(clock(2, 30), "Europe/Berlin")
    first = datetime(2026, 10, 25, 0, 30, 5, tzinfo=UTC)  # 02:30:05 CEST, before clocks go back
    # 02:30 happens again an hour later (CET): not a second digest that day.
    for hours in (1, 2, 12):
        assert not is_due(ada, first, first + timedelta(hours=hours))
    assert is_due(ada, first, first + timedelta(hours=25, minutes=1))


def test_spring_forward_day_still_gets_its_digest() -> None:
    ada = user(clock(2, 30), "Europe/Berlin")  # 02:30 does not exist on 2026-03-29
    previous = datetime(2026, 3, 28, 1, 30, 5, tzinfo=UTC)
    assert not is_due(ada, previous, datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
    assert is_due(ada, previous, datetime(2026, 3, 29, 1, 31, tzinfo=UTC))  # 03:31 CEST
    fired = last_fire(ada.trigger(), datetime(2026, 3, 29, 12, tzinfo=UTC), timedelta(hours=24))
    assert fired is not None and fired.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_user_at_utc_plus_13() -> None:
    kai = user(clock(7, 30), "Pacific/Tongatapu")  # UTC+13 all year
    fire = kai.trigger().get_next_fire_time(None, datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert fire is not None and fire.astimezone(UTC) == datetime(2026, 6, 1, 18, 30, tzinfo=UTC)
    last = datetime(2026, 6, 1, 18, 31, tzinfo=UTC)  # their Tuesday digest
    assert not is_due(kai, last, datetime(2026, 6, 2, 18, 29, tzinfo=UTC))
    assert is_due(kai, last, datetime(2026, 6, 2, 18, 30, tzinfo=UTC))


# --- the digest waits for the fetch; reloads ------------------------------------------


def daemon_config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "config.toml"
    path.write_text(
        '[paperboy]\ndatabase = "sqlite:///p.db"\nfetch_schedule = "30 20 * * sun,mon-thu"\n'
        '[sources.arxiv]\ncategories = ["cs.LG"]\n'
        '[[users]]\nname = "ada"\nemail = "ada@example.org"\n' + extra,
        encoding="utf-8",
    )
    return load_config(path)


def test_digest_runs_the_overdue_fetch_first(tmp_path: Path) -> None:
    config = daemon_config(tmp_path)
    calls: list[str] = []
    now = datetime(2025, 6, 3, 5, 0, tzinfo=UTC)  # Tue: Monday 20:30 ET's fetch is due
    with Storage.open(config.database) as storage:
        assert fetch_overdue(config, storage, now)

        def fetch(c: Config, s: Storage) -> None:
            calls.append("fetch")
            s.record_fetch("arxiv", url=c.arxiv.url if c.arxiv else None, count=0, new=0)

        def digest(c: Config, s: Storage, name: str) -> None:
            calls.append(f"digest:{name}")

        daemon = Daemon(config, storage, fetch=fetch, digest=digest, now=lambda: now)
        daemon.run_digest("ada")
        daemon.run_digest("ada")  # the fetch ran: the next digest does not fetch again
    assert calls == ["fetch", "digest:ada", "digest:ada"]


def test_config_reload_and_invalid_edit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = daemon_config(tmp_path)
    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage)
        daemon.schedule()
        assert set(user_jobs(daemon.scheduler)) == {"ada"}
        assert not daemon.check_reload()  # unchanged
        text = config.path.read_text() + '[[users]]\nname = "bo"\nemail = "bo@example.org"\n'
        config.path.write_text(text)
        os.utime(config.path, (time.time() + 5, time.time() + 5))
        assert daemon.check_reload()
        assert set(user_jobs(daemon.scheduler)) == {"ada", "bo"}
        config.path.write_text(text + "max_papers = 'many'\n")
        os.utime(config.path, (time.time() + 10, time.time() + 10))
        assert not daemon.check_reload()
        assert "keeping the last good config" in caplog.text
        assert [u.name for u in daemon.config.users] == ["ada", "bo"]
        daemon.request_reload()  # SIGHUP forces a re-read even without a change
        assert not daemon.check_reload()  # still invalid, still the last good config


def test_json_logs(tmp_path: Path) -> None:
    env = {**os.environ, "PAPERBOY_CONFIG": str(tmp_path / "missing.toml")}
    done = subprocess.run(
        [*PAPERBOY, "--log-format", "json", "-v", "demo", "--dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)


# --- kill -9 at random points: consistent database, every digest exactly once ----------


def sample_config(tmp_path: Path, users: int) -> Path:
    """The starter config with several users sharing ada's profile."""
    text = starter_config()
    block = text[text.index("\n[[users]]") + 1 :]
    extra = "".join(
        "\n"
        + block.replace('name = "ada"', f'name = "u{i}"').replace(
            "ada@example.org", f"u{i}@example.org"
        )
        for i in range(users)
    )
    path = tmp_path / "config.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def run_killed(config: Path, args: list[str], rng: random.Random, attempts: int) -> int:
    """Start the command `attempts` times, SIGKILLing each at a random moment; then once
    to completion. Returns how many runs were really killed mid-way."""
    killed = 0
    for _ in range(attempts):
        proc = paperboy(config, *args)
        time.sleep(rng.uniform(0.3, 3.0))
        if proc.poll() is None:
            proc.kill()
            killed += 1
        proc.communicate(timeout=60)
    final = paperboy(config, *args)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, out + err
    return killed


def assert_consistent(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def outbox_papers(outbox: Path) -> dict[str, list[set[str]]]:
    """Per recipient, the set of arXiv ids in each distinct message in the outbox."""
    per_user: dict[str, list[set[str]]] = {}
    seen_ids: set[str] = set()
    for eml in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert message["Message-ID"] not in seen_ids
        seen_ids.add(message["Message-ID"])
        body = message.get_body(("plain",))
        assert body is not None
        ids = {
            line.rsplit("/", 1)[1].strip()
            for line in body.get_content().splitlines()
            if "arxiv.org/abs/" in line
        }
        per_user.setdefault(str(message["To"]), []).append(ids)
    return per_user


@pytest.mark.slow
def test_kill_9_during_digests_never_mails_twice(tmp_path: Path) -> None:
    config_path = sample_config(tmp_path, users=5)
    config = load_config(config_path)
    days = sorted(f for f in sample_dir().iterdir() if f.name.startswith("arxiv-"))
    saved = sample_dir() / "saved.jsonl"
    first = [arg for d in days[:3] for arg in ("--from-file", str(d))]
    assert paperboy(config_path, "fetch", *first).wait(timeout=300) == 0
    # The saved papers, as the arXiv API lookup would store them.
    _load_saved(config, Path(str(saved)))
    rng = random.Random(7)
    killed = run_killed(config_path, ["digest"], rng, attempts=4)
    # A later day arrives; the digests go out again, killed again at random moments.
    assert paperboy(config_path, "fetch", "--from-file", str(days[3])).wait(timeout=300) == 0
    killed += run_killed(config_path, ["digest", "--force"], rng, attempts=4)
    assert killed >= 1, "no run was killed mid-way: the test did not test anything"

    db = config_path.parent / "paperboy.db"
    assert_consistent(db)
    with Storage.open(config.database) as storage:
        for u in config.users:
            deliveries = storage.deliveries(user_name=u.name)
            assert deliveries and all(d.status == "sent" for d in deliveries), u.name
            assert len(deliveries) <= 2
    per_user = outbox_papers(config.email.outbox)
    assert len(per_user) == len(config.users)
    for digests in per_user.values():
        mailed = [pid for ids in digests for pid in ids]
        assert len(mailed) == len(set(mailed)), "a paper was mailed twice to one user"


def _load_saved(config: Config, saved: Path) -> None:
    from paperboy.jobs.fetch.paperfiles import read_jsonl

    with Storage.open(config.database) as storage:
        storage.upsert_papers(
            [
                SourcePaper(
                    p.id,
                    p.title,
                    p.abstract,
                    p.authors,
                    p.categories,
                    f"https://arxiv.org/abs/{p.id}",
                )
                for p in read_jsonl(saved)
            ],
            source="arxiv-api",
            listed=False,
        )


@pytest.mark.slow
def test_kill_9_during_a_big_fetch_stores_all_or_nothing(tmp_path: Path) -> None:
    config_path = sample_config(tmp_path, users=0)
    config = load_config(config_path)
    papers = [
        SourcePaper(
            id=f"2607.{i:05d}",
            title=f"Paper number {i} on reinforcement learning",
            abstract="We study reasoning. " * 20,
            authors=tuple(f"Author {j}" for j in range(30)),
            categories=("cs.LG",),
            link=f"https://arxiv.org/abs/2607.{i:05d}",
            version=1,
            announce_type="new",
            announced=date(2026, 7, 2),
        )
        for i in range(1, 6001)  # arXiv numbers start at 1
    ]
    big = tmp_path / "big.xml"
    big.write_bytes(render_arxiv_rss(papers, categories="cs.LG", announced=date(2026, 7, 2)))
    rng = random.Random(11)
    counts = []
    db = config_path.parent / "paperboy.db"
    for _ in range(6):
        # Each attempt inserts all 6,000 papers afresh. The killed attempt's WAL goes
        # with its database: SQLite would replay a leftover -wal into a new file of the
        # same name and report it malformed (sqlite.org/howtocorrupt.html, 2.4).
        for leftover in (db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)
        # Kill once the parse is done and the papers are being written (-vv logs it).
        proc = paperboy(config_path, "-vv", "fetch", "--from-file", str(big))
        assert proc.stderr is not None
        for line in proc.stderr:
            if "storing 6000 papers" in line:
                break
        time.sleep(rng.uniform(0.0, 1.5))
        proc.kill()
        proc.communicate(timeout=60)
        if (config_path.parent / "paperboy.db").exists():
            assert_consistent(config_path.parent / "paperboy.db")
            with Storage.open(config.database) as storage:
                counts.append(storage.count_papers())
    print("paper counts after each kill:", counts)
    assert all(c in (0, len(papers)) for c in counts), counts  # one transaction: all or none
    # (its papers' vectors are not this test's subject: the daemon would encode them)
    done = paperboy(config_path, "fetch", "--from-file", str(big), "--encode-for", "0")
    assert done.wait(timeout=600) == 0
    with Storage.open(config.database) as storage:
        assert storage.count_papers() == len(papers)


@pytest.mark.slow
def test_kill_9_the_daemon_during_its_catch_up_digests(tmp_path: Path) -> None:
    """`paperboy run` catches up digests whose send time just passed; SIGKILL it at random
    moments, restart it, and every digest still goes out exactly once."""
    now = datetime.now(UTC)
    send_at = (now - timedelta(minutes=10)).strftime("%H:%M")
    saved = ", ".join(
        f'"{json.loads(line)["id"]}"'
        for line in (sample_dir() / "saved.jsonl").read_text("utf-8").splitlines()
        if line
    )
    users = "".join(
        f'\n[[users]]\nname = "u{i}"\nemail = "u{i}@example.org"\ntimezone = "UTC"\n'
        f'send_at = "{send_at}"\nsaved = [{saved}]\n'
        for i in range(4)
    )
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        '[paperboy]\ndatabase = "sqlite:///paperboy.db"\n'
        'fetch_schedule = "0 0 1 1 *"\n'  # no fetch falls due during the test
        '[email]\ntransport = "outbox"\noutbox = "outbox/"\n' + users,
        encoding="utf-8",
    )
    config = load_config(config_path)
    days = sorted(f for f in sample_dir().iterdir() if f.name.startswith("arxiv-"))
    files = [arg for d in days for arg in ("--from-file", str(d))]
    assert paperboy(config_path, "fetch", *files).wait(timeout=300) == 0
    _load_saved(config, Path(str(sample_dir() / "saved.jsonl")))

    def sent() -> int:
        with Storage.open(config.database) as storage:
            return len(storage.deliveries(status="sent"))

    rng = random.Random(5)
    killed = 0
    progress: list[int] = []
    for _ in range(4):
        daemon = paperboy(config_path, "-v", "run")
        time.sleep(rng.uniform(1.0, 4.0))
        if daemon.poll() is None:
            daemon.kill()
            killed += 1
        daemon.communicate(timeout=60)
        assert_consistent(tmp_path / "paperboy.db")
        progress.append(sent())
    print("digests sent after each kill:", progress)
    daemon = paperboy(config_path, "-v", "run")
    assert daemon.stderr is not None
    lines: list[str] = []
    for line in daemon.stderr:  # signal handlers are in place once jobs are scheduled
        lines.append(line)
        if "scheduled digest for" in line:
            break
    drain = threading.Thread(target=lambda: lines.extend(daemon.stderr or []), daemon=True)
    drain.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and sent() < len(config.users):
        time.sleep(0.5)
    stop_or_dump(daemon, lines, drain)
    assert daemon.returncode == 0, "".join(lines)
    assert sent() == len(config.users), "".join(lines)
    assert killed >= 1
    with Storage.open(config.database) as storage:
        for u in config.users:
            [delivery] = storage.deliveries(user_name=u.name)
            assert delivery.status == "sent"
    per_user = outbox_papers(config.email.outbox)
    assert sorted(per_user) == sorted(f"u{i}@example.org" for i in range(4))
    assert all(len(digests) == 1 for digests in per_user.values())


@pytest.mark.parametrize("when", ["setting up", "starting"])
def test_sigterm_during_start_up_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """A SIGTERM before the scheduler runs (e.g. while catch-up jobs are being queued)
    ends the daemon normally instead of raising "Scheduler is not running"."""
    config = daemon_config(tmp_path)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with Storage.open(config.database) as storage:
            daemon = Daemon(config, storage)
            if when == "setting up":
                monkeypatch.setattr(daemon, "catch_up", lambda: os.kill(os.getpid(), 15))
            else:  # the signal lands between the last check and the scheduler's start
                real_start = daemon.scheduler.start

                def signal_then_start() -> None:
                    os.kill(os.getpid(), signal.SIGTERM)
                    real_start()

                monkeypatch.setattr(daemon.scheduler, "start", signal_then_start)
            finished = threading.Event()
            timer = threading.Timer(30, lambda: finished.is_set() or os._exit(3))
            timer.start()
            daemon.run_forever()  # returns instead of blocking or raising
            finished.set()
            timer.cancel()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_sigusr1_prints_every_threads_stack_and_the_daemon_goes_on(tmp_path: Path) -> None:
    """What a daemon that seems stuck or slow to stop is doing: `kill -USR1` prints its
    threads' stacks to stderr without stopping it (tests' stop_or_dump relies on it)."""
    send_at = (datetime.now(UTC) + timedelta(hours=6)).strftime("%H:%M")
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        '[paperboy]\ndatabase = "sqlite:///paperboy.db"\nfetch_schedule = "0 0 1 1 *"\n'
        '[email]\ntransport = "outbox"\noutbox = "outbox/"\n'
        f'[[users]]\nname = "ada"\nemail = "ada@example.org"\ntimezone = "UTC"\n'
        f'send_at = "{send_at}"\nkeywords = ["bandits"]\n',
        encoding="utf-8",
    )
    daemon = paperboy(config_path, "-v", "run")
    assert daemon.stderr is not None
    lines: list[str] = []
    for line in daemon.stderr:
        lines.append(line)
        if "scheduled digest for" in line:
            break
    drain = threading.Thread(target=lambda: lines.extend(daemon.stderr or []), daemon=True)
    drain.start()
    daemon.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    # The main thread's stack names the daemon's loop.
    while not any("in run_forever" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("most recent call first" in line for line in lines), "".join(lines)
    assert any("in run_forever" in line for line in lines), "".join(lines)
    assert daemon.poll() is None  # still running
    stop_or_dump(daemon, lines, drain)
    assert daemon.returncode == 0, "".join(lines)
