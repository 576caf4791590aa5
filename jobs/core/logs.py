"""Logging for people (one line per event) or for machines (`--log-format json`), on stderr.

Log messages quote titles, URLs and server answers, so both formats keep terminal controls
out: the text lines go through jobs.core.text_safety, the JSON lines are ASCII-escaped.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from paperboy.jobs.core.text_safety import for_terminal

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        # ASCII: a raw U+202E or C1 control would reach whoever tails the log.
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with terminal controls removed (tracebacks keep
    their line breaks)."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


def configure_logging(level: int, fmt: str = "text") -> None:
    """Send log records to stderr as text lines or JSON lines (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job start at INFO; keep that for -vv only.
    quieter = logging.INFO if level <= logging.DEBUG else max(level, logging.WARNING)
    logging.getLogger("apscheduler").setLevel(quieter)
