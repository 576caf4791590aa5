"""Start-up speed of the commands people type first: `--help`, `status`, `profile list`.

Each command runs N times as a fresh process, `python -X importtime -m paperboy.jobs.cli ...`, on a
starter config (`paperboy init` into a temporary folder, so `status` opens a real SQLite
database). Per command the table shows the median wall time of the whole process and the
median total import time (the sum of the top-level entries of `-X importtime`: every
module the command loaded, in microseconds of the interpreter's own count). The baseline,
`python -c pass` with the same flags, is measured in the same run: the interpreter's own
start-up, which no change to Paperboy can remove.

Target (issue 12): under 0.5 s of import time for each of these commands.

Usage::

    python benchmarks/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: list[tuple[str, list[str]]] = [
    ("baseline: python -c pass", ["-c", "pass"]),
    ("paperboy --help", ["-m", "paperboy.jobs.cli", "--help"]),
    ("paperboy status", ["-m", "paperboy.jobs.cli", "status"]),
    ("paperboy profile list", ["-m", "paperboy.jobs.cli", "profile", "list"]),
]


def import_seconds(stderr: str) -> float:
    """Total import time from `-X importtime` output: the sum of top-level entries."""
    total_us = 0
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # nesting depth 0
            total_us += int(parts[1])
    return total_us / 1e6


def measure(args: list[str], cwd: Path, repeat: int) -> tuple[float, float, list[str]]:
    """Median wall seconds, median import seconds, and heavy modules seen (if any)."""
    walls: list[float] = []
    imports: list[float] = []
    heavy: set[str] = set()
    env = {**os.environ, "PAPERBOY_CONFIG": str(cwd / "config.toml")}
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.perf_counter() - started)
        imports.append(import_seconds(done.stderr))
        for module in ("sklearn", "scipy", "onnxruntime"):
            if f"| {module}\n" in done.stderr or f" {module}\n" in done.stderr:
                heavy.add(module)
    return statistics.median(walls), statistics.median(imports), sorted(heavy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7, help="Runs per command (median).")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-startup-") as tmp:
        folder = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "paperboy.jobs.cli", "init", str(folder)],
            env=dict(os.environ),
            check=True,
            capture_output=True,
        )
        # One status first: it creates the database, which the measured runs then open.
        subprocess.run(
            [sys.executable, "-m", "paperboy.jobs.cli", "status"],
            cwd=folder,
            env=dict(os.environ),
            check=False,
            capture_output=True,
        )
        print(
            f"{options.repeat} runs each, median; cores: {os.cpu_count()}, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print(f"{'command':<28} {'wall s':>8} {'import s':>9}  heavy modules loaded")
        for label, args in COMMANDS:
            wall, imported, heavy = measure(args, folder, options.repeat)
            print(f"{label:<28} {wall:8.3f} {imported:9.3f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
