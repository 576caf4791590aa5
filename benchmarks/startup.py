"""Start-up speed of every `paperboy` command that neither ranks nor renders (issues 12, 22).

Each command runs as a fresh process, `python -c "from paperboy.jobs.entry import main;
main()" ...` (what the `paperboy` console script runs), once unmeasured
(it compiles what only that command imports), then N times, on a starter config (`paperboy
init` into a temporary folder; a first `profile import` creates its SQLite database and
stores two papers, so the measured commands open a real database, current and not empty).
Bytecode is cached (in the run's temporary folder), as for an installed package, even
where PYTHONDONTWRITEBYTECODE is set. Per command the table shows the best and the median
wall time of the whole process, and the median total import time measured in N further
runs under `-X importtime` (the sum of its top-level entries: every module the command
loaded, in the interpreter's own count; those runs are slower, so they are kept apart from
the wall times). The baseline, `python -c pass`, is measured in the same run: the
interpreter's own start-up, which no change to Paperboy can remove; and so is the import
of SQLAlchemy and its two dialects, the floor of every command that opens the database.

Goal (issue 22): every such command under 0.3 s of wall time; the last column compares
the best of N (the issue's own measure) with it. "heavy" lists the modules of the
ranking, rendering and scheduling stack that the command loaded (it should be none of them).

The edits (`profile add/remove/like/dislike`) write config.toml in every run: each run
adds or removes a word or an id of its own, so no run is a no-op.

Usage::

    python benchmarks/startup.py [--repeat 7] [--before DIR]

With ``--before DIR`` (another checkout, e.g. ``git archive REV | tar -x -C DIR``) the same
run measures that code too, its runs taking turns with this checkout's, so that the
machine's load (shared, and changing) weighs on both alike.
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
from dataclasses import dataclass, field
from pathlib import Path

GOAL_S = 0.3
# What the `paperboy` console script runs (pyproject's [project.scripts]: jobs.entry:main),
# in a fresh interpreter of the tree measured.
CLI = ["-c", "from paperboy.jobs.entry import main; main()"]
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


@dataclass
class Checkout:
    """Paperboy's code to measure: this one (`path` None), or another checkout of it,
    run with its root first on PYTHONPATH (`paperboy` then imports from there)."""

    name: str
    path: Path | None
    folder: Path  # its own config and database
    pycache: Path  # the bytecode cache of every measured process

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PAPERBOY_CONFIG": str(self.folder / "config.toml")}
        # Compiled once, as an installed package is: without a bytecode cache (this
        # machine sets PYTHONDONTWRITEBYTECODE) every run would compile Paperboy's own
        # modules again. The cache lives in the run's temporary folder, not the checkout.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        if self.path is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(self.path), *filter(None, [os.environ.get("PYTHONPATH")])]
            )
        return env

    def prepare(self) -> None:
        """A starter config; one `profile import` creates the database (which the measured
        runs then open) and stores two papers, so `status` also counts the background's
        vectors."""
        self.folder.mkdir()
        for args in (
            ["init", str(self.folder)],
            ["profile", "import", str(self.folder / "library.bib")],
        ):
            if args[0] == "profile":
                (self.folder / "library.bib").write_text(LIBRARY, encoding="utf-8")
            subprocess.run(
                [sys.executable, *CLI, *args],
                cwd=self.folder,
                env=self.env(),
                check=True,
                capture_output=True,
            )


@dataclass
class Timings:
    walls: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    heavy: set[str] = field(default_factory=set)

    def cells(self) -> str:
        best = min(self.walls)
        ok = "yes" if best < GOAL_S else "NO"
        return (
            f"{best:6.3f} | {statistics.median(self.walls):8.3f} | "
            f"{statistics.median(self.imports):8.3f} | {ok:<7} | "
            f"{', '.join(sorted(self.heavy)) or '-'}"
        )


def _run(args: list[str], checkout: Checkout, run: int, flags: list[str]) -> tuple[float, str]:
    cwd = checkout.folder
    fresh = Path(tempfile.mkdtemp(prefix="init-", dir=cwd)) if "{fresh}" in args else cwd
    words = [a.format(i=run, dir=cwd, fresh=fresh) for a in args]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, *words],
        cwd=cwd,
        env=checkout.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or "Traceback" in done.stderr:
        raise SystemExit(f"{' '.join(words)} failed ({done.returncode}):\n{done.stderr}")
    return wall, done.stderr


def measure(args: list[str], checkouts: list[Checkout], repeat: int) -> list[Timings]:
    """Wall times, import times and heavy modules of one command in each checkout; the
    checkouts take turns run by run, so a change in the machine's load hits them alike."""
    timings = [Timings() for _ in checkouts]
    for checkout in checkouts:  # unmeasured: compiles what only this command imports
        _run(args, checkout, 999, [])
    for n in range(repeat):
        for checkout, timing in zip(checkouts, timings, strict=True):
            timing.walls.append(_run(args, checkout, 1000 + n, [])[0])
    for n in range(repeat):
        for checkout, timing in zip(checkouts, timings, strict=True):
            _, stderr = _run(args, checkout, 1000 + repeat + n, ["-X", "importtime"])
            seconds, seen = import_seconds(stderr)
            timing.imports.append(seconds)
            timing.heavy |= seen
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7, help="Runs per command.")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="Another checkout of Paperboy (e.g. `git archive REV | tar -x -C DIR`) to "
        "measure in the same run, its runs interleaved with this one's.",
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-startup-") as tmp:
        cache = Path(tmp) / "pycache"
        checkouts = [Checkout("now", None, Path(tmp) / "now", cache)]
        if options.before is not None:
            checkouts.append(
                Checkout("before", options.before.resolve(), Path(tmp) / "before", cache)
            )
        for checkout in checkouts:
            checkout.prepare()
        print(
            f"{options.repeat} runs each (wall) + {options.repeat} under -X importtime; "
            f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}"
            + (f"; before: {options.before}" if options.before else "")
        )
        columns = ["best s", "median s", "import s", f"< {GOAL_S} s", "heavy modules loaded"]
        named = len(checkouts) > 1  # "now: best s", "before: best s", ...
        heads = [f"{c.name}: {col}" if named else col for c in checkouts for col in columns]
        rules = ["---:", "---:", "---:", "---", "---"] * len(checkouts)
        print(f"| {'command':<34} | " + " | ".join(heads) + " |")
        print(f"|{'-' * 36}|" + "|".join(rules) + "|")
        failing = []
        for label, args in COMMANDS:
            timings = measure(args, checkouts, options.repeat)
            if min(timings[0].walls) >= GOAL_S and not label.startswith(("baseline", "floor")):
                failing.append(label)
            print(f"| {label:<34} | " + " | ".join(t.cells() for t in timings) + " |")
        print(f"over {GOAL_S} s (best of {options.repeat}): {', '.join(failing) or 'none'}")


if __name__ == "__main__":
    main()
