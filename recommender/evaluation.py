"""Offline quality measurement: metrics and the two benchmark protocols of quality-benchmark.md.

Pure: every function takes plain data (papers, lists of ids, scores) and returns plain
data; loading files is the caller's job (``benchmarks/`` scripts, ``paperboy eval``).

- *Topic profiles* (:func:`seed_tasks`): for each list and repetition, 8 saved papers drawn
  from the list, every other paper of the corpus as a candidate.
- *Weekly digest replay* (:func:`replay_tasks`): for each list (a user whose library grows)
  and each ISO week holding one of its papers once it has >= 10 earlier ones, the week's
  whole listing as candidates and 5,000 earlier papers as background.

A *method* turns a :class:`Task` into one score per candidate (higher is better);
:func:`evaluate` orders the candidates (ties broken at random with a fixed seed), scores
the order and averages per list, then over lists (macro).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from paperboy.recommender.types import Paper

__all__ = [
    "REPLAY_METRICS",
    "SEED_METRICS",
    "Report",
    "Task",
    "average_precision",
    "evaluate",
    "iso_week",
    "ndcg_at_k",
    "order_scores",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "replay_tasks",
    "reports_json",
    "reports_table",
    "seed_tasks",
    "task_metrics",
]

FloatArray = npt.NDArray[np.float64]

SEED_SAVED = 8
SEED_REPETITIONS = 10
REPLAY_MIN_SAVED = 10
REPLAY_BACKGROUND = 5000

SEED_METRICS = ("nDCG@10", "P@10", "AP")
REPLAY_METRICS = ("nDCG@10", "R@10", "R@25", "MRR")


# --- metrics (binary relevance, on a ranked list of booleans) ---------------------------


def ndcg_at_k(ranked_rel: Sequence[bool], n_relevant: int, k: int = 10) -> float:
    """Binary-relevance nDCG@k: DCG of the first k over the best possible DCG."""
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(ranked_rel[:k]) if r)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return dcg / ideal if ideal > 0 else 0.0


def precision_at_k(ranked_rel: Sequence[bool], k: int = 10) -> float:
    """Fraction of the first k that are relevant."""
    return sum(bool(r) for r in ranked_rel[:k]) / k


def recall_at_k(ranked_rel: Sequence[bool], n_relevant: int, k: int) -> float:
    """Fraction of all relevant items found in the first k (0 when nothing is relevant)."""
    return sum(bool(r) for r in ranked_rel[:k]) / n_relevant if n_relevant else 0.0


def reciprocal_rank(ranked_rel: Sequence[bool]) -> float:
    """1 / rank of the first relevant item (0 when none is)."""
    for i, r in enumerate(ranked_rel):
        if r:
            return 1.0 / (i + 1)
    return 0.0


def average_precision(ranked_rel: Sequence[bool], n_relevant: int) -> float:
    """Mean of the precision at each relevant item's rank, over all relevant items."""
    hits = 0
    total = 0.0
    for i, r in enumerate(ranked_rel):
        if r:
            hits += 1
            total += hits / (i + 1)
    return total / n_relevant if n_relevant else 0.0


def order_scores(scores: Sequence[float] | FloatArray, seed: int) -> list[int]:
    """Positions of ``scores`` best first; equal scores in a random order fixed by ``seed``.

    Random tie-breaking (not by position or id) keeps a method that gives many candidates
    the same score from being credited with the input order.
    """
    values = np.asarray(scores, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("scores contain NaN")
    jitter = np.random.default_rng(seed).permutation(len(values))
    return [int(i) for i in np.lexsort((jitter, -values))]


# --- tasks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Task:
    """One ranking to score: who ranks what, against which background, and what is right.

    ``saved``, ``candidates`` and ``background`` are positions into the papers the task
    list was built from; ``relevant`` is the set of candidate positions that count as hits.
    ``tie_seed`` fixes the random tie-breaking of this task.
    """

    group: str
    label: str
    saved: tuple[int, ...]
    candidates: tuple[int, ...]
    background: tuple[int, ...]
    relevant: frozenset[int]
    tie_seed: int


def _stable_seed(*parts: object) -> int:
    """A seed from the parts' text, the same on every run and Python (unlike ``hash``)."""
    return zlib.crc32("/".join(str(p) for p in parts).encode("utf-8"))


def seed_tasks(
    lists: Mapping[str, Sequence[int]],
    n_papers: int,
    *,
    seed: int = 0,
    repetitions: int = SEED_REPETITIONS,
    n_saved: int = SEED_SAVED,
) -> list[Task]:
    """The topic-profile protocol: per list and repetition, ``n_saved`` random saved papers.

    ``lists`` maps a list name to the positions of its papers in a corpus of ``n_papers``.
    Candidates are every other paper; the background is the candidates (no other papers
    exist in this benchmark), as the one-off ranking does. A list with no more than
    ``n_saved`` papers is skipped: nothing of it would be left to find.
    """
    rng = np.random.default_rng(seed)
    tasks: list[Task] = []
    for name in sorted(lists):
        members = sorted(set(lists[name]))
        on_list = set(members)
        if len(members) <= n_saved:
            continue
        for rep in range(repetitions):
            saved = tuple(sorted(int(i) for i in rng.choice(members, n_saved, replace=False)))
            chosen = set(saved)
            cands = tuple(i for i in range(n_papers) if i not in chosen)
            tasks.append(
                Task(
                    group=name,
                    label=f"draw {rep}",
                    saved=saved,
                    candidates=cands,
                    background=cands,
                    relevant=frozenset(i for i in cands if i in on_list),
                    tie_seed=_stable_seed(seed, name, rep),
                )
            )
    return tasks


def iso_week(day: date) -> tuple[int, int]:
    """(ISO year, ISO week) of a day: the replay's unit of time, one digest a week."""
    iso = day.isocalendar()
    return (iso.year, iso.week)


def replay_tasks(
    papers: Sequence[Paper],
    lists: Mapping[str, Iterable[str]],
    *,
    seed: int = 0,
    background_size: int = REPLAY_BACKGROUND,
    min_saved: int = REPLAY_MIN_SAVED,
    max_weeks: int | None = None,
) -> list[Task]:
    """The weekly digest replay: one task per (list, ISO week W with >= 1 of its papers).

    A week counts once the list has ``min_saved`` papers from earlier weeks. saved = the
    list's papers announced before W; candidates = all papers first announced in W;
    relevant = the list's papers in W; background = ``background_size`` papers announced
    before W drawn at random (seeded by ``seed``, the list and the week), never a saved
    paper. ``max_weeks`` keeps only each list's first weeks, for quick runs. Papers need
    ``announced``; ids of a list missing from ``papers`` are ignored.
    """
    weeks: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(papers):
        if p.announced is None:
            raise ValueError(f"paper {p.id} has no announcement date")
        weeks.setdefault(iso_week(p.announced), []).append(i)
    order = sorted(weeks)
    before: dict[tuple[int, int], npt.NDArray[np.int64]] = {}
    earlier: list[int] = []
    for w in order:
        before[w] = np.asarray(earlier, dtype=np.int64)
        earlier.extend(weeks[w])
    position = {p.id: i for i, p in enumerate(papers)}
    week_of = [iso_week(p.announced) for p in papers if p.announced is not None]

    tasks: list[Task] = []
    for name in sorted(lists):
        mine = sorted({position[pid] for pid in lists[name] if pid in position})
        mine_set = set(mine)
        mine_weeks = sorted({week_of[i] for i in mine})
        used = 0
        for w in mine_weeks:
            saved = tuple(i for i in mine if week_of[i] < w)
            if len(saved) < min_saved:
                continue
            if max_weeks is not None and used >= max_weeks:
                break
            used += 1
            pool = before[w]
            pool = pool[~np.isin(pool, np.asarray(saved, dtype=np.int64))]
            rng = np.random.default_rng(_stable_seed(seed, name, *w))
            size = min(background_size, len(pool))
            background = tuple(sorted(int(i) for i in rng.choice(pool, size, replace=False)))
            cands = tuple(weeks[w])
            tasks.append(
                Task(
                    group=name,
                    label=f"{w[0]}-W{w[1]:02d}",
                    saved=saved,
                    candidates=cands,
                    background=background,
                    relevant=frozenset(i for i in cands if i in mine_set),
                    tie_seed=_stable_seed(seed, "ties", name, *w),
                )
            )
    return tasks


# --- scoring a method ----------------------------------------------------------------------

Method = Callable[[Task], Sequence[float] | FloatArray]


@dataclass(slots=True)
class Report:
    """Per-task metric values of one method, averaged per group and macro over groups."""

    metrics: tuple[str, ...]
    per_task: dict[str, list[tuple[float, ...]]] = field(default_factory=dict)
    seconds: float = 0.0

    def per_group(self) -> dict[str, tuple[float, ...]]:
        """Each group's (list's) mean of every metric over its tasks (weeks or draws)."""
        return {
            g: tuple(float(np.mean([row[m] for row in rows])) for m in range(len(self.metrics)))
            for g, rows in sorted(self.per_task.items())
        }

    def macro(self) -> tuple[float, ...]:
        """The mean over groups of each group's mean: every list counts the same."""
        groups = list(self.per_group().values())
        if not groups:
            return tuple(0.0 for _ in self.metrics)
        return tuple(float(np.mean([g[m] for g in groups])) for m in range(len(self.metrics)))

    def n_tasks(self) -> int:
        """How many rankings were scored."""
        return sum(len(rows) for rows in self.per_task.values())


def task_metrics(task: Task, scores: Sequence[float] | FloatArray, kind: str) -> tuple[float, ...]:
    """The metric values of one task's scores (``kind`` is "seed" or "replay")."""
    if len(scores) != len(task.candidates):
        raise ValueError(f"{len(scores)} scores for {len(task.candidates)} candidates")
    order = order_scores(scores, task.tie_seed)
    rel = [task.candidates[j] in task.relevant for j in order]
    n_rel = len(task.relevant)
    if kind == "seed":
        return (ndcg_at_k(rel, n_rel), precision_at_k(rel), average_precision(rel, n_rel))
    return (
        ndcg_at_k(rel, n_rel),
        recall_at_k(rel, n_rel, 10),
        recall_at_k(rel, n_rel, 25),
        reciprocal_rank(rel),
    )


def evaluate(
    tasks: Iterable[Task],
    method: Method,
    kind: str,
    *,
    clock: Callable[[], float] | None = None,
) -> Report:
    """Run ``method`` on every task and collect its metrics (``kind``: "seed" or "replay").

    ``clock`` (e.g. ``time.perf_counter``) is injected by callers that want the time spent
    inside the method; the module itself never reads the clock.
    """
    if kind not in ("seed", "replay"):
        raise ValueError(f"kind must be 'seed' or 'replay', got {kind!r}")
    report = Report(metrics=SEED_METRICS if kind == "seed" else REPLAY_METRICS)
    for task in tasks:
        start = clock() if clock else 0.0
        scores = method(task)
        if clock:
            report.seconds += clock() - start
        report.per_task.setdefault(task.group, []).append(task_metrics(task, scores, kind))
    return report


# --- presenting results ------------------------------------------------------------------


def reports_table(reports: Mapping[str, Report], metric: str) -> str:
    """A text table of one metric: a row per method, a column per list, then the macro."""
    first = next(iter(reports.values()), None)
    if first is None:
        return ""
    m = first.metrics.index(metric)
    groups = sorted({g for r in reports.values() for g in r.per_task})
    width = max(len(name) for name in reports)
    header = f"{metric:<{width}} " + " ".join(f"{g[:12]:>12}" for g in groups) + f" {'macro':>7}"
    lines = [header, "-" * len(header)]
    for name, report in reports.items():
        per = report.per_group()
        cells = " ".join(f"{per[g][m]:>12.3f}" if g in per else f"{'-':>12}" for g in groups)
        lines.append(f"{name:<{width}} {cells} {report.macro()[m]:>7.3f}")
    return "\n".join(lines)


def reports_json(reports: Mapping[str, Report]) -> dict[str, object]:
    """The same figures as plain data: per method, the macro and per-list means by metric."""
    out: dict[str, object] = {}
    for name, report in reports.items():
        out[name] = {
            "tasks": report.n_tasks(),
            "seconds": round(report.seconds, 3),
            "macro": dict(zip(report.metrics, report.macro(), strict=True)),
            "lists": {
                g: dict(zip(report.metrics, values, strict=True))
                for g, values in report.per_group().items()
            },
        }
    return out
