"""Speed and memory: a morning's digest run for 1,000 users over the 75k listings.

Setup (docs: quality-benchmark.md, issue #7): the index over every listed paper is built
once (as the fetch job will after each fetch); the candidates are one week's listing; each
of ``--users`` simulated users has 10-50 saved papers drawn from one real list of
``--lists`` or from one arXiv category, all announced before that week; the background is
``--background`` earlier papers drawn once for the run (jobs/digest.py samples 2,000).

Beside it, arxiv-sanity-lite's recipe on the same data in the same process: its TF-IDF
(compute.py) over all papers, then per user a LinearSVC (serve.py: C=0.01, balanced)
trained saved vs. every paper and applied to the week's candidates. It is timed on
``--sanity-users`` users and reported per user.

Wall-clock figures depend on what else runs on the machine; the table says how many
cores there are and the load average at the start and the end.

Usage::

    python benchmarks/speed.py \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists ../shared/data/dev-lists.json [--users 1000] [--sanity-users 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import cached_index, parse_options
from jobs.evaluate import load_listings, load_lists
from recommender import Paper, Profile, rank
from recommender.baselines import ArxivSanity
from recommender.evaluation import iso_week


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulated_users(
    papers: Sequence[Paper], lists: dict[str, list[str]], before: int, n: int, seed: int
) -> list[tuple[int, ...]]:
    """``n`` libraries of 10-50 papers (positions < ``before``), half from real lists,
    half from one primary arXiv category each."""
    rng = np.random.default_rng(seed)
    position = {p.id: i for i, p in enumerate(papers[:before])}
    pools = [[position[i] for i in ids if i in position] for ids in lists.values()]
    pools = [p for p in pools if len(p) >= 10]
    by_category: dict[str, list[int]] = {}
    for i, p in enumerate(papers[:before]):
        if p.categories:
            by_category.setdefault(p.categories[0], []).append(i)
    categories = [c for c, members in by_category.items() if len(members) >= 50]
    users: list[tuple[int, ...]] = []
    for u in range(n):
        if u % 2 == 0 and pools:
            pool = pools[int(rng.integers(len(pools)))]
        else:
            pool = by_category[categories[int(rng.integers(len(categories)))]]
        k = int(rng.integers(10, 51))
        users.append(tuple(int(i) for i in rng.choice(pool, min(k, len(pool)), replace=False)))
    return users


def main(argv: Sequence[str] | None = None) -> int:
    """Time the index build, 1,000 users' rankings and the arxiv-sanity recipe."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sanity-users", type=int, default=20)
    parser.add_argument("--background", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--opt", action="append", default=[], help="rank() option key=value")
    args = parser.parse_args(argv)
    options = parse_options(args.opt)
    load_start = os.getloadavg()[0]

    papers = load_listings(args.listings)
    weeks = sorted({iso_week(p.announced) for p in papers if p.announced})
    week = weeks[-2]  # the last complete week
    cand_pos = [i for i, p in enumerate(papers) if p.announced and iso_week(p.announced) == week]
    before = min(cand_pos)
    candidates = [papers[i] for i in cand_pos]
    rng = np.random.default_rng(args.seed)
    background = [papers[int(i)] for i in rng.choice(before, args.background, replace=False)]
    users = simulated_users(papers, load_lists(args.lists), before, args.users, args.seed)

    t0 = time.perf_counter()
    index = cached_index(papers, args.index_cache)
    index_s = time.perf_counter() - t0
    rss_index = peak_rss_mb()

    t0 = time.perf_counter()
    shown = 0
    for saved in users:
        ranked = rank(
            Profile(saved=tuple(papers[i] for i in saved)),
            candidates,
            background,
            index=index,
            **options,
        )
        shown += len(ranked)
    ours_s = time.perf_counter() - t0
    rss_ours = peak_rss_mb()

    t0 = time.perf_counter()
    sanity = ArxivSanity(papers)
    sanity_build_s = time.perf_counter() - t0
    X = sanity.matrix
    X_cand = X[cand_pos]
    t0 = time.perf_counter()
    for saved in users[: args.sanity_users]:
        y = np.zeros(X.shape[0], dtype=np.int64)
        y[list(saved)] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
        clf.fit(sp.csr_matrix(X), y)
        clf.decision_function(X_cand)
    sanity_s = time.perf_counter() - t0
    n_sanity = max(1, min(args.sanity_users, len(users)))

    ours_per = ours_s / len(users)
    sanity_per = sanity_s / n_sanity
    print(
        f"{len(papers)} papers; week {week[0]}-W{week[1]:02d}: {len(candidates)} candidates; "
        f"background {len(background)}; {len(users)} users (10-50 saved)"
    )
    print(
        f"cores {os.cpu_count()}; load average {load_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end (other work on the machine inflates times)\n"
    )
    print(f"{'':34}{'paperboy':>14}{'arxiv-sanity':>14}")
    print(f"{'features for the corpus (once)':34}{index_s:>13.1f}s{sanity_build_s:>13.1f}s")
    print(f"{'users timed':34}{len(users):>14}{n_sanity:>14}")
    print(f"{'per user':34}{ours_per * 1000:>12.1f}ms{sanity_per * 1000:>12.1f}ms")
    print(
        f"{'all users (sanity: extrapolated)':34}{ours_s:>13.1f}s{sanity_per * len(users):>13.1f}s"
    )
    print(f"{'peak RSS after the users':34}{rss_ours:>12.0f}MB{peak_rss_mb():>12.0f}MB")
    print(
        f"\nper-user speed-up: {sanity_per / ours_per:.0f}x; "
        f"peak RSS after the index {rss_index:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
