"""How tests start `paperboy` as a separate process: the installed package's command,
through the interpreter running the tests (the console script may not be on PATH)."""

from __future__ import annotations

import sys

PAPERBOY = [sys.executable, "-m", "paperboy.jobs.cli"]
