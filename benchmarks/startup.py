"""Start-up speed of every `paperboy` command that neither ranks nor renders (issues 12, 22).

Each command runs N times as a fresh process, `python -m paperboy.jobs.cli ...`, on a
starter config (`paperboy init` into a temporary folder; a first `profile import` creates
its SQLite database and stores two papers, so the measured commands open a real database,
current and not empty). Per command the table shows the best and the
median wall time of the whole process, and the median total import time measured in N
further runs under `-X importtime` (the sum of its top-level entries: every module the
command loaded, in the interpreter's own count; those runs are slower, so they are kept
apart from the wall times). The baseline, `python -c pass`, is measured in the same run:
the interpreter's own start-up, which no change to Paperboy can remove; and so is the
import of SQLAlchemy and its two dialects, the floor of every command that opens the
database.

Goal (issue 22): every such command under 0.3 s of wall time; the last column compares
the best of N (the issue's own measure) with it. "heavy" lists the modules of the
ranking, rendering and scheduling stack that the command loaded (it should be none of them).

The edits (`profile add/remove/like/dislike`) write config.toml in every run: each run
adds or removes a word or an id of its own, so no run is a no-op.

Usage::

    python benchmarks/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 0.3
CLI = ["-m", "paperboy.jobs.cli"]
# Modules a command that neither ranks nor renders should not need.
HEAVY = (
    "numpy",
    "scipy",
    "sklearn",
    "onnxruntime",
    "tokenizers",
    "alembic",
    "apscheduler",
    "jinja2",
    "httpx",
    "starlette",
)
# {i}: the run's number; {dir}: the benchmark's folder; {fresh}: a new empty folder.
COMMANDS: list[tuple[str, list[str]]] = [
    ("baseline: python -c pass", ["-c", "pass"]),
    # What a command that opens the database cannot go below: SQLAlchemy and its dialects.
    (
        "floor: import sqlalchemy",
        ["-c", "import sqlalchemy; from sqlalchemy.dialects import postgresql, sqlite"],
    ),
    ("paperboy --help", [*CLI, "--help"]),
    ("paperboy --version", [*CLI, "--version"]),
    ("paperboy profile --help", [*CLI, "profile", "--help"]),
    ("paperboy init DIR", [*CLI, "init", "{fresh}"]),
    ("paperboy status", [*CLI, "status"]),
    ("paperboy status --format json", [*CLI, "status", "--format", "json"]),
    ("paperboy profile list", [*CLI, "profile", "list"]),
    ("paperboy profile add --keyword", [*CLI, "profile", "add", "--keyword", "bench{i}"]),
    ("paperboy profile remove --keyword", [*CLI, "profile", "remove", "--keyword", "bench{i}"]),
    ("paperboy profile like ID", [*CLI, "profile", "like", "2401.{i:05d}"]),
    ("paperboy profile dislike ID", [*CLI, "profile", "dislike", "2401.{i:05d}"]),
    ("paperboy profile subscribe", [*CLI, "profile", "subscribe"]),
    ("paperboy profile import BIB", [*CLI, "profile", "import", "{dir}/library.bib"]),
]
LIBRARY = """\
@article{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  year = {2017},
}
@article{shannon1948,
  title = {A Mathematical Theory of Communication},
  author = {Shannon, Claude E.},
  abstract = {The fundamental problem of communication is that of reproducing at one point
    either exactly or approximately a message selected at another point.},
  year = {1948},
}
"""
_ENTRY = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)\s*$")


def import_seconds(stderr: str) -> tuple[float, set[str]]:
    """Total import time from `-X importtime` output (the sum of top-level entries), and
    the heavy top-level packages seen at any depth."""
    total_us = 0
    heavy: set[str] = set()
    for line in stderr.splitlines():
        match = _ENTRY.match(line)
        if match is None:
            continue  # the header line, or the command's own output
        cumulative, indent, name = match.groups()
        if len(indent) == 1:  # nesting depth 0
            total_us += int(cumulative)
        if name.split(".")[0] in HEAVY:
            heavy.add(name.split(".")[0])
    return total_us / 1e6, heavy


def _run(args: list[str], cwd: Path, run: int, flags: list[str]) -> tuple[float, str]:
    fresh = Path(tempfile.mkdtemp(prefix="init-", dir=cwd)) if "{fresh}" in args else cwd
    words = [a.format(i=run, dir=cwd, fresh=fresh) for a in args]
    env = {**os.environ, "PAPERBOY_CONFIG": str(cwd / "config.toml")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, *words],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or "Traceback" in done.stderr:
        raise SystemExit(f"{' '.join(words)} failed ({done.returncode}):\n{done.stderr}")
    return wall, done.stderr


def measure(
    args: list[str], cwd: Path, repeat: int, first_run: int
) -> tuple[float, float, float, list[str]]:
    """Best and median wall seconds, median import seconds, heavy modules loaded."""
    walls = [_run(args, cwd, first_run + n, [])[0] for n in range(repeat)]
    imports: list[float] = []
    heavy: set[str] = set()
    for n in range(repeat):
        _, stderr = _run(args, cwd, first_run + repeat + n, ["-X", "importtime"])
        seconds, seen = import_seconds(stderr)
        imports.append(seconds)
        heavy |= seen
    return min(walls), statistics.median(walls), statistics.median(imports), sorted(heavy)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7, help="Runs per command.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-startup-") as tmp:
        folder = Path(tmp)
        subprocess.run(
            [sys.executable, *CLI, "init", str(folder)],
            env=dict(os.environ),
            check=True,
            capture_output=True,
        )
        (folder / "library.bib").write_text(LIBRARY, encoding="utf-8")
        # One import first: it creates the database, which the measured runs then open,
        # and stores two papers, so `status` also counts the background's vectors.
        subprocess.run(
            [sys.executable, *CLI, "profile", "import", str(folder / "library.bib")],
            cwd=folder,
            env={**os.environ, "PAPERBOY_CONFIG": str(folder / "config.toml")},
            check=True,
            capture_output=True,
        )
        print(
            f"{options.repeat} runs each (wall) + {options.repeat} under -X importtime; "
            f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"| {'command':<34} | {'best s':>6} | {'median s':>8} | {'import s':>8} "
            f"| < {GOAL_S} s | heavy modules loaded |"
        )
        print(f"|{'-' * 36}|{'-' * 7}:|{'-' * 9}:|{'-' * 9}:|{'-' * 9}|{'-' * 22}|")
        failing = []
        for label, args in COMMANDS:
            best, median, imported, heavy = measure(args, folder, options.repeat, 1000)
            ok = "yes" if best < GOAL_S else "NO"
            if best >= GOAL_S:
                failing.append(label)
            print(
                f"| {label:<34} | {best:6.3f} | {median:8.3f} | {imported:8.3f} "
                f"| {ok:<7} | {', '.join(heavy) or '-'} |"
            )
        print(f"over {GOAL_S} s (best of {options.repeat}): {', '.join(failing) or 'none'}")


if __name__ == "__main__":
    main()
