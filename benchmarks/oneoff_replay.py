"""The weekly digest replay through the one-off path: a `paperboy rank` per user-week.

The digest ranks with the stored index (vocabulary and idf over every stored paper);
``paperboy rank --saved S --candidates C --background B`` fits its own on the files it
is given. This runs benchmarks/replay.py's protocol (recommender.evaluation.replay_tasks:
saved = the list's papers before week W, candidates = W's listing, background = 5,000
earlier papers, fixed seed) with one command per user-week on files, scores its output
order as replay.py scores the in-process ranking, and compares it, paired, with a
replay.py run saved with ``--save-tasks`` (same ``--max-weeks``, same lists).

Usage::

    python benchmarks/replay.py --listings L --lists dev-lists.json --embeddings V.npz \\
        --index-cache I --max-weeks 8 --no-baselines --save-tasks digest.json
    python benchmarks/oneoff_replay.py --listings L --lists dev-lists.json \\
        --embeddings V.npz --cache /tmp/oneoff.sqlite --max-weeks 8 \\
        --save-tasks oneoff.json --compare digest.json

The cache file (``$PAPERBOY_CACHE`` of every command) is filled once with the listings'
vectors from ``--embeddings`` (jobs.ranking.embedding_cache.keep_embeddings), so no call
encodes: the vectors are the ones the in-process replay reads. ``--command`` runs another
Paperboy (e.g. main's checkout, with ``--cwd``).
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

from benchmarks.embed_cache import load_cache
from benchmarks.replay import bootstrap_change
from paperboy.jobs.ranking.embedding_cache import keep_embeddings
from paperboy.jobs.ranking.evaluate import load_listings, load_lists
from paperboy.recommender import Paper
from paperboy.recommender.evaluation import REPLAY_METRICS, Report, Task, replay_tasks

__all__ = ["fill_cache", "rank_files", "write_task"]

RANK = ("rank", "--format", "jsonl")


def _line(p: Paper) -> str:
    return json.dumps(
        {
            "id": p.id,
            "title": p.title,
            "abstract": p.abstract,
            "authors": list(p.authors),
            "categories": list(p.categories),
        }
    )


def write_task(papers: Sequence[Paper], task: Task, folder: Path) -> list[Path]:
    """The task's saved papers, candidates and background as JSONL files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, rows in (
        ("saved", task.saved),
        ("candidates", task.candidates),
        ("background", task.background),
    ):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(_line(papers[i]) + "\n" for i in rows), encoding="utf-8")
        files.append(path)
    return files


def fill_cache(papers: Sequence[Paper], embeddings: Path, cache: Path) -> int:
    """Keep the listings' vectors (embed_cache.py's file) in the one-off cache ``cache``."""
    ids, matrix = load_cache(embeddings)
    return keep_embeddings(papers, dict(zip(ids, matrix, strict=True)), path=cache)


def rank_files(
    command: Sequence[str], files: Sequence[Path], cache: Path, cwd: Path | None = None
) -> tuple[list[str], float, float]:
    """Run ``command rank --saved --candidates --background --format jsonl``: the lines it
    printed, the wall-clock seconds and the child's CPU seconds (user + sys)."""
    saved, candidates, background = files
    args = [
        *command,
        *RANK,
        "--saved",
        str(saved),
        "--candidates",
        str(candidates),
        "--background",
        str(background),
    ]
    env = {**os.environ, "PAPERBOY_CACHE": str(cache)}
    before = os.times()
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return [line for line in done.stdout.splitlines() if line], wall, cpu


def scores_of(task: Task, papers: Sequence[Paper], order: Sequence[str]) -> np.ndarray:
    """Scores in the task's candidate order from a printed ranking: minus the position,
    as benchmarks' Paperboy method scores rank(); a candidate not printed (no words to
    rank by) comes last."""
    position = {pid: k for k, pid in enumerate(order)}
    last = len(order)
    return np.asarray(
        [-float(position.get(papers[i].id, last)) for i in task.candidates], dtype=np.float64
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay through the command and print its table (and the paired change)."""
    from paperboy.recommender.evaluation import reports_table, task_metrics

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--embeddings", type=Path, required=True, help="embed_cache.py's .npz")
    parser.add_argument("--cache", type=Path, required=True, help="the commands' cache file")
    parser.add_argument("--only", default="", help="comma-separated list names (default: all)")
    parser.add_argument("--max-weeks", type=int, default=None, help="first N weeks per list")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--command", default=str(Path(sys.executable).parent / "paperboy"))
    parser.add_argument("--cwd", type=Path, default=None, help="where --command runs")
    parser.add_argument("--save-tasks", type=Path, help="write per-task nDCG@10 (JSON) here")
    parser.add_argument("--compare", type=Path, help="replay.py --save-tasks file: paired CI")
    args = parser.parse_args(argv)

    papers = load_listings(args.listings)
    lists = load_lists(args.lists, [n for n in args.only.split(",") if n])
    tasks = replay_tasks(papers, lists, seed=args.seed, max_weeks=args.max_weeks)
    if not args.cache.exists():
        t0 = time.perf_counter()
        kept = fill_cache(papers, args.embeddings, args.cache)
        print(
            f"kept {kept} vectors in {args.cache} ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
        )
    report = Report(metrics=REPLAY_METRICS)
    walls: list[float] = []
    with tempfile.TemporaryDirectory(prefix="oneoff-replay-") as tmp:
        for n, task in enumerate(tasks, start=1):
            files = write_task(papers, task, Path(tmp))
            lines, wall, _ = rank_files(args.command.split(), files, args.cache, args.cwd)
            order = [json.loads(line)["id"] for line in lines]
            walls.append(wall)
            scores = scores_of(task, papers, order)
            report.per_task.setdefault(task.group, []).append(task_metrics(task, scores, "replay"))
            print(
                f"{n}/{len(tasks)} {task.group} {task.label}: {wall:.1f} s, nDCG@10 "
                f"{report.per_task[task.group][-1][0]:.3f}",
                file=sys.stderr,
            )
    report.seconds = sum(walls)
    reports = {"one-off": report}
    per_task = {g: [row[0] for row in rows] for g, rows in report.per_task.items()}
    if args.save_tasks is not None:
        args.save_tasks.write_text(json.dumps({"paperboy": per_task}), encoding="utf-8")
    print(f"== weekly digest replay through `paperboy rank`: {report.n_tasks()} rankings ==\n")
    for metric in REPLAY_METRICS:
        print(reports_table(reports, metric) + "\n")
    print(f"s/call: mean {np.mean(walls):.2f}, median {np.median(walls):.2f} (wall clock)")
    if args.compare is not None:
        digest = json.loads(args.compare.read_text(encoding="utf-8"))
        digest = digest.get("paperboy", digest)
        print("\nthe digest path (before) against the one-off path (after), paired:")
        print(bootstrap_change({g: digest[g] for g in per_task}, per_task))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
