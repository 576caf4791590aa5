"""Ranking variants on the weekly digest replay, with a two-fold choice of every constant.

Issue #21's experiment harness. Every replay task (quality-benchmark.md, benchmark 2) is
ranked once per *component* (one fitted model's logits: the words view, the meaning view
with some C, recency weights, more negatives, per-interest models), and every *variant*
is a mix of components, so a grid of hundreds of variants costs a few fits per task.
A variant is named ``W=<words>,M=<meaning>,b=<meaning's share>,I=<interests>,a=<their
share>``; today's ranker is ``W=W,M=M.C1,b=0.5,I=-,a=0`` (the mean of the two views'
logits), checked against ``recommender.rank`` itself with ``--check N``.

Two-fold protocol: the ten dev lists are split into two fixed halves (:data:`FOLDS`:
alternate lists in name order). Within each family of variants (one direction of the
issue) the constants are chosen on one half (best macro nDCG@10) and reported on the
other, then the other way round; ``held-out`` is each list scored with the variant
chosen on the half it is not in. A change counts only if it helps there. The arxiv-sanity
and centroid baselines come from a ``benchmarks/replay.py --save-tasks`` file of the
same tasks (``--baselines``; deterministic, so the same figures as in one run).

Usage::

    python benchmarks/variants.py --listings $D/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists $D/dev-lists.json --index-cache I --embeddings V.npz \\
        --baselines B.json [--max-weeks 4] [--save S.json] [--check 20]
    python benchmarks/variants.py --report S.json --baselines B.json   # tables again
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import bootstrap_change, cached_index, log
from paperboy.jobs.ranking.evaluate import load_embeddings, load_listings, load_lists
from paperboy.recommender import Embeddings, Index, Paper
from paperboy.recommender.baselines import Paperboy
from paperboy.recommender.evaluation import Task, replay_tasks, task_metrics
from paperboy.recommender.interests import find_interests, interest_scores
from paperboy.recommender.model import embedding_scores, logistic_scores
from paperboy.recommender.recency import ranking_day, recency_weights

FloatArray = npt.NDArray[np.float64]

# The two fixed halves of dev-lists.json's ten lists: alternate lists in name order,
# written down before any variant was measured.
FOLDS = {
    "A": (
        "agent-memory",
        "driving-llm",
        "llm-jailbreak",
        "rl-reasoning",
        "text-to-3d",
    ),
    "B": (
        "deep-research-agents",
        "image-editing",
        "long-context",
        "spec-decoding",
        "token-reduction",
    ),
}
TODAY = "W=W,M=M.C1,b=0.5,I=-,a=0"

WORD_HALF_LIVES = (180, 365)
WORD_CS = (3.0,)
NEIGHBOURS = (3, 10)  # k of the k-nearest-saved-papers score (a non-parametric interests view)
MEANING_HALF_LIVES = (60, 120, 240, 365)
MEANING_CS = (0.3, 1.0, 3.0)
BIG_NEGATIVES = 20000
SILHOUETTES = (0.0, 0.03, 0.06)
INTEREST_MIX = (0.25, 0.5, 0.75, 1.0)
VIEW_SHARES = (0.35, 0.5, 0.65)
# Per-user view weights: the newest fifth of the saved papers (at least 2) held out, the
# share of the meaning view that ranks them best against half the background, shrunk to
# 0.5 with the weight of PRIORS held-out papers.
USER_SHARES = np.linspace(0.0, 1.0, 11)
PRIORS = (5, 20)


def user_share(
    saved: Sequence[Paper],
    X_s: Any,
    X_n: Any,
    E_s: npt.NDArray[np.float32],
    E_n: npt.NDArray[np.float32],
) -> tuple[float, int]:
    """The meaning view's share that ranks the user's newest saved papers best, and how
    many were held out (the evidence behind it)."""
    order = np.argsort([p.announced.toordinal() if p.announced else 0 for p in saved])
    m = max(2, len(saved) // 5)
    hold, train = order[-m:], order[:-m]
    fit_n, test_n = np.arange(0, X_n.shape[0], 2), np.arange(1, X_n.shape[0], 2)
    X_test = sp.vstack([X_s[hold], X_n[test_n]], format="csr")
    E_test = np.vstack([E_s[hold], E_n[test_n]])
    w = logistic_scores(X_s[train], X_n[fit_n], X_test, C=10.0).raw
    e = embedding_scores(E_s[train], E_n[fit_n], E_test, C=1.0).raw
    best, best_ap = 0.5, -1.0
    for b in USER_SHARES:
        fused = (1 - b) * w + b * e
        ranks = np.argsort(np.argsort(-fused))[:m]  # the held-out papers' positions
        ap = float(np.mean(np.arange(1, m + 1) / (np.sort(ranks) + 1)))
        if ap > best_ap + 1e-12 or (abs(ap - best_ap) <= 1e-12 and abs(b - 0.5) < abs(best - 0.5)):
            best, best_ap = float(b), ap
    return best, m


def components(
    task: Task,
    papers: Sequence[Paper],
    index: Index,
    emb: Embeddings,
    big: Callable[[Task], npt.NDArray[np.float32]] | None,
) -> dict[str, FloatArray]:
    """Every fitted model's logits on the task's candidates, by component name."""
    saved = [papers[i] for i in task.saved]
    neg = [papers[i] for i in task.background]
    cands = [papers[i] for i in task.candidates]
    X_s, X_n, X_c = index.features(saved), index.features(neg), index.features(cands)
    E_s, has_s = emb.rows(saved)
    E_n, has_n = emb.rows(neg)
    E_c, _ = emb.rows(cands)
    E_s, E_n = E_s[has_s], E_n[has_n]
    day = ranking_day(cands)  # as rank() dates a ranking: its newest candidate
    assert day is not None
    out: dict[str, FloatArray] = {"W": logistic_scores(X_s, X_n, X_c, C=10.0).raw}
    for h in WORD_HALF_LIVES:
        w = recency_weights(saved, day, h)
        out[f"W.h{h}"] = logistic_scores(X_s, X_n, X_c, C=10.0, saved_weights=w).raw
    for C in WORD_CS:
        out[f"W.C{C:g}"] = logistic_scores(X_s, X_n, X_c, C=C).raw
    for C in MEANING_CS:
        out[f"M.C{C:g}"] = embedding_scores(E_s, E_n, E_c, C=C).raw
    dated = [p for p, h in zip(saved, has_s, strict=True) if h]
    for h in MEANING_HALF_LIVES:
        w = recency_weights(dated, day, h)
        out[f"M.h{h}"] = embedding_scores(E_s, E_n, E_c, C=1.0, saved_weights=w).raw
    if big is not None:
        E_big = big(task)
        for C in (1.0, 3.0):
            out[f"M.big.C{C:g}"] = embedding_scores(E_s, E_big, E_c, C=C).raw
    if len(E_s) == len(saved):
        share, m = user_share(saved, X_s, X_n, E_s, E_n)
        for prior in PRIORS:
            out[f"P.m{prior}"] = np.asarray([(m * share + prior * 0.5) / (m + prior)])
    seen: dict[bytes, FloatArray] = {}
    for s in SILHOUETTES:
        labels = find_interests(E_s, min_silhouette=s)
        key = labels.tobytes()
        if key not in seen:
            if labels.max() == 0:
                seen[key] = out["M.C1"]
            else:
                seen[key] = interest_scores(E_s, labels, E_n, E_c, C=1.0).raw
        out[f"I.s{s:g}"] = seen[key]
        out[f"k.s{s:g}"] = np.asarray([labels.max() + 1], dtype=np.float64)
    # Mean cosine to the k nearest saved papers, put on the meaning logit's scale (its
    # mean and spread over the candidates) so that it mixes like an interest score.
    sims = np.sort(np.asarray(E_s @ E_c.T, dtype=np.float64), axis=0)[::-1]
    base = out["M.C1"]
    for k in NEIGHBOURS:
        near = sims[: min(k, len(sims))].mean(axis=0)
        z = (near - near.mean()) / max(float(near.std()), 1e-12)
        out[f"I.knn{k}"] = base.mean() + base.std() * z
    return out


def variant_names(comps: Mapping[str, FloatArray]) -> list[str]:
    """The grid of variants the components allow."""
    words = [k for k in comps if k.startswith("W")]
    shares = [f"{b:g}" for b in VIEW_SHARES] + [k[2:] for k in comps if k.startswith("P.")]
    meaning = [k for k in comps if k.startswith("M.")]
    interests = [("-", 0.0)] + [(k, a) for k in comps if k.startswith("I.") for a in INTEREST_MIX]
    return [
        f"W={w},M={m},b={b},I={i},a={a:g}"
        for w, m, b, (i, a) in itertools.product(words, meaning, shares, interests)
    ]


def variant_scores(name: str, comps: Mapping[str, FloatArray]) -> FloatArray:
    """The fused logit of one variant: ``(1-b) W + b ((1-a) M + a I)``."""
    parts = dict(p.split("=") for p in name.split(","))
    a = float(parts["a"])
    b = float(comps[f"P.{parts['b']}"][0]) if parts["b"].startswith("m") else float(parts["b"])
    meaning = comps[parts["M"]]
    if parts["I"] != "-":
        meaning = (1 - a) * meaning + a * comps[parts["I"]]
    return np.asarray((1 - b) * comps[parts["W"]] + b * meaning, dtype=np.float64)


def family(name: str) -> str:
    """Which direction of the issue a variant belongs to (one factor away from today)."""
    t = dict(p.split("=") for p in TODAY.split(","))
    v = dict(p.split("=") for p in name.split(","))
    changed = {k for k in t if t[k] != v[k]}
    if not changed:
        return "today"
    if changed <= {"W", "M"} and all(
        v[k] == t[k] or v[k].startswith(("W.C", "M.C", "M.big")) for k in ("W", "M")
    ):
        return "negatives and C"
    if changed <= {"W", "M"} and all(v[k] == t[k] or ".h" in v[k] for k in ("W", "M")):
        return "drift (recency half-life)"
    if changed <= {"I", "a"}:
        return "several interests (kNN)" if "knn" in v["I"] else "several interests (clusters)"
    if changed == {"b"}:
        return "view weights (per user)" if v["b"].startswith("m") else "view weights (global)"
    return "combined"


def ndcg10(task: Task, scores: FloatArray) -> float:
    """nDCG@10 from the ten best scores (as task_metrics, but ties are not shuffled:
    fused logits practically never tie, and the grid needs thousands of these a task)."""
    k = min(10, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    rel = [task.candidates[int(j)] in task.relevant for j in top]
    dcg = sum(1.0 / np.log2(i + 2) for i, r in enumerate(rel) if r)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(10, len(task.relevant))))
    return float(dcg / ideal) if ideal > 0 else 0.0


def big_negatives(
    papers: Sequence[Paper], emb: Embeddings, size: int, seed: int
) -> Callable[[Task], npt.NDArray[np.float32]]:
    """Per week, ``size`` random papers announced before it (one draw shared by all lists)."""
    dates = np.asarray([p.announced.toordinal() if p.announced else 0 for p in papers])
    cache: dict[str, npt.NDArray[np.float32]] = {}

    def draw(task: Task) -> npt.NDArray[np.float32]:
        week = task.label
        if week not in cache:
            first = min(dates[i] for i in task.candidates)
            pool = np.flatnonzero(dates < first)
            rng = np.random.default_rng([seed, first])
            pick = rng.choice(pool, min(size, len(pool)), replace=False)
            rows, has = emb.rows([papers[i] for i in sorted(pick)])
            cache.clear()
            cache[week] = rows[has]
        # Saved papers are not negatives: a random 20k of ~70k rarely holds one; the
        # replay's own background excludes them exactly, this pool approximately.
        return cache[week]

    return draw


def run(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    papers = load_listings(args.listings)
    lists = load_lists(args.lists, [n for n in args.only.split(",") if n])
    index = cached_index(papers, args.index_cache)
    emb = load_embeddings(papers, args.embeddings, log)
    tasks = replay_tasks(papers, lists, max_weeks=args.max_weeks)
    # Tasks grouped by week, so the big negative draw is made once per week.
    tasks.sort(key=lambda t: (t.label, t.group))
    big = big_negatives(papers, emb, BIG_NEGATIVES, 0) if args.big else None
    results: dict[str, dict[str, list[tuple[str, float]]]] = {}
    check = Paperboy(papers, index=index, embeddings=emb) if args.check else None
    started = time.perf_counter()
    for n, task in enumerate(tasks, start=1):
        comps = components(task, papers, index, emb, big)
        for name in variant_names(comps):
            value = ndcg10(task, variant_scores(name, comps))
            results.setdefault(name, {}).setdefault(task.group, []).append((task.label, value))
        for key in (k for k in comps if k.startswith(("k.", "P."))):
            results.setdefault(key, {}).setdefault(task.group, []).append(
                (task.label, float(comps[key][0]))
            )
        if check is not None and n <= args.check:
            ours = task_metrics(task, check(task), "replay")[0]
            mine = results[TODAY][task.group][-1][1]
            if abs(ours - mine) > 1e-9:
                log(f"check: {task.group} {task.label}: rank() {ours:.4f} vs harness {mine:.4f}")
        if n % 20 == 0:
            log(f"{n}/{len(tasks)} tasks, {time.perf_counter() - started:.0f} s")
    # Back in the replay's order (list, then week), as replay.py saves them.
    return {
        name: {g: [v for _, v in sorted(rows)] for g, rows in sorted(groups.items())}
        for name, groups in results.items()
    }


def macro(per_task: Mapping[str, Sequence[float]], groups: Sequence[str]) -> float:
    return float(np.mean([np.mean(per_task[g]) for g in groups if g in per_task]))


def report(results: Mapping[str, Mapping[str, list[float]]], baselines: Mapping[str, Any]) -> str:
    """Per-family two-fold tables, per-list table, gap closed and a paired bootstrap."""
    groups = sorted(results[TODAY])
    folds = {f: [g for g in gs if g in groups] for f, gs in FOLDS.items()}
    variants = [v for v in results if not v.startswith(("k.", "P."))]
    families: dict[str, list[str]] = {}
    for v in variants:
        families.setdefault(family(v), []).append(v)
    families["all (any mix of the grid)"] = variants
    sanity = baselines.get("arxiv-sanity")
    lines: list[str] = []

    def gap(scores: Mapping[str, float]) -> str:
        if sanity is None:
            return ""
        s = np.mean([np.mean(sanity[g]) for g in groups])
        o = np.mean([scores[g] for g in groups])
        return f"; x{o / s:.3f} arxiv-sanity, gap closed {(o - s) / (1 - s):.1%}"

    today = {g: float(np.mean(results[TODAY][g])) for g in groups}
    lines.append(f"today's ranker {TODAY}: macro {np.mean(list(today.values())):.4f}{gap(today)}")
    held: dict[str, dict[str, float]] = {}
    held_tasks: dict[str, dict[str, list[float]]] = {}
    for fam, names in families.items():
        if fam == "today":
            continue
        held[fam], held_tasks[fam] = {}, {}
        lines.append(f"\n== {fam}: {len(names)} variants ==")
        for tune, test in (("A", "B"), ("B", "A")):
            best = max([TODAY, *names], key=lambda v: macro(results[v], folds[tune]))
            on_test = macro(results[best], folds[test])
            base = macro(results[TODAY], folds[test])
            lines.append(
                f"tuned on {tune}: {best}  |  {tune} {macro(results[best], folds[tune]):.4f}"
                f" (today {macro(results[TODAY], folds[tune]):.4f})  |  held-out {test}"
                f" {on_test:.4f} (today {base:.4f}, {on_test - base:+.4f})"
            )
            for g in folds[test]:
                held[fam][g] = float(np.mean(results[best][g]))
                held_tasks[fam][g] = list(results[best][g])
        o = held[fam]
        lines.append(
            f"held-out over all lists: {np.mean(list(o.values())):.4f} vs today "
            f"{np.mean(list(today.values())):.4f}{gap(o)}"
        )
        lines.append(
            bootstrap_change({g: list(results[TODAY][g]) for g in groups}, held_tasks[fam])
        )
    # Per-list table of the held-out choice of each family beside the baselines.
    header = f"{'nDCG@10':32s}" + "".join(f"{g[:10]:>11s}" for g in groups) + f"{'macro':>8s}"
    lines += ["", header]
    rows: dict[str, dict[str, float]] = {}
    for name, per in baselines.items():
        rows[name] = {g: float(np.mean(per[g])) for g in groups if g in per}
    rows["today's ranker"] = today
    for fam, o in held.items():
        rows[f"held-out: {fam}"[:32]] = o
    for name, o in rows.items():
        cells = "".join(f"{o.get(g, float('nan')):11.3f}" for g in groups)
        lines.append(f"{name[:32]:32s}{cells}{np.mean([o[g] for g in groups if g in o]):8.3f}")
    for key in (k for k in results if k.startswith(("k.", "P."))):
        ks = {g: float(np.mean(results[key][g])) for g in groups}
        found = ", ".join(f"{g[:10]} {v:.2f}" for g, v in ks.items())
        what = "interests found" if key.startswith("k.") else "per-user meaning share"
        lines.append(f"mean {what} ({key}): {found}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path)
    parser.add_argument("--lists", type=Path)
    parser.add_argument("--only", default="")
    parser.add_argument("--max-weeks", type=int, default=None)
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--embeddings", type=Path)
    parser.add_argument("--baselines", type=Path, help="replay.py --save-tasks file")
    parser.add_argument("--save", type=Path, help="write every variant's per-task nDCG@10")
    parser.add_argument("--report", type=Path, help="a --save file: print its tables again")
    parser.add_argument("--big", action="store_true", help=f"{BIG_NEGATIVES} random negatives")
    parser.add_argument("--check", type=int, default=0, help="compare today's with rank()")
    args = parser.parse_args(argv)
    baselines: dict[str, Any] = {}
    if args.baselines is not None:
        saved = json.loads(args.baselines.read_text(encoding="utf-8"))
        baselines = {k: v for k, v in saved.items() if k != "paperboy"}
    if args.report is not None:
        results = json.loads(args.report.read_text(encoding="utf-8"))
    else:
        if args.listings is None or args.lists is None:
            parser.error("--listings and --lists are needed unless --report is given")
        results = run(args)
        if args.save is not None:
            args.save.write_text(json.dumps(results), encoding="utf-8")
    for name, per in baselines.items():
        for g, rows in results[TODAY].items():
            # A --max-weeks run holds each list's first weeks: the baselines' first ones.
            if g in per and len(per[g]) < len(rows):
                raise SystemExit(f"--baselines: {name}/{g}: {len(per[g])} tasks, not {len(rows)}")
            if g in per:
                per[g] = per[g][: len(rows)]
    print(report(results, baselines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
