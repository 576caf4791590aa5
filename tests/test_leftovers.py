"""Tests leave no threads or processes behind, and logs never mix into a command's output
(issue #20, item 19: a leftover fetch thread's warning landed in a later test's captured
CLI output).

The guard (tests/leftovers.py, autouse from tests/conftest.py) is tested by running inner
test files in a separate pytest process with it loaded, and reading that run's outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import leftovers
from tests.commands import PAPERBOY
from tests.http_server import LocalServer, Reply

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


def run_inner(pytester: pytest.Pytester, source: str, grace: float) -> pytest.RunResult:
    """Run `source` as a test file in a fresh pytest process with the guard loaded."""
    pytester.makepyfile(test_inner=source)
    pytester.makeini("[pytest]\n")  # not the repository's settings (-ra, strict markers)
    env = {"PYTHONPATH": str(ROOT), "PAPERBOY_TEST_LEFTOVER_GRACE": str(grace)}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        return pytester.runpytest_subprocess("-p", "tests.leftovers", "-p", "no:cacheprovider")


def state(pid: int) -> str | None:
    """The process's state letter (R, S, Z, …), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def test_a_leaked_thread_errors_its_test_and_is_named(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import threading, time

        def test_leaks_a_thread():
            leak = threading.Thread(target=time.sleep, args=(60,), name="leaky-sleeper")
            leak.daemon = True
            leak.start()

        def test_after_it():
            pass
        """,
        grace=0.5,
    )
    result.assert_outcomes(passed=2, errors=1)
    out = result.stdout.str()
    assert "ERROR at teardown of test_leaks_a_thread" in out
    assert "thread 'leaky-sleeper' (target time.sleep, daemon)" in out
    assert "1 thread(s) and 0 process(es)" in out


def test_a_module_fixture_that_leaves_its_thread_running_errors(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        """
        import threading
        import pytest

        _never = threading.Event()

        @pytest.fixture(scope="module")
        def server():
            threading.Thread(target=_never.wait, name="never-stopped", daemon=True).start()
            yield

        def test_first(server):
            pass

        def test_last(server):
            pass
        """,
        grace=0.5,
    )
    # Not the tests' leftover (the fixture is long-lived on purpose), but its teardown
    # must stop it: the test torn down with it errors.
    result.assert_outcomes(passed=2, errors=1)
    out = result.stdout.str()
    assert "ERROR at teardown of test_last" in out
    assert "the module-scoped fixture 'server' left 1 thread(s)" in out
    assert "thread 'never-stopped' (target threading.Event.wait, daemon)" in out


def test_a_leaked_process_errors_its_test_and_is_killed(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pid_file = tmp_path / "leaked.pid"
    result = run_inner(
        pytester,
        f"""
        import subprocess, sys
        from pathlib import Path

        def test_leaks_a_process():
            child = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(60)  # leaky-child"]
            )
            Path({str(pid_file)!r}).write_text(str(child.pid))

        def test_after_it():
            pass
        """,
        grace=0.5,
    )
    result.assert_outcomes(passed=2, errors=1)
    pid = int(pid_file.read_text())
    out = result.stdout.str()
    assert "ERROR at teardown of test_leaks_a_process" in out
    assert f"process {pid}: {sys.executable} -c import time; time.sleep(60)  # leaky-child" in out
    assert "(killed)" in out
    # Killed, not merely reported: without the guard it would sleep on for a minute after
    # the inner pytest exited. Once orphaned it is reaped by whoever adopts it.
    deadline = time.monotonic() + 30
    while state(pid) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state(pid) in (None, "Z")


def test_what_ends_within_the_grace_or_is_long_lived_on_purpose_passes(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        """
        import multiprocessing, subprocess, sys, threading, time
        import pytest

        def test_a_thread_that_ends_within_the_grace():
            threading.Thread(target=time.sleep, args=(0.5,), name="short").start()

        def test_a_process_that_ends_within_the_grace():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])

        @pytest.fixture
        def stopped_at_teardown():
            stop = threading.Event()
            thread = threading.Thread(target=stop.wait, name="fixture-thread")
            thread.start()
            yield
            stop.set()
            thread.join()

        def test_a_function_fixture_that_stops_its_thread(stopped_at_teardown):
            pass

        _stop = threading.Event()

        @pytest.fixture(scope="module")
        def module_thread():
            thread = threading.Thread(target=_stop.wait, name="module-thread")
            thread.start()
            yield thread
            _stop.set()
            thread.join()

        def test_a_module_fixture_first_requested_mid_test(request):
            thread = request.getfixturevalue("module_thread")
            assert thread.is_alive()

        def test_a_module_fixture_still_running_in_the_next_test(module_thread):
            assert module_thread.is_alive()

        def square(x):
            return x * x

        def test_multiprocessing_forkserver_and_resource_tracker_stay():
            ctx = multiprocessing.get_context("forkserver")
            with ctx.Pool(1) as pool:
                assert pool.map(square, [3]) == [9]
            pool.join()
        """,
        grace=5,
    )
    result.assert_outcomes(passed=6)


@pytest.mark.parametrize("children_files", [True, False])
def test_the_guard_lists_this_process_s_children_with_or_without_children_files(
    monkeypatch: pytest.MonkeyPatch, children_files: bool
) -> None:
    if not children_files:  # a kernel without CONFIG_PROC_CHILDREN: every parent in /proc
        real = Path.read_text

        def no_children_files(path: Path, *args: object, **kwargs: object) -> str:
            if path.name == "children":
                raise FileNotFoundError(path)
            return real(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "read_text", no_children_files)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # Popen returns once the exec began; the new command line shows a moment later.
        deadline = time.monotonic() + 30
        while True:
            listed = leftovers.children()
            found = [c for c in listed if c.pid == child.pid]
            if time.monotonic() > deadline or (found and found[0].cmdline):
                break
            time.sleep(0.01)
        assert len(found) == 1, (child.pid, listed)
        assert found[0].cmdline == f"{sys.executable} -c import time; time.sleep(60)", found
        assert found[0].state in ("R", "S", "D"), found
    finally:
        child.kill()
        child.wait()
    listed = leftovers.children()
    assert child.pid not in [c.pid for c in listed], listed


def test_a_command_s_jsonl_stdout_is_data_only_while_it_logs(
    server: LocalServer, tmp_path: Path
) -> None:
    server.serve("/rss/cs.LG", Reply(404, {"Content-Type": "text/plain"}, b"gone"))
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[paperboy]
database = "sqlite:///{tmp_path / "paperboy.db"}"
contact = "ops@example.org"

[sources.arxiv]
categories = ["cs.LG"]
base_url = "{server.base}/rss/"
backfill_days = 0

[[users]]
name = "ada"
email = "ada@example.org"
saved = []
""",
        encoding="utf-8",
    )
    done = subprocess.run(
        [*PAPERBOY, "--config", str(config), "fetch", "--format", "jsonl"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # the source failed
    assert "ERROR paperboy.jobs.fetch.listings: arxiv: " in done.stderr  # a log line, on stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]  # every line is data
    assert [(r["source"], r["status"]) for r in rows] == [("arxiv", "error")]
