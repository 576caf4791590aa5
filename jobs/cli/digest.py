"""`paperboy digest`: build, send and record the digests that are due (or a dry run)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperboy.jobs.cli.common import FORMATS, fail, say
from paperboy.jobs.cli.common import emit as _emit
from paperboy.jobs.cli.common import load as _config
from paperboy.jobs.cli.common import open_storage as _storage
from paperboy.jobs.core.progress import progress
from paperboy.text import short_title

if TYPE_CHECKING:
    from paperboy.jobs.storage import Storage
from paperboy.jobs.cli.common import digest_row, when
from paperboy.jobs.cli.root import cli

# --- digest ------------------------------------------------------------------------------


@cli.command()
@click.option("--user", "users", multiple=True, metavar="NAME", help="Only this user (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the digest's HTML to this file, for a browser.",
)
@click.option("--force", is_flag=True, help="Build digests even if not due by their schedule.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def digest(
    ctx: click.Context,
    users: tuple[str, ...],
    dry_run: bool,
    preview: Path | None,
    force: bool,
    fmt: str,
) -> None:
    """Build and send the digests that are due now.

    A paper is mailed to a user at most once: running this twice sends nothing new the
    second time. Digests whose sending failed temporarily are retried first.

    \b
    Examples:
      paperboy digest
      paperboy digest --user ada --dry-run --preview /tmp/ada.html
    """
    from paperboy.jobs.mailing.run import run_digests

    config = _config(ctx)
    before = _stamp(preview)
    if preview is not None:
        _check_writable(preview, "--preview")
    with _storage(config) as storage:
        many = len(users or config.users) > 1  # a bar for one user is noise
        with progress("Digests", "users", tty=None if many else False) as advance:
            results = run_digests(
                config,
                storage,
                users=list(users),
                force=force,
                dry_run=dry_run,
                preview=preview,
                progress=advance,
            )
        retries = {d.user: _next_retry(storage, d.user) for d in results}
    wrote_preview = preview is not None and _stamp(preview) not in (None, before)
    rows = [{**digest_row(d), "next_retry": retries[d.user]} for d in results]

    def retry_text(user: str) -> str:
        at = retries[user]
        if at is None:
            return ""
        minutes = max(0, round((at - datetime.now(UTC)).total_seconds() / 60))
        return (
            f"the digest stays pending and is retried at {when(at)} (in {minutes} min), "
            "by the daemon or by `paperboy digest` from then on"
        )

    def text() -> None:
        for d in results:
            line = {
                "sent": f"sent {len(d.picked)} papers (from {d.considered}) -> {d.receipt}",
                "dry-run": f"would send {len(d.picked)} papers (from {d.considered}) to "
                + ", ".join(
                    (*config.user(d.user).email, *(c.name for c in config.user(d.user).notify))
                ),
                "empty": f"nothing worth sending ({d.considered} considered)",
                "not-due": "not due yet"
                + (f"; a pending digest: {retry_text(d.user)}" if retries[d.user] else ""),
                "unsubscribed": "unsubscribed (`paperboy profile subscribe` re-enables)",
                "paused": "paused (`paperboy profile subscribe` resumes now)",
                "elsewhere": "being built or sent by another runner",
                "retry-later": f"sending failed ({d.error}); {retry_text(d.user)}",
                "failed": f"FAILED: {d.error}",
            }.get(d.status, d.status)
            say(f"{d.user}: {line}" + (f" (re-sent {d.resent} pending)" if d.resent else ""))
            if d.note:
                say(f"  {d.note}")
            if d.channels:
                say("  channels: " + ", ".join(f"{name} {status}" for name, status in d.channels))
            if d.status == "dry-run":
                for i, r in enumerate(d.picked, start=1):
                    say(f"  {i}. [{r.score:.0%}] {short_title(r.paper.title, 90)}")
        if wrote_preview:
            say(f"Preview: {preview}")
        elif preview is not None:
            say(f"No preview written to {preview}: no digest was built.")

    _emit(fmt, rows, text)
    if any(d.status in ("failed", "retry-later") for d in results):
        sys.exit(1)


def _next_retry(storage: Storage, user: str) -> datetime | None:
    """When this user's earliest pending delivery is retried (None: nothing pending)."""
    from paperboy.jobs.mailing.send import retry_delay

    times = [
        d.last_attempt_at + retry_delay(d.attempts)
        if d.attempts and d.last_attempt_at is not None
        else d.created_at
        for d in storage.deliveries(user_name=user, status="pending")
    ]
    return min(times) if times else None


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """(modification time, size) of `path`, None when it does not exist: tells whether a
    command wrote it."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st is not None else None


def _check_writable(path: Path, option: str) -> None:
    """Exit 1 before any work when `path` cannot be written (its folder is made if needed);
    an existing file is left as it is."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as e:
        fail(f"{option} {path}: cannot write it: {e.strerror or e}", 1)
    if not existed:
        path.unlink(missing_ok=True)
