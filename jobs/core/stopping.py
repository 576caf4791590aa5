"""Stopping: `paperboy run` ends on SIGTERM/SIGINT within seconds, at any point of a job.

    Stop      one stop request, set by the daemon's signal handler, passed down
              explicitly (a parameter, never read from global state) to the work it runs
    Stopped   raised by that work at its next safe point: a retry wait (jobs.fetch.http),
              between sources (jobs.fetch.listings), between encoding chunks
              (jobs.ranking.encoding), between users of a digest run (jobs.mailing.run)
    stop_cleanly_until_started: the handlers in place before the daemon installs its own

Crash semantics: a stop leaves what was committed; the rest is done by the next run
(a source not fetched is fetched next time, a claimed digest not recorded is released).
`Stopped` derives from BaseException, like KeyboardInterrupt, so that the handlers that
keep one source's or one user's failure from stopping the others (``except Exception``)
let it through instead of recording a stop as a failure.

Tiny on purpose: the console script (jobs.entry) imports it before anything slow.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

__all__ = ["Stop", "Stopped", "stop_cleanly_until_started"]


class Stopped(BaseException):  # an outcome, like KeyboardInterrupt
    """The work was asked to stop and did, at a safe point; what it committed stays."""


class Stop:
    """A request to stop, set once (by a signal handler) and read by the running work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise Stopped if a stop was asked for."""
        if self._event.is_set():
            raise Stopped

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; raise Stopped as soon as a stop is asked for."""
        if self._event.wait(max(0.0, seconds)):
            raise Stopped


def _stop_early(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write(f"paperboy: {signal.Signals(signum).name} before start-up finished, stopped\n")
    raise SystemExit(0)


def stop_cleanly_until_started() -> None:
    """Until the daemon installs its own handlers, SIGTERM/SIGINT end the process with 0
    (unwinding: the database and the daemon lock are released by their `with` blocks)."""
    signal.signal(signal.SIGTERM, _stop_early)
    signal.signal(signal.SIGINT, _stop_early)
