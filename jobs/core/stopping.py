"""Stop `paperboy run` cleanly (exit status 0) on a signal that comes while it starts.

Tiny on purpose: the console script (jobs.entry) imports it before anything slow.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _stop_early(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write(f"paperboy: {signal.Signals(signum).name} before start-up finished, stopped\n")
    raise SystemExit(0)


def stop_cleanly_until_started() -> None:
    """Until the daemon installs its own handlers, SIGTERM/SIGINT end the process with 0
    (unwinding: the database and the daemon lock are released by their `with` blocks)."""
    signal.signal(signal.SIGTERM, _stop_early)
    signal.signal(signal.SIGINT, _stop_early)
