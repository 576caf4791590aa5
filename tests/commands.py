"""How tests start `paperboy` as a separate process: the installed package's command,
through the interpreter running the tests (the console script may not be on PATH); and
how they end one started in a session of its own, with everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

PAPERBOY = [sys.executable, "-m", "paperboy.jobs.cli"]


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process group of `proc` (started with start_new_session) and
    wait for it; SIGKILL if it is still there after 30 s."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def stop_or_dump(
    proc: subprocess.Popen[str],
    lines: list[str],
    reader: threading.Thread,
    timeout: float = 60,
) -> None:
    """Stop a `paperboy run` with SIGTERM and wait for it, then for the thread `reader`
    that collects its stderr into `lines`. If it has not exited within `timeout`, ask it
    for every thread's stack (SIGUSR1, jobs.runners.scheduler), kill it, and fail with
    what it printed, so that a slow stop says where it was."""
    proc.send_signal(signal.SIGTERM)
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
            raise AssertionError(
                f"paperboy run did not exit within {timeout:.0f} s of the stop; its stderr,"
                " with its threads' stacks at the end:\n" + "".join(lines)
            ) from None
    finally:
        reader.join(timeout=10)
