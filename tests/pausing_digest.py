"""A digest runner that stops at a point of a digest, for the tests that kill it there
(kill -9) and check that another runner takes over, sending every digest once.

    python tests/pausing_digest.py digest CONFIG POINT FILE   # as `paperboy digest`
    python tests/pausing_digest.py worker CONFIG POINT FILE   # as `paperboy worker
                                                              #   --concurrency 1`

POINT is "claimed" (the digest is claimed, nothing built), "recorded" (the delivery is
recorded, not sent), "sent" (the SMTP server accepted it, not yet marked sent) or
"channel-sent" (a chat or push service accepted a part, not yet recorded). On
reaching it the runner appends "PID POINT USER" to FILE and sleeps until it is killed.
It calls what the command calls (jobs.mailing.run.run_digests; jobs.runners.queue.app.
make_app and run_worker), with the pause hook those take: the package itself reads no
test setting from the environment.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from paperboy.jobs.config.load import load_config
from paperboy.jobs.mailing.run import Pause, run_digests
from paperboy.jobs.storage import Storage

log = logging.getLogger(__name__)


def pausing(point: str, marker: Path) -> Pause:
    """The hook: at `point`, say so in `marker` and wait to be killed."""

    def pause(reached: str, user_name: str) -> None:
        if reached != point:
            return
        with marker.open("a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {reached} {user_name}\n")
        while True:
            time.sleep(3600)

    return pause


def main(argv: list[str]) -> int:
    mode, config_path, point, marker = argv
    if point not in ("claimed", "recorded", "sent", "channel-sent"):
        raise SystemExit(f"unknown pause point {point!r}")
    config = load_config(Path(config_path))
    pause = pausing(point, Path(marker))
    if mode == "digest":
        storage = Storage.open(config.database)
        try:
            results = run_digests(config, storage, pause=pause)
        finally:
            storage.close()
        for r in results:
            print(f"{r.user}: {r.status}")
        return 0
    if mode == "worker":
        from paperboy.jobs.runners.queue.app import make_app, run_worker

        app = make_app(config, pause=pause)
        run_worker(app, config, concurrency=1)
        return 0
    raise SystemExit(f"unknown mode {mode!r}: digest or worker")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main(sys.argv[1:]))
