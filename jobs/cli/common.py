"""Helpers every `paperboy` command module shares: errors to exit statuses, the config,
the database, progress lines and output formats.

All output goes through here: :func:`say` for lines people read (control, escape and
bidi characters removed, see jobs.core.text_safety), :func:`emit` / :func:`emit_one` for
JSON (escaped by `json.dumps`, ASCII only). Command modules never call `click.echo`
themselves (tests/jobs/test_terminal_output.py checks this).

Every command module imports these, and none imports another command module. Only
cheap modules are imported here: `paperboy --help` must start at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.text_safety import for_terminal

if TYPE_CHECKING:
    from paperboy.jobs.storage import Storage

FORMATS = click.Choice(["text", "json", "jsonl"])
# An input file that must exist (a papers file, a saved response, a BibTeX library).
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def say(message: str, *, err: bool = False) -> None:
    """Print a line (or lines) for people on stdout, or stderr with `err`: the one place
    text output goes through, so a title or a value from a feed or the web page cannot
    drive the terminal (escape sequences, CR, bidi overrides are removed)."""
    click.echo(for_terminal(message), err=err)


def fail(message: str, code: int) -> NoReturn:
    """Say what went wrong on stderr and exit with `code` (1 failure, 2 usage or config)."""
    say(f"paperboy: {message}", err=True)
    sys.exit(code)


def load(ctx: click.Context) -> Config:
    """The validated config of the file the command line named."""
    return load_config(ctx.obj["config_path"])


@contextmanager
def open_storage(config: Config) -> Iterator[Storage]:
    """The config's database, closed when the block ends."""
    from paperboy.jobs.storage import Storage

    storage = Storage.open(config.database)
    try:
        yield storage
    finally:
        storage.close()


def progress(message: str) -> None:
    """A progress line on a terminal; nothing when stderr is not one (cron, pipes)."""
    if sys.stderr.isatty():
        click.echo(click.style(for_terminal(message), dim=True), err=True)


def emit(fmt: str, rows: Sequence[dict[str, Any]], text: Callable[[], None]) -> None:
    """Print `rows` as JSON / JSON lines, or call `text` to print them for people.

    JSON keeps ``ensure_ascii=True`` on purpose: a title's ESC, CR or U+202E is printed as
    an escape (``\\u001b``, ``\\u202e``), never raw, even when a person reads the JSON."""
    if fmt == "json":
        click.echo(json.dumps(list(rows), indent=2, default=str))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, default=str))
    else:
        text()


def emit_one(fmt: str, row: dict[str, Any], text: Callable[[], None]) -> None:
    """Like :func:`emit` for a command whose answer is one object (`status`): `--format
    json` prints that object, `jsonl` one line."""
    if fmt == "json":
        click.echo(json.dumps(row, indent=2, default=str))
    elif fmt == "jsonl":
        click.echo(json.dumps(row, default=str))
    else:
        text()


def digest_row(d: Any) -> dict[str, Any]:
    """One digest run's result (a jobs.mailing.run.DigestResult) as an output row."""
    return {
        "user": d.user,
        "status": d.status,
        "considered": d.considered,
        "picked": len(d.picked),
        "receipt": d.receipt,
        "error": d.error,
        "resent": d.resent,
        "note": d.note,
        "channels": dict(d.channels),  # name -> sent | retry-later | failed | elsewhere
        "papers": [{"id": r.paper.id, "score": round(r.score, 4), "why": r.why} for r in d.picked],
    }


def when(value: object) -> str:
    """A moment for people: `2026-06-03 07:00 UTC`, or "never"."""
    return value.strftime("%Y-%m-%d %H:%M %Z") if isinstance(value, datetime) else "never"
