"""The user's own feedback on the weekly digest replay: clicks and shown-and-ignored papers.

Issue #21 item 5. Each replay task (quality-benchmark.md, benchmark 2) is a week of one
list's user. The digest of a week is the top :data:`SHOWN` of the ranking; the shown
papers that are relevant (on the list, announced that week) count as *clicks*, the other
shown ones as *shown and ignored*. Both feed the profiles of the user's later weeks
(``Profile.clicked``, ``Profile.ignored``), each row weighing ``click`` or ``ignored``
times a saved paper (``recommender.rank(click_weight=..., ignored_weight=...)``). Every
setting runs its own loop: what it shows decides its own later feedback (on-policy).

Two libraries, because in the replay every relevant paper is saved the week after:
- ``growing``: the replay as it is (saved = the list's papers before the week). A click
  is then always a saved paper by the next week, and rank() counts a paper both saved
  and clicked as saved: clicks cannot change anything by construction, so only the
  ignored weight is measured (click 0).
- ``frozen``: the library stays what it was at the list's first replayed week; the
  list's later papers reach the profile only as clicks, when a digest showed them (a
  user who reads the digest and never files papers). Both weights are measured.

A hit is only ever a paper of the week being ranked, and feedback only comes from earlier
weeks, so no clicked (or ignored) paper is ever a candidate that could count as a hit;
rank() also leaves clicked papers out of the candidates, as saved ones.

Two-fold choice as benchmarks/variants.py (:data:`FOLDS`): per library the weights with
the best macro nDCG@10 on one half of the lists are reported on the other half, then the
other way round; the paired bootstrap is of that held-out choice against no feedback
(click 0, ignored 0) on the same tasks.

Usage::

    python benchmarks/feedback_sim.py --listings $D/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists $D/dev-lists.json --index-cache I --embeddings V.npz [--stride 2] \\
        [--libraries growing,frozen] [--clicks 0,0.5,1] [--ignored 0,0.05,0.2] [--save S.json]
    python benchmarks/feedback_sim.py --report S.json     # the tables again
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import bootstrap_change, cached_index, log
from benchmarks.variants import FOLDS, macro
from paperboy.jobs.ranking.evaluate import load_embeddings, load_listings, load_lists
from paperboy.recommender import Embeddings, Index, Paper, Profile, rank
from paperboy.recommender.evaluation import Task, replay_tasks, task_metrics

SHOWN = 10  # a digest's papers: what the user sees and clicks or ignores
CLICKS = (0.0, 0.5, 1.0)
IGNORED = (0.0, 0.05, 0.2)
NONE = "c=0,i=0"  # no feedback: today's ranker


def setting(click: float, ignored: float) -> str:
    return f"c={click:g},i={ignored:g}"


def weights(name: str) -> tuple[float, float]:
    parts = dict(p.split("=") for p in name.split(","))
    return float(parts["c"]), float(parts["i"])


def grid(
    library: str, clicks: Sequence[float] = CLICKS, ignored: Sequence[float] = IGNORED
) -> list[str]:
    """The settings measured on a library (no click weight on the growing one: there a
    click is always a saved paper already); no feedback always among them."""
    chosen = clicks if library == "frozen" else (0.0,)
    names = [setting(c, i) for c in chosen for i in ignored]
    return names if NONE in names else [NONE, *names]


def simulate(
    tasks: Sequence[Task],
    papers: Sequence[Paper],
    index: Index,
    embeddings: Embeddings | None,
    library: str,
    names: Sequence[str],
    stride: int,
) -> dict[str, dict[str, list[float]]]:
    """Per setting, per list, the nDCG@10 of every replayed week (in week order)."""
    by_list: dict[str, list[Task]] = {}
    for t in tasks:
        by_list.setdefault(t.group, []).append(t)
    out: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    started, done, total = time.perf_counter(), 0, 0
    for group_tasks in by_list.values():
        total += len(group_tasks[::stride]) * len(names)
    for group, group_tasks in sorted(by_list.items()):
        weeks = group_tasks[::stride]
        first_saved = weeks[0].saved
        for name in names:
            click, ignored = weights(name)
            clicked: list[int] = []
            shown_ignored: list[int] = []
            for task in weeks:
                saved = first_saved if library == "frozen" else task.saved
                profile = Profile(
                    saved=tuple(papers[i] for i in saved),
                    clicked=tuple(papers[i] for i in clicked),
                    ignored=tuple(papers[i] for i in shown_ignored),
                )
                cands = [papers[i] for i in task.candidates]
                ranked = rank(
                    profile,
                    cands,
                    [papers[i] for i in task.background],
                    index=index,
                    embeddings=embeddings,
                    click_weight=click,
                    ignored_weight=ignored,
                    explain=0,
                )
                position = {r.paper.id: k for k, r in enumerate(ranked)}
                scores = np.asarray([-float(position[c.id]) for c in cands], dtype=np.float64)
                out[name].setdefault(group, []).append(task_metrics(task, scores, "replay")[0])
                # The digest: the week's first papers, each seen once by the user.
                top = np.argsort(-scores, kind="stable")[:SHOWN]
                for j in top:
                    i = task.candidates[int(j)]
                    (clicked if i in task.relevant else shown_ignored).append(i)
                done += 1
            log(
                f"{library} {group} {name}: {np.mean(out[name][group]):.3f} over {len(weeks)}"
                f" weeks; {done}/{total} rankings, {time.perf_counter() - started:.0f} s"
            )
    return out


def report(results: Mapping[str, Mapping[str, Mapping[str, list[float]]]]) -> str:
    """Per library: every setting's macro by fold, the two-fold choice and its interval."""
    lines: list[str] = []
    for library, per in results.items():
        groups = sorted(per[NONE])
        folds = {f: [g for g in gs if g in groups] for f, gs in FOLDS.items()}
        n_weeks = sum(len(per[NONE][g]) for g in groups)
        lines += [
            f"\n== library {library}: {len(groups)} lists, {n_weeks} user-weeks ==",
            f"{'setting':14s} {'fold A':>7s} {'fold B':>7s} {'all':>7s}",
        ]
        for name in per:
            a, b = macro(per[name], folds["A"]), macro(per[name], folds["B"])
            lines.append(f"{name:14s} {a:7.4f} {b:7.4f} {macro(per[name], groups):7.4f}")
        held: dict[str, list[float]] = {}
        for tune, test in (("A", "B"), ("B", "A")):
            if not folds[tune] or not folds[test]:
                continue
            best = max(per, key=lambda n: (macro(per[n], folds[tune]), n == NONE))
            on, base = macro(per[best], folds[test]), macro(per[NONE], folds[test])
            lines.append(
                f"chosen on {tune}: {best} ({macro(per[best], folds[tune]):.4f} vs none"
                f" {macro(per[NONE], folds[tune]):.4f}); held out on {test}: {on:.4f} vs none"
                f" {base:.4f} ({on - base:+.4f})"
            )
            for g in folds[test]:
                held[g] = list(per[best][g])
        if held:
            lines.append("held-out choice against no feedback, every list:")
            lines.append(bootstrap_change({g: list(per[NONE][g]) for g in held}, held))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path)
    parser.add_argument("--lists", type=Path)
    parser.add_argument("--only", default="", help="comma-separated list names")
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--embeddings", type=Path)
    parser.add_argument("--stride", type=int, default=1, help="every Nth replayed week")
    parser.add_argument("--libraries", default="growing,frozen")
    parser.add_argument("--clicks", default=",".join(f"{c:g}" for c in CLICKS))
    parser.add_argument("--ignored", default=",".join(f"{i:g}" for i in IGNORED))
    parser.add_argument("--save", type=Path, help="write every setting's per-week nDCG@10")
    parser.add_argument("--report", type=Path, help="a --save file: print its tables again")
    args = parser.parse_args(argv)
    if args.report is not None:
        results = json.loads(args.report.read_text(encoding="utf-8"))
    else:
        if args.listings is None or args.lists is None:
            parser.error("--listings and --lists are needed unless --report is given")
        papers = load_listings(args.listings)
        lists = load_lists(args.lists, [n for n in args.only.split(",") if n])
        index = cached_index(papers, args.index_cache)
        embeddings = load_embeddings(papers, args.embeddings, log) if args.embeddings else None
        tasks = replay_tasks(papers, lists)
        results = {}
        clicks = [float(c) for c in args.clicks.split(",")]
        ignored = [float(i) for i in args.ignored.split(",")]
        for library in args.libraries.split(","):
            names = grid(library, clicks, ignored)
            results[library] = simulate(
                tasks, papers, index, embeddings, library, names, max(args.stride, 1)
            )
            if args.save is not None:
                args.save.write_text(json.dumps(results), encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
