"""Progress of long work (index build, arXiv backfill, a digest run over many users).

On a terminal: a progress bar on stderr with counts and the time left (click's). Anywhere
else (cron, systemd, a pipe): one log line per step, so a log shows how far it got.
The work itself only calls ``advance(done)``: it never knows which of the two it feeds.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

log = logging.getLogger("paperboy.progress")

# done (how far, in the unit of total), total: what long work reports as it goes.
Advance = Callable[[int, int], None]


@contextmanager
def progress(label: str, unit: str, *, tty: bool | None = None) -> Iterator[Advance]:
    """A reporter for one piece of long work: call it with (done, total) after each step.

    ``tty`` (default: whether stderr is a terminal) picks the bar or the log lines.
    """
    if tty is None:
        tty = sys.stderr.isatty()
    if not tty:

        def log_step(done: int, total: int) -> None:
            log.info("%s: %d/%d %s", label, done, total, unit)

        yield log_step
        return
    bar: Any = None
    shown = 0
    try:

        def draw(done: int, total: int) -> None:
            nonlocal bar, shown
            if bar is None:
                bar = click.progressbar(
                    length=max(total, 1),
                    label=label,
                    file=sys.stderr,
                    show_eta=True,
                    show_pos=True,
                )
                bar.__enter__()
            elif bar.length != max(total, 1):
                bar.length = max(total, 1)
            step = max(min(done, total) - shown, 0)
            if step:
                bar.update(step)
                shown += step

        yield draw
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
