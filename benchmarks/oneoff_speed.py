"""Time per call of the one-off ranking, `paperboy rank --saved --candidates --background`,
beside a baseline Paperboy and the arxiv-sanity-lite recipe, on replay weeks.

The weeks are benchmarks/replay.py's user-weeks (saved = a list's papers before week W,
candidates = W's listing, background = 5,000 earlier papers), ``--weeks`` of them spread
over each list of ``--only``. Per week, each as its own process, as a user or a script
calls it:

- *baseline*: ``--baseline`` (e.g. main's checkout: ``/work/venv/bin/paperboy`` run in
  ``--baseline-cwd``) with the week's vectors already in its cache;
- *first*: this checkout's ``paperboy``, its cache holding the week's vectors and
  nothing else (every text is new to it);
- *warm*: the same command again (the cache has seen these papers: what a rerun, or a
  replay of many weeks over the same listings, finds);
- *arxiv-sanity*: its recipe on the same files in a fresh Python (read the three files,
  its TF-IDF fitted on them, LinearSVC saved vs. background + candidates, print the
  order): what a script ranking the week that way pays.

Every process starts cold (imports included). Each command's output is compared with the
baseline's: a change of speed must not change a ranking. CPU seconds (user + sys of the
child) are printed beside wall-clock seconds, as the machine may be shared.

Usage::

    python benchmarks/oneoff_speed.py --listings L --lists dev-lists.json \\
        --embeddings V.npz --only agent-memory,text-to-3d,long-context --weeks 2 \\
        --baseline /work/venv/bin/paperboy --baseline-cwd /work/main
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def sanity_call(saved: Path, candidates: Path, background: Path) -> None:
    """arxiv-sanity-lite's recipe on three files, printing the candidates best first."""
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC

    from paperboy.jobs.fetch.paperfiles import read_jsonl
    from paperboy.recommender.baselines import ArxivSanity

    mine, pool, negatives = read_jsonl(saved), read_jsonl(candidates), read_jsonl(background)
    papers = [*mine, *negatives, *pool]
    X = ArxivSanity(papers).matrix
    y = np.zeros(len(papers), dtype=np.int64)
    y[: len(mine)] = 1
    clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
    clf.fit(sp.csr_matrix(X), y)
    scores = clf.decision_function(X[len(mine) + len(negatives) :])
    for i in np.argsort(-scores, kind="stable"):
        print(json.dumps({"id": pool[int(i)].id, "score": float(scores[i])}))


def spread(items: list[int], k: int) -> list[int]:
    """``k`` of ``items`` evenly spaced, first and last included."""
    if k >= len(items):
        return items
    return [items[round(j * (len(items) - 1) / max(k - 1, 1))] for j in range(k)]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the commands on each week and print the table."""
    # Here, not at the top: the arxiv-sanity call runs this file too, and imports only
    # what its recipe needs.
    from benchmarks.embed_cache import load_cache
    from benchmarks.oneoff_replay import rank_files, write_task
    from paperboy.jobs.ranking.embedding_cache import keep_embeddings
    from paperboy.jobs.ranking.evaluate import load_listings, load_lists
    from paperboy.recommender.evaluation import replay_tasks

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--embeddings", type=Path, required=True, help="embed_cache.py's .npz")
    parser.add_argument("--only", default="agent-memory,text-to-3d,long-context")
    parser.add_argument("--weeks", type=int, default=2, help="weeks per list")
    parser.add_argument("--baseline", required=True, help="the baseline's paperboy command")
    parser.add_argument("--baseline-cwd", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    papers = load_listings(args.listings)
    lists = load_lists(args.lists, [n for n in args.only.split(",") if n])
    tasks = replay_tasks(papers, lists, seed=args.seed)
    chosen = []
    for name in lists:
        mine = [i for i, t in enumerate(tasks) if t.group == name]
        chosen.extend(tasks[i] for i in spread(mine, args.weeks))
    ids, matrix = load_cache(args.embeddings)
    vectors = dict(zip(ids, matrix, strict=True))
    ours = [str(Path(sys.executable).parent / "paperboy")]
    sanity = [sys.executable, str(Path(__file__).resolve()), "--sanity-call"]
    baseline = args.baseline.split()
    load_start = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="oneoff-speed-") as tmp:
        for n, task in enumerate(chosen):
            folder = Path(tmp) / f"week{n}"
            files = write_task(papers, task, folder)
            week = [papers[i] for i in (*task.saved, *task.candidates, *task.background)]
            caches = {name: folder / f"{name}.sqlite" for name in ("baseline", "ours", "scratch")}
            for cache in caches.values():
                keep_embeddings(week, vectors, path=cache)
            if n == 0:  # the libraries into the page cache, for every command alike
                rank_files(baseline, files, caches["baseline"], args.baseline_cwd)
                rank_files(ours, files, caches["scratch"])
            base = rank_files(baseline, files, caches["baseline"], args.baseline_cwd)
            first = rank_files(ours, files, caches["ours"])
            warm = rank_files(ours, files, caches["ours"])
            t0, c0 = time.perf_counter(), os.times()
            done = subprocess.run(
                [*sanity, *map(str, files)], capture_output=True, text=True, check=True
            )
            c1 = os.times()
            sanity_wall = time.perf_counter() - t0
            sanity_cpu = (
                c1.children_user - c0.children_user + c1.children_system - c0.children_system
            )
            assert len(done.stdout.splitlines()) == len(task.candidates)
            rows.append(
                (
                    task.group,
                    task.label,
                    len(task.saved),
                    len(task.candidates),
                    len(task.background),
                    base[1:],
                    first[1:],
                    warm[1:],
                    (sanity_wall, sanity_cpu),
                    first[0] == base[0] and warm[0] == base[0],
                )
            )
            print(f"{n + 1}/{len(chosen)} {task.group} {task.label} done", file=sys.stderr)
    print(
        f"cores {os.cpu_count()}; load average {load_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end; seconds per call, wall (CPU)\n"
    )
    head = f"{'list':22} {'week':9} {'saved':>5} {'cands':>5} {'bg':>5}"
    cols = ("baseline", "first", "warm", "arxiv-sanity")
    print(head + "".join(f"{c:>15}" for c in cols) + "  same output")
    for group, label, s, c, b, *timed, same in rows:
        cells = "".join(f"{w:>7.2f} ({u:>5.2f})" for w, u in timed)
        print(f"{group:22} {label:9} {s:>5} {c:>5} {b:>5}{cells}  {'yes' if same else 'NO'}")
    means = [np.mean([r[5 + k][0] for r in rows]) for k in range(4)]
    cpus = [np.mean([r[5 + k][1] for r in rows]) for k in range(4)]
    print(
        f"{'mean':22} {'':9} {'':>5} {'':>5} {'':>5}"
        + "".join(f"{w:>7.2f} ({u:>5.2f})" for w, u in zip(means, cpus, strict=True))
    )
    print(
        f"\nwarm: {means[0] / means[2]:.1f}x faster than the baseline, "
        f"{means[2] / means[3]:.2f}x the arxiv-sanity recipe's time; "
        f"outputs the same as the baseline's on {sum(r[-1] for r in rows)} of {len(rows)} weeks"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--sanity-call":
        sanity_call(*(Path(a) for a in sys.argv[2:]))
        raise SystemExit(0)
    raise SystemExit(main())
