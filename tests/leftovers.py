"""The guard that fails a test which leaves a thread or a child process running.

After each test the `no_leftovers` fixture (autouse, from tests/conftest.py) waits up to
`GRACE` seconds, returning as soon as it is clean, for every thread and child process of
the pytest process that the test started to end. What is still alive then is a leak: the
test errors in its teardown with the threads' names and targets and the processes' pids
and command lines, and the leaked processes (and their own children) are killed, so that
they cannot disturb the tests after it (issue #20: a leftover fetch thread's warning landed
in a later test's captured CLI output).

Not counted as a test's leftovers:

- what was alive before the test's function-scoped fixtures were set up (the main thread
  among them);
- what a fixture of a wider scope than the function (module, package, session) started
  while it was being set up, even when a test first requested it half-way through its
  body (`pytest_fixture_setup` below records it). That fixture must stop it by the end of
  its own teardown, with the same grace, or the test being torn down then errors;
- multiprocessing's resource tracker and forkserver processes, which live as long as the
  process that started them, by design;
- a child that has exited but was not reaped yet (a zombie: it runs nothing).

Out of its sight: a grandchild orphaned when a test kills its parent is adopted by init,
not by pytest; and without /proc (not Linux) processes are not checked, only threads.

`PAPERBOY_TEST_LEFTOVER_GRACE` (seconds) overrides the grace; tests/test_leftovers.py uses
it to keep its inner runs short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

GRACE = float(os.environ.get("PAPERBOY_TEST_LEFTOVER_GRACE", "5"))
POLL = 0.05

# Process-wide helpers of the standard library, alive for the life of the pytest process.
PROCESS_WIDE = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


@dataclass(frozen=True)
class Child:
    pid: int
    started: int  # clock ticks after boot, from /proc/<pid>/stat: (pid, started) survives pid reuse
    state: str
    cmdline: str

    @property
    def key(self) -> tuple[int, int]:
        return (self.pid, self.started)


def _read_child(pid: int) -> Child | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it ended between the listing and the read
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    cmdline = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return Child(pid=pid, started=int(fields[19]), state=fields[0], cmdline=cmdline)


def _child_pids(pid: int) -> set[int]:
    """The pids whose parent is `pid`: from /proc/<pid>/task/*/children, or, on a kernel
    without those files (CONFIG_PROC_CHILDREN), from every process's parent in /proc."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return set()  # no /proc (not Linux): processes go unchecked, threads are checked
    pids: set[int] = set()
    listed = False
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except OSError:
            continue  # the thread ended since the listing, or no such file
        listed = True
        pids.update(int(p) for p in text.split())
    if listed:
        return pids
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            pids.add(int(entry.name))
    return pids


def children(pid: int | None = None) -> list[Child]:
    """The live child processes of `pid` (default: this process), zombies left out."""
    pids = _child_pids(os.getpid() if pid is None else pid)
    found = [c for p in sorted(pids) if (c := _read_child(p)) is not None]
    return [c for c in found if c.state not in ("Z", "X")]


def _descendants(pid: int) -> list[Child]:
    out: list[Child] = []
    for child in children(pid):
        out.append(child)
        out.extend(_descendants(child.pid))
    return out


def _process_wide(child: Child) -> bool:
    return any(name in child.cmdline for name in PROCESS_WIDE)


# What fixtures wider than a function started while being set up: not a test's leftovers,
# but theirs to stop by the end of their own teardown (pytest_fixture_post_finalizer).
_exempt_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_exempt_children: set[tuple[int, int]] = set()
_started_by: dict[int, tuple[list[threading.Thread], set[tuple[int, int]]]] = {}


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    if fixturedef.scope == "function":
        return (yield)
    threads_before = set(threading.enumerate())
    children_before = {c.key for c in children()}
    try:
        return (yield)
    finally:
        threads = [t for t in threading.enumerate() if t not in threads_before]
        procs = {c.key for c in children() if c.key not in children_before}
        _exempt_threads.update(threads)
        _exempt_children.update(procs)
        _started_by[id(fixturedef)] = (threads, procs)


@pytest.hookimpl
def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    """After a wider fixture's teardown: what it started must end too (within the grace)."""
    started = _started_by.pop(id(fixturedef), None)
    if started is None:
        return
    threads, keys = started
    deadline = time.monotonic() + GRACE
    while True:
        alive = [t for t in threads if t.is_alive()]
        procs = [c for c in children() if c.key in keys and not _process_wide(c)]
        if (not alive and not procs) or time.monotonic() >= deadline:
            break
        time.sleep(POLL)
    for thread in threads:
        _exempt_threads.discard(thread)
    _exempt_children.difference_update(keys)
    if alive or procs:
        _fail(f"the {fixturedef.scope}-scoped fixture {fixturedef.argname!r}", alive, procs)


def _describe_thread(thread: threading.Thread) -> str:
    target: Callable[..., object] | None = getattr(thread, "_target", None)
    if target is None:  # a Thread subclass with its own run()
        what = f"{type(thread).__module__}.{type(thread).__qualname__}.run"
    else:
        module = getattr(target, "__module__", None) or "?"
        what = f"{module}.{getattr(target, '__qualname__', repr(target))}"
    daemon = ", daemon" if thread.daemon else ""
    return f"thread {thread.name!r} (target {what}{daemon})"


def _kill(leaked: list[Child]) -> None:
    """SIGKILL the leaked processes and everything under them, children first."""
    everything: list[Child] = []
    for child in leaked:
        everything.extend(reversed(_descendants(child.pid)))
        everything.append(child)
    for child in everything:
        current = _read_child(child.pid)
        if current is None or current.key != child.key:
            continue  # gone already, or the pid is someone else's now
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)


@dataclass
class Snapshot:
    threads: set[threading.Thread]
    children: set[tuple[int, int]]

    @classmethod
    def now(cls) -> Snapshot:
        return cls(set(threading.enumerate()), {c.key for c in children()})

    def leftovers(self) -> tuple[list[threading.Thread], list[Child]]:
        threads = [
            t
            for t in threading.enumerate()
            if t not in self.threads
            and t not in _exempt_threads
            and t is not threading.main_thread()
            and t.is_alive()
        ]
        procs = [
            c
            for c in children()
            if c.key not in self.children and c.key not in _exempt_children and not _process_wide(c)
        ]
        return threads, procs


def wait_for_leftovers(
    before: Snapshot, grace: float = GRACE
) -> tuple[list[threading.Thread], list[Child]]:
    """What the test started and is still alive after up to `grace` seconds (empty: clean)."""
    deadline = time.monotonic() + grace
    while True:
        threads, procs = before.leftovers()
        if (not threads and not procs) or time.monotonic() >= deadline:
            return threads, procs
        time.sleep(POLL)


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    """Fail the test if a thread or a child process it started outlives it (see above)."""
    before = Snapshot.now()
    yield
    threads, procs = wait_for_leftovers(before)
    if threads or procs:
        _fail("the test", threads, procs)


def _fail(who: str, threads: list[threading.Thread], procs: list[Child]) -> None:
    """Kill the leaked processes and fail, naming what was left running."""
    _kill(procs)
    lines = [f"{who} left {len(threads)} thread(s) and {len(procs)} process(es) running:"]
    lines += [f"  {_describe_thread(t)}" for t in threads]
    lines += [f"  process {c.pid}: {c.cmdline} (killed)" for c in procs]
    pytest.fail("\n".join(lines), pytrace=False)
