"""Development benchmark 2: the weekly digest replay (docs: quality-benchmark.md).

Each list of ``--lists`` plays a user whose library grows week by week. For every ISO
week W holding one of the list's papers once it has >= 10 earlier ones: saved = its
papers before W, candidates = every paper first announced in W, background = 5,000
earlier papers (fixed seed). nDCG@10, R@10, R@25 and MRR, macro over weeks then lists,
for Paperboy beside arxiv-sanity-lite's recipe and a TF-IDF centroid in the same run.

Usage::

    python benchmarks/replay.py \\
        --listings ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists ../shared/data/dev-lists.json [--only rl-reasoning,text-to-3d] \\
        [--max-weeks 8] [--index-cache /tmp/paperboy-index.pkl] [--opt diversity=0.3]

``--one-off`` ranks as ``paperboy rank --saved --candidates --background`` does (its
features fitted on each user-week's own papers, jobs.ranking.one_off) instead of with the
stored index over every listing, in this process: what benchmarks/oneoff_replay.py
measures through the command, at a fraction of the cost, for finding why the two differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sklearn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.ranking.corpus import FORMAT, IndexInfo, read_index, write_index
from paperboy.jobs.ranking.evaluate import (
    load_embeddings,
    load_listings,
    load_lists,
    run_replay,
    summary,
)
from paperboy.recommender import Embeddings, Index, Paper, Profile, rank
from paperboy.recommender.evaluation import Report, Task, evaluate, replay_tasks, reports_json
from paperboy.recommender.text import paper_text


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs for ``recommender.rank`` (values parsed as JSON when they can be)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def cached_index(papers: Sequence[Any], path: Path | None) -> Index:
    """Build the index, or load it from ``path`` when a previous run stored it there.

    The file is written and read exactly as the fetch and digest jobs do
    (jobs.ranking.corpus.write_index / read_index), so loading it measures the real thing.
    """
    if path is not None and path.exists():
        try:
            index, _ = read_index(path)
        except StorageError as e:
            print(f"not using {path}: {e}", file=sys.stderr)
        else:
            if len(index) == len({p.id for p in papers}):
                return index
    t0 = time.perf_counter()
    index = Index.build(papers)
    seconds = time.perf_counter() - t0
    print(f"index built in {seconds:.0f} s", file=sys.stderr)
    if path is not None:
        info = IndexInfo(FORMAT, sklearn.__version__, datetime.now(UTC), len(index), seconds)
        write_index(path, index, info)
    return index


class OneOff:
    """rank() as the one-off path runs it: an index fitted on the task's own papers (saved,
    background, candidates: jobs.ranking.one_off's order), the texts normalised once for
    the run (the one-off cache's part)."""

    def __init__(
        self, papers: Sequence[Paper], embeddings: Embeddings | None, options: dict[str, Any]
    ) -> None:
        self.papers = papers
        self.embeddings = embeddings
        self.options = options
        self.texts: dict[str, str] = {}
        for p in papers:
            if p.id not in self.texts:
                self.texts[p.id] = paper_text(p)

    def __call__(self, task: Task) -> Any:
        import numpy as np

        saved = [self.papers[i] for i in task.saved]
        cands = [self.papers[i] for i in task.candidates]
        background = [self.papers[i] for i in task.background]
        index = Index.build([*saved, *(background or cands), *cands], texts=self.texts)
        ranked = rank(
            Profile(saved=tuple(saved)),
            cands,
            background,
            index=index,
            embeddings=self.embeddings,
            **self.options,
        )
        position = {r.paper.id: k for k, r in enumerate(ranked)}
        return np.asarray([-float(position[c.id]) for c in cands], dtype=np.float64)


def log(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay and print per-list and macro tables (or JSON)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True, help="dev-lists.json")
    parser.add_argument("--only", default="", help="comma-separated list names (default: all)")
    parser.add_argument("--max-weeks", type=int, default=None, help="first N weeks per list")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--embeddings", type=Path, help=".npz with ids and emb (embed_cache.py)")
    parser.add_argument("--no-embeddings", action="store_true", help="the words view alone")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--opt", action="append", default=[], help="rank() option key=value")
    parser.add_argument("--one-off", action="store_true", help="features per user-week")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save-tasks", type=Path, help="write per-task nDCG@10 (JSON) here")
    parser.add_argument(
        "--compare", type=Path, help="a --save-tasks file: bootstrap CI of the change against it"
    )
    args = parser.parse_args(argv)

    papers = load_listings(args.listings)
    lists = load_lists(args.lists, [n for n in args.only.split(",") if n])
    embeddings = None if args.no_embeddings else load_embeddings(papers, args.embeddings, log)
    if args.one_off:
        tasks = replay_tasks(papers, lists, seed=args.seed, max_weeks=args.max_weeks)
        log(f"replay: one-off rankings of {len(tasks)} user-weeks")
        method = OneOff(papers, embeddings, parse_options(args.opt))
        reports: dict[str, Report] = {
            "paperboy": evaluate(tasks, method, "replay", clock=time.perf_counter)
        }
    else:
        reports = run_replay(
            papers,
            lists,
            seed=args.seed,
            max_weeks=args.max_weeks,
            index=cached_index(papers, args.index_cache),
            embeddings=embeddings,
            progress=log,
            paperboy_options=parse_options(args.opt),
            baselines=not args.no_baselines,
        )
    per_task = {
        method: {g: [row[0] for row in rows] for g, rows in report.per_task.items()}
        for method, report in reports.items()
    }
    if args.save_tasks is not None:
        args.save_tasks.write_text(json.dumps(per_task), encoding="utf-8")
    if args.json:
        print(json.dumps(reports_json(reports), indent=2))
    else:
        print(summary("replay", reports))
        if "arxiv-sanity" in reports:
            ours = reports["paperboy"].per_group()
            theirs = reports["arxiv-sanity"].per_group()
            ratio = reports["paperboy"].macro()[0] / max(reports["arxiv-sanity"].macro()[0], 1e-9)
            below = [g for g in ours if ours[g][0] < theirs[g][0]]
            print(f"paperboy / arxiv-sanity macro nDCG@10: {ratio:.2f}x; lists below: {below}")
        if args.compare is not None:
            before = json.loads(args.compare.read_text(encoding="utf-8"))
            before = before.get("paperboy", before)
            print(bootstrap_change(before, per_task["paperboy"]))
    return 0


def bootstrap_interval(
    before: dict[str, list[float]],
    after: dict[str, list[float]],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% interval of the macro nDCG@10 change (after - before), paired over user-weeks.

    Weeks are resampled within each list (every list keeps its weight in the macro), the
    same weeks for both sides: an interval that excludes 0 is a change the weeks'
    sampling alone does not explain.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = sorted(set(before) & set(after))
    draws = np.zeros(resamples)
    for g in groups:
        if len(before[g]) != len(after[g]):
            raise ValueError(f"{g}: {len(before[g])} tasks before, {len(after[g])} after")
        d = np.asarray(after[g]) - np.asarray(before[g])
        picks = rng.integers(0, len(d), size=(resamples, len(d)))
        draws += d[picks].mean(axis=1) / len(groups)
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_change(
    before: dict[str, list[float]],
    after: dict[str, list[float]],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> str:
    """The paired bootstrap of the macro nDCG@10 change (:func:`bootstrap_interval`), and
    every list's change, for people."""
    import numpy as np

    low, high = bootstrap_interval(before, after, resamples=resamples, seed=seed)
    groups = sorted(set(before) & set(after))
    macro_before = float(np.mean([np.mean(before[g]) for g in groups]))
    macro_after = float(np.mean([np.mean(after[g]) for g in groups]))
    lines = [
        f"macro nDCG@10 {macro_before:.3f} -> {macro_after:.3f}: change "
        f"{macro_after - macro_before:+.3f} (95% CI {low:+.3f} .. {high:+.3f}, "
        f"{resamples} paired resamples of weeks within lists)",
        f"{'list':22s} {'weeks':>5s} {'before':>7s} {'after':>7s} {'change':>7s}",
    ]
    for g in groups:
        b, a = float(np.mean(before[g])), float(np.mean(after[g]))
        lines.append(f"{g:22s} {len(before[g]):5d} {b:7.3f} {a:7.3f} {a - b:+7.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
