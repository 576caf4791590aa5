"""Encoding throughput of the shipped encoder: threads in one process vs processes.

    python benchmarks/encoder.py ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz [-n 2000]

Encodes the first N listings (title + ". " + abstract, 256 tokens) with the bundled
int8 ONNX model in each layout and prints papers/s (wall clock, model loading excluded),
papers per CPU-second and the peak RSS of each encoding process:

- 1 process x 1 thread  (the baseline)
- 1 process x 2 threads
- 2 processes x 1 thread (each encodes half)

Every layout runs in fresh processes (so peak RSS is that layout's own) on the same texts.
Other work on the machine moves the wall-clock figures: the load average is printed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LAYOUTS = ((1, 1), (1, 2), (2, 1))  # (processes, threads per process)


def read_texts(path: Path, n: int) -> list[str]:
    """The first ``n`` listings' encoder texts."""
    from paperboy.recommender.encoder import encoder_text

    texts: list[str] = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(texts) >= n:
                break
            d = json.loads(line)
            texts.append(encoder_text(d.get("title", ""), d.get("abstract", "")))
    return texts


def worker(path: Path, n: int, threads: int, shard: int, shards: int) -> None:
    """Encode this shard's texts and print one JSON line: start, end, CPU seconds, peak RSS."""
    from paperboy.recommender.encoder import Encoder

    texts = read_texts(path, n)[shard::shards]
    encoder = Encoder(threads=threads)
    encoder.encode(texts[:4])  # warm-up: first-run allocations are not throughput
    cpu = time.process_time()
    start = time.time()
    encoder.encode(texts)
    end = time.time()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "n": len(texts),
        "start": start,
        "end": end,
        "cpu": time.process_time() - cpu,
        "rss_mb": peak_kb / 1024,
    }
    print(json.dumps(result))


def run_layout(path: Path, n: int, processes: int, threads: int) -> dict[str, float]:
    """Run one layout in fresh processes; papers/s over the span from first start to last end."""
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                str(path),
                "-n",
                str(n),
                "--worker",
                f"{threads},{shard},{processes}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for shard in range(processes)
    ]
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"worker failed with status {child.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    papers = sum(r["n"] for r in results)
    return {
        "papers_s": papers / span,
        "cpu_s": papers / sum(r["cpu"] for r in results),
        "rss_mb": max(r["rss_mb"] for r in results),
        "rss_total_mb": sum(r["rss_mb"] for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one row per layout, the baseline (1 x 1) first."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("listings", type=Path)
    parser.add_argument("-n", type=int, default=2000, help="listings to encode")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        threads, shard, shards = (int(x) for x in args.worker.split(","))
        worker(args.listings, args.n, threads, shard, shards)
        return 0

    from paperboy.recommender.encoder import MODEL_ID

    print(
        f"encoder {MODEL_ID}, {args.n} listings, {os.cpu_count()} cores, "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'layout':<24} {'papers/s':>9} {'x base':>7} {'papers/CPU-s':>13} "
        f"{'peak RSS/proc':>14} {'RSS total':>10}"
    )
    base = None
    for processes, threads in LAYOUTS:
        r = run_layout(args.listings, args.n, processes, threads)
        base = base or r["papers_s"]
        name = f"{processes} process x {threads} thread" + ("s" if threads > 1 else "")
        print(
            f"{name:<24} {r['papers_s']:>9.1f} {r['papers_s'] / base:>6.2f}x {r['cpu_s']:>13.1f} "
            f"{r['rss_mb']:>11.0f} MB {r['rss_total_mb']:>7.0f} MB",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
