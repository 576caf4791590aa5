"""Collections replay (issue #23): a user with two interests, as one profile or two collections.

Users are made of two dev lists merged (:data:`PAIRS`); each week is ranked as in the
weekly digest replay (benchmarks/replay.py's protocol: saved = the user's papers before
the week, candidates = the week's listing, relevant = the user's papers of that week,
5,000 earlier papers as background), once each way:

- ``union (today)`` / ``union (shipped)``: one profile of every saved paper,
  ``recommender.rank`` with today's options (no interests) and with the shipped defaults
  (which find the user's interests themselves, recommender.interests);
- ``two collections``: one ``recommender.rank`` per list's saved papers; each candidate
  is placed in the collection whose model scores it highest, and the digest's top 10 is
  taken by that score (design.md: a paper shown once, where it ranks best);
- ``arxiv-sanity per tag``: arxiv-sanity-lite's recipe with one model per tag (list), a
  candidate scored by its best tag; ``arxiv-sanity union`` one model of all tags.

A week counts when each list has at least :data:`MIN_PER_COLLECTION` saved papers
before it (and the user at least 10). nDCG@10 per pair and macro over pairs.

Usage::

    python benchmarks/collections_replay.py --listings $D/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists $D/dev-lists.json --index-cache I --embeddings V.npz [--stride 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import cached_index, log, parse_options
from paperboy.jobs.ranking.evaluate import load_embeddings, load_listings, load_lists
from paperboy.recommender import Embeddings, Index, Paper, Profile, rank
from paperboy.recommender.baselines import ArxivSanity
from paperboy.recommender.evaluation import Task, replay_tasks, task_metrics

FloatArray = npt.NDArray[np.float64]

# Pairs of dev lists, each a user with two interests: near topics and far ones.
PAIRS = (
    ("rl-reasoning", "text-to-3d"),
    ("long-context", "token-reduction"),
    ("llm-jailbreak", "driving-llm"),
    ("deep-research-agents", "image-editing"),
    ("spec-decoding", "agent-memory"),
)
MIN_PER_COLLECTION = 5
# Today's ranker: the options that turn the shipped ranker's additions off.
TODAY: dict[str, Any] = {
    "meaning_C": 1.0,
    "meaning_share": 0.5,
    "half_life_days": None,
    "interest_share": 0.0,
}


def ranked_scores(
    papers: Sequence[Paper],
    saved: Sequence[int],
    task: Task,
    index: Index,
    emb: Embeddings,
    options: dict[str, Any],
) -> FloatArray:
    """``rank``'s score per candidate (in candidate order), its order kept on ties."""
    cands = [papers[i] for i in task.candidates]
    ranked = rank(
        Profile(saved=tuple(papers[i] for i in saved)),
        cands,
        [papers[i] for i in task.background],
        index=index,
        embeddings=emb,
        **options,
    )
    n = len(ranked)
    # The score, with the position as a tiny tie-break (rank's own order on equal scores).
    by_id = {r.paper.id: r.score + (n - k) * 1e-12 for k, r in enumerate(ranked)}
    return np.asarray([by_id[c.id] for c in cands], dtype=np.float64)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--embeddings", type=Path)
    parser.add_argument("--stride", type=int, default=1, help="every Nth week of each pair")
    parser.add_argument("--no-sanity", action="store_true", help="leave arxiv-sanity out")
    parser.add_argument("--opt", action="append", default=[], help="shipped rank() key=value")
    args = parser.parse_args(argv)

    papers = load_listings(args.listings)
    lists = load_lists(args.lists)
    index = cached_index(papers, args.index_cache)
    emb = load_embeddings(papers, args.embeddings, log)
    position = {p.id: i for i, p in enumerate(papers)}
    sanity = None if args.no_sanity else ArxivSanity(papers)
    shipped = parse_options(args.opt)

    methods: dict[str, Callable[[Task, list[list[int]]], FloatArray]] = {
        "union (today)": lambda t, c: ranked_scores(papers, t.saved, t, index, emb, TODAY),
        "union (shipped)": lambda t, c: ranked_scores(papers, t.saved, t, index, emb, shipped),
        "two collections (today)": lambda t, c: np.max(
            [ranked_scores(papers, s, t, index, emb, TODAY) for s in c], axis=0
        ),
        "two collections (shipped)": lambda t, c: np.max(
            [ranked_scores(papers, s, t, index, emb, shipped) for s in c], axis=0
        ),
    }
    if sanity is not None:
        methods["arxiv-sanity union"] = lambda t, c: sanity(t)
        methods["arxiv-sanity per tag"] = lambda t, c: np.max(
            [sanity(dataclasses.replace(t, saved=tuple(s))) for s in c],
            axis=0,
        )
    results: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    for a, b in PAIRS:
        name = f"{a}+{b}"
        members = [{position[i] for i in lists[x] if i in position} for x in (a, b)]
        merged = {name: [*lists[a], *lists[b]]}
        tasks = []
        for task in replay_tasks(papers, merged):
            parts = [[i for i in task.saved if i in m] for m in members]
            if min(len(p) for p in parts) >= MIN_PER_COLLECTION:
                tasks.append((task, parts))
        tasks = tasks[:: args.stride]
        log(f"{name}: {len(tasks)} weeks")
        for task, parts in tasks:
            for m, method in methods.items():
                t0 = time.perf_counter()
                scores = method(task, parts)
                seconds[m] += time.perf_counter() - t0
                ndcg = task_metrics(task, scores, "replay")[0]
                results[m].setdefault(name, []).append(ndcg)
    names = [f"{a}+{b}" for a, b in PAIRS]
    print(f"{'nDCG@10':28s}" + "".join(f"{n[:18]:>20s}" for n in names) + f"{'macro':>8s}")
    for m, per in results.items():
        means = [float(np.mean(per[n])) if per.get(n) else float("nan") for n in names]
        print(f"{m:28s}" + "".join(f"{v:20.3f}" for v in means) + f"{np.nanmean(means):8.3f}")
    weeks = ", ".join(f"{n} {len(results[next(iter(methods))].get(n, []))}" for n in names)
    print(f"weeks: {weeks}")
    total = sum(len(v) for v in results[next(iter(methods))].values())
    print("s/week: " + ", ".join(f"{m} {s / max(1, total):.2f}" for m, s in seconds.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
