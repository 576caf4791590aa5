"""Speed and memory: a morning's digest run for 1,000 users over the 75k listings.

Setup (docs: quality-benchmark.md, issue #7): the index over every listed paper is built
once (as the fetch job will after each fetch); the candidates are one week's listing; each
of ``--users`` simulated users has 10-50 saved papers drawn from one real list of
``--lists`` or from one arXiv category, all announced before that week; the background is
``--background`` earlier papers drawn once for the run (jobs/ranking/corpus.py samples 5,000).
With ``--index-cache`` the index is written and read exactly as the fetch and digest
jobs do (jobs.ranking.corpus), so the first line of the table is then the load time.

The users are ranked as a digest run ranks them (jobs.ranking.pool.rank_many): first
``--single-users`` of them in this one process (the per-user cost), then all of them
over ``--workers`` processes forked after the index is loaded (the morning's wall time).
Memory: the parent's peak RSS, and the peak PSS of parent + workers sampled during the
run (pages the workers share with the parent counted once).

Beside it, arxiv-sanity-lite's recipe on the same data in the same process: its TF-IDF
(compute.py) over all papers, then per user a LinearSVC (serve.py: C=0.01, balanced)
trained saved vs. every paper and applied to the week's candidates. It is timed on
``--sanity-users`` users and reported per user.

Wall-clock figures depend on what else runs on the machine; the table says how many
cores there are and the load average at the start and the end.

Usage::

    python benchmarks/speed.py \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists ../shared/data/dev-lists.json [--users 1000] [--sanity-users 20] \\
        [--index-cache /tmp/paperboy.index] [--workers 2] [--explain 10]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import cached_index
from paperboy import recommender
from paperboy.jobs.ranking.corpus import read_index, read_info
from paperboy.jobs.ranking.evaluate import load_listings, load_lists
from paperboy.jobs.ranking.pool import RankJob, default_workers, rank_many
from paperboy.recommender import Embeddings, Paper, Profile
from paperboy.recommender.baselines import ArxivSanity
from paperboy.recommender.evaluation import iso_week

# recommender.rank's options that give the ranker of before issue #21.
TODAY_OPTIONS: dict[str, Any] = {
    "meaning_C": 1.0,
    "meaning_share": 0.5,
    "half_life_days": None,
    "interest_share": 0.0,
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    VmHWM from /proc where there is one: getrusage's ru_maxrss survives execve, so a
    process spawned by one that built the index would report the builder's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


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


def _pss_kb(pid: int) -> int:
    """Proportional set size of one process (shared pages split between their users)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


class MemorySampler:
    """Peak total PSS of this process and its children (the worker processes), sampled
    every 0.2 s: what the digest run really occupies, pages shared by fork counted once."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total = _pss_kb(me) + sum(_pss_kb(c) for c in _children(me))
            self.peak_mb = max(self.peak_mb, total / 1024)
            self._stop.wait(0.2)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def digest_run(
    index_file: Path,
    candidates: tuple[Paper, ...],
    background: tuple[Paper, ...],
    saved: list[tuple[Paper, ...]],
    explain: int,
    workers: int,
    single_users: int,
    queue: Any,
    embeddings_file: Path | None = None,
    compare_today: bool = False,
) -> None:
    """In a fresh process: load the stored index and rank every user as a digest run does."""
    t0 = time.perf_counter()
    index, _ = read_index(index_file)
    vectors = None
    if embeddings_file is not None:  # the run's vectors, as jobs.ranking.encoding reads them
        needed = {p.id for p in (*candidates, *background)} | {p.id for s in saved for p in s}
        with np.load(embeddings_file) as data:
            ids = [str(i) for i in data["ids"]]
            rows = [i for i, pid in enumerate(ids) if pid in needed]
            vectors = Embeddings.from_arrays([ids[i] for i in rows], data["emb"][rows])
    load_s = time.perf_counter() - t0
    rss_index = peak_rss_mb()
    jobs = [RankJob(Profile(saved=mine), candidates, background, explain=explain) for mine in saved]
    # One process, as one user's digest (or a machine with one core) ranks.
    single = jobs[:single_users]
    t0 = time.perf_counter()
    rank_many(single, index, workers=1, embeddings=vectors)
    single_per = (time.perf_counter() - t0) / max(len(single), 1)
    # The ranker before issue #21 (its additions off) on the same users, then the shipped
    # one again, so that neither has the warmer caches: per-user times of both.
    today_per = shipped_per = 0.0
    if compare_today:
        for options, slot in ((TODAY_OPTIONS, "today"), ({}, "shipped")):
            t0 = time.perf_counter()
            for job in single:
                recommender.rank(
                    job.profile,
                    job.candidates,
                    job.background,
                    index=index,
                    embeddings=vectors,
                    explain=job.explain,
                    **options,
                )
            per = (time.perf_counter() - t0) / max(len(single), 1)
            if slot == "today":
                today_per = per
            else:
                shipped_per = per
    # Every user, over the worker processes, as a morning's digest run ranks them.
    with MemorySampler() as memory:
        t0 = time.perf_counter()
        results = rank_many(jobs, index, workers=workers, embeddings=vectors)
        all_s = time.perf_counter() - t0
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise SystemExit(f"{len(failed)} rankings failed, e.g. {failed[0]}")
    queue.put(
        {
            "load_s": load_s,
            "rss_index_mb": rss_index,
            "single_per": single_per,
            "single_users": len(single),
            "today_per": today_per,
            "shipped_per": shipped_per,
            "all_s": all_s,
            "rss_mb": peak_rss_mb(),
            "pss_mb": memory.peak_mb,
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Time the index build, 1,000 users' rankings and the arxiv-sanity recipe."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sanity-users", type=int, default=20)
    parser.add_argument("--background", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument(
        "--explain", type=int, default=10, help="papers per user whose reasons name terms"
    )
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="processes (default: cores)"
    )
    parser.add_argument("--single-users", type=int, default=200, help="users timed in one process")
    parser.add_argument(
        "--embeddings",
        type=Path,
        help=".npz of the listings' vectors (embed_cache.py); none: words only",
    )
    parser.add_argument(
        "--compare-today",
        action="store_true",
        help="also time the ranker before issue #21 (its options off) on the same users",
    )
    args = parser.parse_args(argv)
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

    index_file = args.index_cache or Path(tempfile.mkdtemp()) / "paperboy.index"
    cached_index(papers, index_file)  # built and stored, unless already there
    gc.collect()
    info = read_info(index_file)
    stored = f"stored index {index_file.stat().st_size / 1e6:.0f} MB, built in {info.seconds:.0f} s"
    # The digest run: a fresh process that holds only what a digest run holds (the stored
    # index, the week's candidates, the background, the users' saved papers), not the 75k
    # listings this script loaded to pick them.
    queue: multiprocessing.Queue[dict[str, float]] = multiprocessing.get_context("spawn").Queue()
    run = multiprocessing.get_context("spawn").Process(
        target=digest_run,
        args=(
            index_file,
            tuple(candidates),
            tuple(background),
            [tuple(papers[i] for i in saved) for saved in users],
            args.explain,
            args.workers,
            args.single_users,
            queue,
            args.embeddings,
            args.compare_today,
        ),
    )
    run.start()
    ours = queue.get()
    run.join()

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

    sanity_per = sanity_s / n_sanity
    print(
        f"{len(papers)} papers; week {week[0]}-W{week[1]:02d}: {len(candidates)} candidates; "
        f"background {len(background)}; {len(users)} users (10-50 saved); "
        f"reasons with terms for the top {args.explain}"
    )
    print(
        f"cores {os.cpu_count()}; load average {load_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end (other work on the machine inflates times)\n"
    )
    print(f"{'':40}{'paperboy':>14}{'arxiv-sanity':>14}")
    single_per = ours["single_per"]
    print(f"{'features for the corpus (once)':40}{ours['load_s']:>12.1f}s+{sanity_build_s:>13.1f}s")
    print(f"{'per user, one process':40}{single_per * 1000:>12.1f}ms{sanity_per * 1000:>12.1f}ms")
    print(f"{'  users timed':40}{int(ours['single_users']):>14}{n_sanity:>14}")
    print(
        f"{f'all {len(users)} users, {args.workers} processes':40}{ours['all_s']:>13.1f}s"
        f"{sanity_per * len(users):>12.0f}s*"
    )
    print(f"{'peak RSS (the process)':40}{ours['rss_mb']:>12.0f}MB{peak_rss_mb():>12.0f}MB")
    print(f"{'peak PSS (the process + its workers)':40}{ours['pss_mb']:>12.0f}MB")
    print(
        f"\n+ loading the stored index ({stored}); RSS after loading it "
        f"{ours['rss_index_mb']:.0f} MB.\n"
        f"* extrapolated from the users timed, one process.\n"
        f"per-user speed-up, one process each: {sanity_per / single_per:.0f}x"
    )
    if args.compare_today:
        today, shipped = ours["today_per"] * 1000, ours["shipped_per"] * 1000
        print(
            f"\nper user, one process, same users: before issue #21 {today:.1f} ms, "
            f"shipped {shipped:.1f} ms ({shipped / today - 1:+.0%})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
