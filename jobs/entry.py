"""The `paperboy` console script: stop cleanly on a signal even before start-up is done.

`paperboy run` stops on SIGTERM/SIGINT with exit status 0, as a service manager expects.
The daemon installs its own handlers once its scheduler is set up; until then (imports,
opening and migrating the database, taking the daemon lock) a signal would kill the
process with status 143. So the handler is installed here, before anything slow is
imported, and only for `run`: any other command interrupted has not done its job.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from paperboy.jobs.core.stopping import stop_cleanly_until_started

# Options of the `paperboy` group that take a value (the next word is not a command).
_VALUED = ("--config", "--log-format")


def command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named on a `paperboy` command line (skipping the group's options)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main() -> None:
    """The console script's entry point."""
    if command_of(sys.argv[1:]) == "run":
        stop_cleanly_until_started()
    from paperboy.jobs.cli import main as cli_main

    cli_main()
