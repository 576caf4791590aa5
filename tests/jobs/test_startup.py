"""Start-up: the commands that neither rank nor render load no heavy module (issues 12, 22).

Speed itself is measured by benchmarks/startup.py; here, which modules a fresh process
has loaded after the command ran (no timing assertion).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a command that neither ranks nor renders must not load (issues 12 and 22): the
# ranker, the encoder and numpy, the mail templates, Alembic (the database is current),
# APScheduler (except where a schedule is asked about), the config editor's tomlkit (except
# in an edit), and on SQLite (the starter config's database) PostgreSQL's dialect.
HEAVY = (
    "sqlalchemy.dialects.postgresql",
    "sklearn",
    "scipy",
    "numpy",
    "onnxruntime",
    "tokenizers",
    "jinja2",
    "alembic",
    "apscheduler",
    "bibtexparser",
    "tomlkit",
    "httpx",
)

PROBE = """
import json, sys
HEAVY = set(json.loads(sys.argv[2]))
from click.testing import CliRunner
from paperboy.jobs.cli import cli
args = json.loads(sys.argv[1])
if args is not None:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
loaded = {h for h in HEAVY for m in sys.modules if m == h or m.startswith(h + ".")}
print(json.dumps(sorted(loaded)))
"""

LIBRARY = """@article{v,
  title = {Attention Is All You Need},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  abstract = {A new network architecture based solely on attention.},
}
@article{s,
  title = {A Mathematical Theory of Communication},
  abstract = {Reproducing at one point a message selected at another point.},
}
"""


def _paperboy(folder: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "paperboy.jobs.cli", *args],
        cwd=folder,
        env={**os.environ, "PAPERBOY_CONFIG": str(folder / "config.toml")},
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A starter config whose database exists, is current and holds two papers (so
    `status` counts the background's vectors too)."""
    folder = tmp_path_factory.mktemp("startup")
    _paperboy(folder, "init", str(folder))
    (folder / "library.bib").write_text(LIBRARY, encoding="utf-8")
    _paperboy(folder, "profile", "import", str(folder / "library.bib"))
    return folder


def _loaded(args: list[str] | None, cwd: Path) -> list[str]:
    env = {**os.environ, "PAPERBOY_CONFIG": str(cwd / "config.toml")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (None, []),
        (["--help"], []),
        (["--version"], []),
        (["profile", "--help"], []),
        # status says when the next fetch and digests are due: APScheduler's cron triggers
        (["status"], ["apscheduler"]),
        (["status", "--format", "json"], ["apscheduler"]),
        (["profile", "list"], []),
        (["profile", "add", "--keyword", "startup"], ["tomlkit"]),
        (["profile", "dislike", "2401.00001"], ["tomlkit"]),
        (["profile", "subscribe"], []),
        (["init", "new"], []),
    ],
)
def test_commands_that_neither_rank_nor_render_load_no_heavy_module(
    folder: Path, args: list[str] | None, allowed: list[str]
) -> None:
    assert _loaded(args, folder) == allowed


def test_the_heavy_modules_are_seen_where_they_are_loaded(folder: Path) -> None:
    """The probe is not blind: `profile import` loads bibtexparser (and, to edit, tomlkit)."""
    loaded = _loaded(["profile", "import", str(folder / "library.bib")], folder)
    assert loaded == ["bibtexparser", "tomlkit"]


def test_commands_load_lazily_and_all_are_listed() -> None:
    """Every name in jobs.cli.COMMANDS resolves to its command, loading all the modules
    registers no command that is not named there, and a fresh process that runs one
    command has imported none of the others' modules."""
    import click

    from paperboy.jobs.cli import COMMANDS, cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
    probe = (
        "import sys; from paperboy.jobs.cli import cli; import click; "
        "cli.get_command(click.Context(cli), 'status'); "
        "print(sorted(m for m in sys.modules if m.startswith('paperboy.jobs.cli.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == str(
        ["paperboy.jobs.cli.common", "paperboy.jobs.cli.root", "paperboy.jobs.cli.status"]
    )


LAZY_PROBE = """
import json, sys
from paperboy import recommender
def heavy():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy"))
before = heavy()
rank, Index = recommender.rank, recommender.Index  # the lazy __getattr__
after = heavy()
from paperboy.recommender import index, ranker
print(json.dumps({
    "before": before,
    "rank": rank is ranker.rank,
    "index": Index is index.Index,
    "after": after != [],
}))
"""


def test_the_ranker_is_still_there_when_asked_for() -> None:
    """In a fresh process: importing `paperboy.recommender` loads no heavy module, and
    asking for `rank` and `Index` gives the real ones (not stand-ins), which load them."""
    done = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "before": [],
        "rank": True,
        "index": True,
        "after": True,
    }
    from paperboy import recommender

    with pytest.raises(AttributeError, match="no attribute 'rnak'"):
        recommender.rnak  # noqa: B018 - a typo is an AttributeError, not a None


def test_opening_a_current_database_needs_no_alembic(tmp_path: Path) -> None:
    """A database already at the migrations' head opens without importing Alembic (a fifth
    of a second of `paperboy status`); a new one is still migrated by it."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    probe = (
        "import sys; from paperboy.jobs.storage import Storage; "
        f"Storage.open({url!r}).close(); print('alembic' in sys.modules)"
    )
    env = dict(os.environ)

    def opened() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert opened() == "True"  # created: Alembic ran the migrations
    assert opened() == "False"  # current: not imported
