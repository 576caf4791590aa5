"""Start-up: the commands people type first load no heavy module (issue 12).

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
HEAVY = ("sklearn", "scipy", "onnxruntime")

PROBE = """
import json, sys
HEAVY = ("sklearn", "scipy", "onnxruntime")
from click.testing import CliRunner
from paperboy.jobs.cli import cli
args = json.loads(sys.argv[1])
if args is not None:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)))
"""


def _loaded(args: list[str] | None, cwd: Path) -> list[str]:
    env = {**os.environ, "PAPERBOY_CONFIG": str(cwd / "config.toml")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
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
    "args", [None, ["--help"], ["status"], ["status", "--format", "json"], ["profile", "list"]]
)
def test_first_commands_load_no_heavy_module(tmp_path: Path, args: list[str] | None) -> None:
    subprocess.run(
        [sys.executable, "-m", "paperboy.jobs.cli", "init", str(tmp_path)],
        env=dict(os.environ),
        check=True,
        capture_output=True,
    )
    assert _loaded(args, tmp_path) == []


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
