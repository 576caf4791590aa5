"""`paperboy init` and `paperboy demo`: a config to start from, and a demo on bundled data."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperboy.jobs.cli.common import FORMATS, digest_row, fail, say
from paperboy.jobs.cli.common import emit as _emit
from paperboy.jobs.cli.common import progress as _progress
from paperboy.jobs.cli.root import cli
from paperboy.text import short_title, shorten

# --- init --------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml.")
@click.option(
    "--users-dir",
    "users_dir",
    is_flag=True,
    help="One file per user: the sample user goes into users.d/ada.toml.",
)
def init(directory: Path, force: bool, users_dir: bool) -> None:
    """Write a commented starter config.toml into DIRECTORY.

    \b
    Example:
      paperboy init ~/paperboy && $EDITOR ~/paperboy/config.toml
      paperboy init --users-dir ~/paperboy && $EDITOR ~/paperboy/users.d/ada.toml
    """
    from paperboy.jobs.config.starter import starter_config, starter_users_dir

    target = directory / "config.toml"
    user_file = directory / "users.d" / "ada.toml"
    for path in (target, *([user_file] if users_dir else [])):
        if path.exists() and not force:
            fail(f"{path} already exists (use --force to overwrite it)", 1)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if users_dir:
            config_text, user_text = starter_users_dir()
            user_file.parent.mkdir(exist_ok=True)
            user_file.write_text(user_text, encoding="utf-8")
            target.write_text(config_text, encoding="utf-8")
        else:
            target.write_text(starter_config(), encoding="utf-8")
    except OSError as e:
        fail(f"cannot write {e.filename or target}: {e.strerror or e}", 1)
    if users_dir:
        say(
            f"Wrote {target} and {user_file}. Edit them (one file per user in "
            f"{user_file.parent}), then run: paperboy --config {target} fetch && "
            f"paperboy --config {target} digest"
        )
        return
    say(
        f"Wrote {target}. Edit the [[users]] section, then run: paperboy --config "
        f"{target} fetch && paperboy --config {target} digest"
    )
    _write_web_key(target)


def _write_web_key(config_file: Path) -> None:
    """The key that signs the feedback links ([web] secret_file, default web.key beside
    config.toml), mode 0600; an existing key is kept (links already mailed stay valid)."""
    from paperboy.jobs.config.load import load_config
    from paperboy.jobs.web.links import write_key_file

    key = load_config(config_file, check_schedules=False).web.secret_file
    if write_key_file(key):
        say(f"Wrote {key} (the key that signs the links in digests; keep it private).")


# --- demo --------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--dir",
    "directory",
    default="paperboy-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo's config, database and outbox go.",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def demo(directory: Path, fmt: str) -> None:
    """Run the whole pipeline offline on the bundled sample listing.

    Fetches four days of real arXiv listings (bundled) into a fresh SQLite database, ranks
    them for the sample user of config.toml, renders the digest and writes it to the outbox
    as an .eml file plus an .html preview.

    \b
    Example:
      paperboy demo && xdg-open paperboy-demo/outbox/*.html
    """
    from paperboy.jobs.runners.demo import run_demo

    _progress(f"Running the demo in {directory}/ …")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.toml").touch()
    except OSError as e:
        fail(f"cannot write the demo into {directory}/: {e.strerror or e}", 1)
    result = run_demo(directory)
    fetched = sum(r.received for r in result.fetched)
    kept = sum(r.kept for r in result.fetched)
    skipped: dict[str, int] = {}
    for r in result.fetched:
        for kind, n in r.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + n
    rows = [
        {
            "directory": str(result.directory),
            "days": len(result.fetched),
            "fetched": fetched,
            "kept": kept,
            "skipped": skipped,
            "saved": result.saved,
            "trending": result.trending.received if result.trending else 0,
            "eml": str(result.eml) if result.eml else None,
            "html": str(result.html) if result.html else None,
            "digests": [digest_row(d) for d in result.digests],
        }
    ]

    def text() -> None:
        skipped_text = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())) or "none"
        say(
            f"Fetched {fetched} announcements from {len(result.fetched)} bundled arXiv days; "
            f"kept {kept} (skipped: {skipped_text})."
        )
        if result.trending is not None:
            say(
                f"Trending on Hugging Face: {result.trending.received} papers of a bundled "
                "real Hugging Face day (2026-06-12), filed as today's."
            )
        for d in result.digests:
            say(
                f"Digest for {d.user}: {len(d.picked)} papers picked from {d.considered} "
                f"considered ({d.status})."
            )
            if d.note:
                say(f"  {d.note}")
            for i, r in enumerate(d.picked[:5], start=1):
                say(f"  {i}. [{r.score:.0%}] {short_title(r.paper.title, 90)}")
                say(f"      {shorten(r.why, 96)}")
            if len(d.picked) > 5:
                say(f"  … and {len(d.picked) - 5} more")
        if result.eml:
            say(
                f"\nThe digest is in the outbox:\n  {result.eml}\n  {result.html}  "
                "(open in a browser)"
            )
            if result.config.web.base_url:
                say(
                    f"Its buttons (More like this, Less like this, …) go to "
                    f"{result.config.web.base_url}: start it with\n  paperboy --config "
                    f"{result.directory / 'config.toml'} serve"
                )
        else:
            say("\nNo digest was written (nothing picked).")

    _emit(fmt, rows, text)
    if not result.eml:
        sys.exit(1)
