"""Time per user of recommender.rank: this checkout against another revision, same run.

What a digest run spends per user in the ranker (issue #22: the fit was 142 of 195 ms a
digest), with the baseline measured beside it: ``--baseline TREE`` is a checkout of
another revision (``git worktree add --detach TREE REV``). Both rank the same simulated
users (benchmarks/speed.py's: 10-50 saved papers from a real list or one arXiv
category) against the last complete week's candidates and one 5,000-paper background,
with the stored index over every listing and the listings' vectors, one BLAS thread, in
fresh processes that alternate (baseline, ours, baseline, ours, ...) so that what else
the machine does falls on both. Printed: per-user milliseconds (the median of the
rounds), each side's peak RSS, and how far the two rankings agree (shared papers in the
top 10, mean over users), so that a change meant to keep the model shows it did.

Usage::

    git worktree add --detach /tmp/base 8a544cc
    python benchmarks/rank_speed.py --listings $D/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists $D/dev-lists.json --embeddings V.npz --index-cache I \\
        --baseline /tmp/base [--users 200] [--rounds 3] [--opt words_min_df=5] \\
        [--profile our.prof]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import pstats
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import cached_index, parse_options
from benchmarks.speed import simulated_users
from paperboy.jobs.ranking.evaluate import load_listings, load_lists
from paperboy.recommender.evaluation import iso_week

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter whose sys.path starts at the tree to time.
WORKER = r"""
import cProfile, json, os, pickle, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from threadpoolctl import threadpool_limits
from paperboy.jobs.ranking.corpus import read_index
from paperboy.recommender import Embeddings, Profile, rank
from benchmarks.speed import peak_rss_mb
with open(sys.argv[2], "rb") as f:
    task = pickle.load(f)
index, _ = read_index(task["index"])
with np.load(task["embeddings"]) as data:
    ids = [str(i) for i in data["ids"]]
    rows = [i for i, pid in enumerate(ids) if pid in task["needed"]]
    vectors = Embeddings.from_arrays([ids[i] for i in rows], data["emb"][rows])
options = json.loads(sys.argv[3])
cands, background = task["candidates"], task["background"]
tops, times = [], []
profile = os.environ.get("RANK_SPEED_PROFILE")
profiler = cProfile.Profile() if profile else None
with threadpool_limits(1, "blas"):
    rank(Profile(saved=task["users"][0]), cands, background, index=index,
         embeddings=vectors, explain=10, **options)  # warm: prepared background, memos
    if profiler is not None:
        profiler.enable()
    for saved in task["users"]:
        t0 = time.perf_counter()
        ranked = rank(Profile(saved=saved), cands, background, index=index,
                      embeddings=vectors, explain=10, **options)
        times.append(time.perf_counter() - t0)
        tops.append([r.paper.id for r in ranked[:10]])
if profiler is not None:
    profiler.disable()
    profiler.dump_stats(profile)
print(json.dumps({"ms": 1000 * sum(times) / len(times), "rss": peak_rss_mb(), "tops": tops}))
"""


def measure(
    tree: Path, task_file: Path, options: dict[str, Any], profile: Path | None = None
) -> dict[str, Any]:
    """One side's run in a fresh process: per-user ms, peak RSS, each user's top 10
    (``profile``: cProfile the users' rankings into that file)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    if profile is not None:
        env["RANK_SPEED_PROFILE"] = str(profile)
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(tree), str(task_file), json.dumps(options)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tree,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def overlap(a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]) -> float:
    """Mean share of the top 10 two rankings have in common."""
    return float(
        np.mean([len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b, strict=True)])
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--index-cache", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="another revision's tree")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opt", action="append", default=[], help="our rank() option k=v")
    parser.add_argument("--baseline-opt", action="append", default=[], help="its rank() options")
    parser.add_argument(
        "--profile", type=Path, help="then cProfile this checkout's run into FILE, print its top"
    )
    args = parser.parse_args(argv)

    papers = load_listings(args.listings)
    weeks = sorted({iso_week(p.announced) for p in papers if p.announced})
    week = weeks[-2]  # the last complete week, as benchmarks/speed.py
    cand_pos = [i for i, p in enumerate(papers) if p.announced and iso_week(p.announced) == week]
    before = min(cand_pos)
    rng = np.random.default_rng(args.seed)
    background = [papers[int(i)] for i in rng.choice(before, 5000, replace=False)]
    users = simulated_users(papers, load_lists(args.lists), before, args.users, args.seed)
    cached_index(papers, args.index_cache)
    saved = [tuple(papers[i] for i in u) for u in users]
    candidates = [papers[i] for i in cand_pos]
    needed = {p.id for p in (*candidates, *background)} | {p.id for s in saved for p in s}
    task = {
        "index": args.index_cache,
        "embeddings": args.embeddings,
        "needed": needed,
        "candidates": candidates,
        "background": background,
        "users": saved,
    }
    sides = {
        "baseline": (args.baseline.resolve(), parse_options(args.baseline_opt)),
        "this checkout": (ROOT, parse_options(args.opt)),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        task_file = Path(tmp) / "task.pickle"
        task_file.write_bytes(pickle.dumps(task))
        for r in range(args.rounds):
            for name, (tree, options) in sides.items():
                runs[name].append(measure(tree, task_file, options))
                print(f"round {r + 1} {name}: {runs[name][-1]['ms']:.1f} ms", file=sys.stderr)
    print(
        f"{len(papers)} papers; week {week[0]}-W{week[1]:02d}: {len(candidates)} candidates; "
        f"background 5000; {len(saved)} users (10-50 saved); one BLAS thread; "
        f"{args.rounds} alternating rounds, median shown; cores {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"{'':16}{'tree':40}{'options':28}{'ms/user':>9}{'peak RSS':>10}")
    for name, (tree, options) in sides.items():
        ms = statistics.median(run["ms"] for run in runs[name])
        rss = max(run["rss"] for run in runs[name])
        opts = ",".join(f"{k}={v}" for k, v in options.items()) or "defaults"
        print(f"{name:16}{str(tree)[-38:]:40}{opts:28}{ms:>9.1f}{rss:>8.0f}MB")
    base_ms = statistics.median(run["ms"] for run in runs["baseline"])
    ours_ms = statistics.median(run["ms"] for run in runs["this checkout"])
    agree = overlap(runs["baseline"][0]["tops"], runs["this checkout"][0]["tops"])
    print(f"speed-up {base_ms / ours_ms:.2f}x; top-10 papers in common {agree:.3f}")
    if args.profile is not None:
        with tempfile.TemporaryDirectory() as tmp:
            task_file = Path(tmp) / "task.pickle"
            task_file.write_bytes(pickle.dumps(task))
            measure(ROOT, task_file, sides["this checkout"][1], args.profile)
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("cumulative").print_stats(r"paperboy|scipy/optimize", 30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
