"""Learned combinations of the ranker's signals, chosen on one half of the lists.

Reads ``benchmarks/fusion_features.py``'s file. A combination is a linear score over a
set of signals, each standardised within its task (z-scores over the week's
candidates, so that a weight means the same for every user and week). Its weights are
fitted on the tasks of one fold's lists (a logistic regression of relevant against the
other candidates, pointwise, every list weighing the same; or pairwise, relevant minus
other candidates of the same week) and the combination is scored on the other fold's
lists: every list is scored by weights that never saw it. Printed beside today's fusion
(``MEANING_SHARE`` of the meaning view's logit and the rest of the words view's, the
same order ``rank`` gives) with the paired
bootstrap of the change.

Usage::

    python benchmarks/fusion_study.py F.npz [--sets views,views+knn,...]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import bootstrap_change, bootstrap_interval
from benchmarks.variants import FOLDS  # the two fixed halves of the lists (issue #21)
from paperboy.recommender.evaluation import ndcg_at_k, order_scores
from paperboy.recommender.ranker import MEANING_SHARE

FloatArray = npt.NDArray[np.float64]

SETS = {
    "views": ("words", "meaning"),
    "views+knn": ("words", "meaning", "knn1", "knn3"),
    "views+authors": ("words", "meaning", "authors"),
    "views+category": ("words", "meaning", "category"),
    "views+knn+authors+category": ("words", "meaning", "knn1", "knn3", "authors", "category"),
    "views+item": ("words", "meaning", "n_authors", "code"),
    "all": ("words", "meaning", "knn1", "knn3", "authors", "category", "n_authors", "code"),
    "today+knn": ("today", "knn1", "knn3"),
    "views+recent": ("words", "meaning", "knn_recent", "category_recent"),
    "views+category_recent": ("words", "meaning", "category_recent"),
    "views+knn_recent": ("words", "meaning", "knn_recent"),
    "views+words_interest": ("words", "meaning", "words_interest"),
    "today+authors+category": ("today", "authors", "category"),
    "today+item": ("today", "n_authors", "code"),
}


def standardised(X: FloatArray, task: npt.NDArray[np.int32]) -> FloatArray:
    """Each column as z-scores within its task (0 where a task has no spread)."""
    Z = np.zeros_like(X)
    for t in np.unique(task):
        rows = task == t
        block = X[rows]
        sd = block.std(axis=0)
        Z[rows] = np.where(sd > 0, (block - block.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    return Z


def per_task_ndcg(
    scores: FloatArray, y: npt.NDArray[np.bool_], task: npt.NDArray[np.int32], seeds: Sequence[int]
) -> list[float]:
    """nDCG@10 of every task's order by ``scores`` (ties broken as the replay breaks them)."""
    out = []
    for t, seed in enumerate(seeds):
        rows = np.flatnonzero(task == t)
        order = order_scores(scores[rows], seed)
        rel = y[rows]
        out.append(ndcg_at_k([bool(rel[i]) for i in order], int(rel.sum())))
    return out


def fit_weights(
    Z: FloatArray,
    y: npt.NDArray[np.bool_],
    task: npt.NDArray[np.int32],
    groups: FloatArray,
    train: npt.NDArray[np.bool_],
    pairwise: bool,
    C: float,
) -> FloatArray:
    """Weights of a linear score over Z's columns, fitted on the ``train`` tasks' rows."""
    rows = train[task]
    if not pairwise:
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
        model.fit(Z[rows], y[rows], sample_weight=groups[task[rows]])
        return np.asarray(model.coef_[0], dtype=np.float64)
    rng = np.random.default_rng(0)
    diffs, weights = [], []
    for t in np.flatnonzero(train):
        r = np.flatnonzero(task == t)
        pos, neg = r[y[r]], r[~y[r]]
        if not len(pos) or not len(neg):
            continue
        pick = rng.choice(neg, size=min(len(neg), 50 * len(pos)), replace=False)
        pairs = Z[np.repeat(pos, len(pick))] - Z[np.tile(pick, len(pos))]
        diffs.append(pairs)
        weights.append(np.full(len(pairs), groups[t] / len(pairs)))
    D = np.vstack(diffs)
    W = np.concatenate(weights)
    Xp = np.vstack([D, -D])
    yp = np.concatenate([np.ones(len(D)), np.zeros(len(D))])
    model = LogisticRegression(C=C, fit_intercept=False, max_iter=1000)
    model.fit(Xp, yp, sample_weight=np.concatenate([W, W]))
    return np.asarray(model.coef_[0], dtype=np.float64)


def as_groups(per_task: list[float], group: Sequence[str]) -> dict[str, list[float]]:
    """Per-task figures by list, in task order (what the bootstrap reads)."""
    by: dict[str, list[float]] = defaultdict(list)
    for g, v in zip(group, per_task, strict=True):
        by[g].append(v)
    return dict(by)


def main(argv: Sequence[str] | None = None) -> int:
    """Fit each set's weights on one fold, score the other, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("features", type=Path)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--pairwise", action="store_true")
    parser.add_argument("--detail", action="store_true", help="every list's change per set")
    args = parser.parse_args(argv)

    data = np.load(args.features)
    X, y, task = data["X"], data["y"], data["task"]
    col = {str(n): i for i, n in enumerate(data["features"])}
    group = [str(g) for g in data["group"]]
    seeds = [int(s) for s in data["tie_seed"]]
    tasks_of: dict[str, int] = defaultdict(int)
    for g in group:
        tasks_of[g] += 1
    weight_of_task = np.asarray([1.0 / tasks_of[g] for g in group])

    # rank's fusion (model.fuse): a weighted mean of the logits, the same order as its sum
    today = (1 - MEANING_SHARE) * X[:, col["words"]] + MEANING_SHARE * X[:, col["meaning"]]
    X = np.column_stack([X, today])
    col["today"] = X.shape[1] - 1
    base = as_groups(per_task_ndcg(today, y, task, seeds), group)
    Z = standardised(X, task)
    fold_of_task = np.asarray(["A" if g in FOLDS["A"] else "B" for g in group])

    def fold_mean(per: dict[str, list[float]], fold: str) -> float:
        return float(np.mean([np.mean(per[g]) for g in FOLDS[fold] if g in per]))

    print(
        f"today's fusion: A {fold_mean(base, 'A'):.3f}, B {fold_mean(base, 'B'):.3f}, "
        f"all {np.mean([np.mean(v) for v in base.values()]):.3f} ({len(group)} tasks; "
        f"{'pairwise' if args.pairwise else 'pointwise'}, C {args.C:g})\n"
    )
    print(
        "| signals | weights fitted on B (applied to A) | weights fitted on A (applied to B) "
        "| held out on A | held out on B | all ten | 95% CI of the change | worst list |"
    )
    print("|---|---|---|---|---|---|---|---|")
    details = []
    for name in args.sets.split(","):
        cols = [col[c] for c in SETS[name]]
        scores = np.zeros(len(y))
        chosen: dict[str, FloatArray] = {}
        for held in ("A", "B"):
            train = fold_of_task != held
            chosen[held] = fit_weights(
                Z[:, cols], y, task, weight_of_task, train, args.pairwise, args.C
            )
            rows = (fold_of_task == held)[task]
            scores[rows] = Z[rows][:, cols] @ chosen[held]
        after = as_groups(per_task_ndcg(scores, y, task, seeds), group)
        change = {g: float(np.mean(after[g]) - np.mean(base[g])) for g in after}
        worst = min(change, key=lambda g: change[g])
        low, high = bootstrap_interval(base, after)
        shown = {
            held: ", ".join(f"{c} {v:+.2f}" for c, v in zip(SETS[name], w, strict=True))
            for held, w in chosen.items()
        }
        print(
            f"| {name} | {shown['A']} | {shown['B']} "
            f"| {fold_mean(after, 'A'):.3f} ({fold_mean(after, 'A') - fold_mean(base, 'A'):+.3f}) "
            f"| {fold_mean(after, 'B'):.3f} ({fold_mean(after, 'B') - fold_mean(base, 'B'):+.3f}) "
            f"| {np.mean([np.mean(v) for v in after.values()]):.3f} "
            f"| {low:+.3f} .. {high:+.3f} | {worst} {change[worst]:+.3f} |"
        )
        if args.detail:
            details.append(f"\n{name}\n" + bootstrap_change(base, after))
    for block in details:
        print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
