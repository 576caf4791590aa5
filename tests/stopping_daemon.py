"""A daemon whose digest run is slow, for the test that stops it mid-batch with SIGTERM.

    python tests/stopping_daemon.py CONFIG SECONDS

Runs `paperboy run`'s Daemon (jobs.runners.scheduler) with the digest job it runs by
default (jobs.mailing.run.run_digests with the daemon's stop), plus the pause hook that
run takes: at each claimed digest it prints "claimed USER" and waits SECONDS (an
uninterruptible time.sleep, standing for the work of ranking and rendering).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.mailing.run import run_digests
from paperboy.jobs.runners.scheduler import Daemon
from paperboy.jobs.storage import Storage


def main(argv: list[str]) -> int:
    config_path, seconds = argv
    config = load_config(Path(config_path))

    def slow(point: str, user_name: str) -> None:
        if point == "claimed":
            print(f"claimed {user_name}", flush=True)
            time.sleep(float(seconds))

    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage)

        def digest(c: Config, s: Storage, _name: str) -> None:
            run_digests(c, s, pause=slow, stop=daemon.stop)

        daemon.digest = digest
        daemon.run_forever()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main(sys.argv[1:]))
