"""`paperboy demo` with the sample's bundled vectors, and without them (the baseline,
the same run): wall time of a fresh process each, best and median of N.

The baseline hides the bundled file (the demo module's VECTORS_FILE pointed at a name
that does not exist), so the demo encodes the sample's 522 papers itself, as it did
before the vectors were bundled. Both run the same code otherwise, alternating, so that
the machine's load weighs on both alike.

Usage::

    python benchmarks/demo_time.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

RUN = (
    "import sys; from pathlib import Path; from paperboy.jobs.runners import demo\n"
    "if sys.argv[2] == 'without': demo.VECTORS_FILE = 'absent.npz'\n"
    "[d] = demo.run_demo(Path(sys.argv[1])).digests\n"
    "assert d.status == 'sent', d\n"
)


def once(kind: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", RUN, folder, kind], check=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"with": [], "without": []}
    load = os.getloadavg()[0]
    for _ in range(args.repeat):
        for kind in times:
            times[kind].append(once(kind))
    print(
        f"cores: {os.cpu_count()}, load average at start {load:.1f}, "
        f"at end {os.getloadavg()[0]:.1f}; {args.repeat} runs each, alternating\n"
    )
    print("| paperboy demo | best s | median s |")
    print("|---|---|---|")
    for kind, label in (("without", "encoding the sample (baseline)"), ("with", "bundled vectors")):
        print(f"| {label} | {min(times[kind]):.2f} | {statistics.median(times[kind]):.2f} |")


if __name__ == "__main__":
    main()
