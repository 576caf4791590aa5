"""Per-candidate signals of every dev-replay task, for studying how to combine them.

For each user-week of the weekly digest replay (docs/quality-benchmark.md) this ranks
the candidates with today's ``recommender.rank`` and records, per candidate, the two
views' logits exactly as ``rank`` fuses them (captured at ``fuse``), together with
signals the ranker does not use today:

- ``knn1`` / ``knn3``: the largest / mean of the three largest cosines between the
  candidate's sentence embedding and the saved papers';
- ``authors``: how many of the candidate's authors wrote one of the saved papers
  (names folded as ``recommender.text.fold`` folds them);
- ``category``: the share of the saved papers that carry the candidate's primary arXiv
  category;
- ``n_authors`` (log1p), ``code`` (a code or project link in the abstract or comment);
- ``knn_recent`` / ``category_recent``: ``knn1`` and ``category`` over the newest
  :data:`RECENT` saved papers only (drift);
- with ``--words-interests``, ``words_interest``: the words view per interest (the saved
  papers clustered by their TF-IDF rows, one words model each, the best one's logit),
  and ``n_interests``.

It writes one ``.npz`` (``--out``): the rows of every task, its labels (relevant or
not), the task of each row, and the lists, weeks and tie seeds of the tasks. Nothing
here is tuned: ``benchmarks/fusion_study.py`` reads the file and fits combinations on one
half of the lists, reporting them on the other.

Usage::

    python benchmarks/fusion_features.py --listings $D/arxiv-listings-2025-03_2026-07.jsonl.gz \\
        --lists $D/dev-lists.json --index-cache I --embeddings V.npz --out F.npz
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paperboy.recommender.ranker as ranker_module
from benchmarks.replay import cached_index, log, parse_options
from paperboy.jobs.ranking.evaluate import load_embeddings, load_listings, load_lists
from paperboy.recommender import Profile, rank
from paperboy.recommender.evaluation import replay_tasks
from paperboy.recommender.interests import find_interests
from paperboy.recommender.ranker import MIN_SILHOUETTE
from paperboy.recommender.text import fold

FEATURES = (
    "words",
    "meaning",
    "has_meaning",
    "knn1",
    "knn3",
    "authors",
    "category",
    "n_authors",
    "code",
    "knn_recent",
    "category_recent",
    "words_interest",
    "n_interests",
)
RECENT = 20  # the newest saved papers the "recent" signals read (drift)
CODE = re.compile(r"github\.com|gitlab\.com|huggingface\.co|project page|code is available", re.I)


def words_interest(
    fit: Any, raw: Any, min_silhouette: float, positives: Any, *rest: Any, **options: Any
) -> Any:
    """The words view per interest: the saved papers clustered by their TF-IDF rows (the
    columns they use; recommender.interests with ``min_silhouette``), one words model per
    interest (``fit`` called as the ranker called it, on that interest's rows), each
    candidate scored by its best. ``raw`` where the saved papers make one interest.
    Returns (logits, number of interests)."""
    used = np.unique(positives.indices)
    rows = positives[:, used].toarray().astype(np.float64)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    labels = find_interests(rows, min_silhouette=min_silhouette)
    k = int(labels.max()) + 1
    if k == 1:
        return raw.copy(), 1
    best = np.full(len(raw), -np.inf)
    for j in range(k):
        best = np.maximum(best, fit(positives[labels == j], *rest, **options).raw)
    return best, k


def cosines(unit: Any, rows: Any, cols: Any) -> Any:
    """Dense cosines between rows ``rows`` and ``cols`` of the unit-row matrix ``unit``
    (numpy, or scipy sparse for the TF-IDF rows)."""
    product = unit[rows] @ unit[cols].T
    return np.asarray(product.toarray() if hasattr(product, "toarray") else product)


def category_share(papers: Sequence[Any], saved: Any, candidates: Sequence[int]) -> Any:
    """Per candidate, the share of the ``saved`` papers carrying its primary category."""
    counts: dict[str, int] = {}
    for i in saved:
        for c in set(papers[i].categories):
            counts[c] = counts.get(c, 0) + 1
    return np.asarray(
        [
            counts.get(papers[i].categories[0], 0) / len(saved) if papers[i].categories else 0.0
            for i in candidates
        ]
    )


def comments(path: Path) -> dict[str, str]:
    """The listings' comment field by id (``load_listings`` keeps only what the ranker reads)."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    out: dict[str, str] = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("comment"):
                out[row["id"]] = str(row["comment"])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Rank every task once and write its candidates' signals."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--lists", type=Path, required=True)
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--embeddings", type=Path, help="none: the words view alone, kNN on TF-IDF")
    parser.add_argument("--max-weeks", type=int, default=None)
    parser.add_argument("--only", default="")
    parser.add_argument("--opt", action="append", default=[], help="rank() option key=value")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--words-interests", action="store_true", help="also the words view per interest"
    )
    parser.add_argument("--words-min-silhouette", type=float, default=MIN_SILHOUETTE)
    args = parser.parse_args(argv)

    papers = load_listings(args.listings)
    notes = comments(args.listings)
    lists = load_lists(args.lists, [n for n in args.only.split(",") if n])
    embeddings = load_embeddings(papers, args.embeddings, log) if args.embeddings else None
    index = cached_index(papers, args.index_cache)
    tasks = replay_tasks(papers, lists, max_weeks=args.max_weeks)
    opts = parse_options(args.opt)

    ids = [p.id for p in papers]
    if embeddings is not None:
        E, has_row = embeddings.rows(papers)
        unit: Any = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    else:  # TF-IDF rows are l2-normalised already
        unit, has_row = index.features(papers), np.ones(len(papers), dtype=bool)
    row_of = np.cumsum(has_row) - 1  # a paper's row in E when it has one
    folded = [tuple(fold(a) for a in p.authors) for p in papers]
    n_authors = np.log1p(np.asarray([len(p.authors) for p in papers], dtype=np.float64))
    code = np.asarray(
        [bool(CODE.search(f"{p.abstract} {notes.get(p.id, '')}")) for p in papers], dtype=float
    )

    captured: list[Any] = []
    words_raw: list[Any] = []
    real_fuse, real_words = ranker_module.fuse, ranker_module.logistic_scores

    def spy(views: Any, shares: Any = None) -> Any:
        captured.append([(raw.copy(), has.copy()) for raw, has in views])
        return real_fuse(views, shares)

    def spy_words(*a: Any, **k: Any) -> Any:
        scores = real_words(*a, **k)
        words_raw.append(scores.raw.copy())
        if args.words_interests:
            split = args.words_min_silhouette
            words_raw.append(words_interest(real_words, scores.raw, split, *a, **k))
        return scores

    ranker_module.fuse = spy  # type: ignore[assignment]
    ranker_module.logistic_scores = spy_words  # type: ignore[assignment]
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    task_of: list[np.ndarray] = []
    t0 = time.perf_counter()
    try:
        for t, task in enumerate(tasks):
            captured.clear()
            words_raw.clear()
            cands = [papers[i] for i in task.candidates]
            profile = Profile(saved=tuple(papers[i] for i in task.saved))
            background = [papers[i] for i in task.background]
            rank(profile, cands, background, index=index, embeddings=embeddings, explain=0, **opts)
            views = len(captured) == (embeddings is not None)
            if len(words_raw) != 1 + args.words_interests or not views:
                raise SystemExit(f"task {task.group} {task.label}: a view did not run")
            w_raw = words_raw[0]
            w_interest, n_interests = words_raw[1] if args.words_interests else (w_raw, 1)
            if captured:
                (_, _), (m_raw, m_has) = captured[0]
            else:
                m_raw, m_has = np.zeros(len(w_raw)), np.zeros(len(w_raw), dtype=bool)
            cand = np.asarray(task.candidates)
            saved = np.asarray(task.saved)
            s_rows = row_of[saved[has_row[saved]]]
            sims = np.full((len(cand), max(len(s_rows), 1)), -1.0)
            c_has = has_row[cand]
            if len(s_rows):
                sims[c_has] = cosines(unit, row_of[cand[c_has]], s_rows)
            top = -np.sort(-sims, axis=1)
            knn1 = np.where(c_has, top[:, 0], 0.0)
            knn3 = np.where(c_has, top[:, : min(3, top.shape[1])].mean(axis=1), 0.0)
            by_day = np.argsort([papers[i].announced for i in task.saved], kind="stable")
            newest = saved[by_day][-RECENT:]
            n_rows = row_of[newest[has_row[newest]]]
            knn_recent = np.zeros(len(cand))
            if len(n_rows):
                knn_recent[c_has] = cosines(unit, row_of[cand[c_has]], n_rows).max(axis=1)
            category_recent = category_share(papers, newest, task.candidates)
            category = category_share(papers, task.saved, task.candidates)
            saved_authors = {a for i in task.saved for a in folded[i]}
            authors = np.asarray([sum(a in saved_authors for a in folded[i]) for i in cand])
            block = np.column_stack(
                [
                    w_raw,
                    np.where(m_has, m_raw, 0.0),
                    m_has.astype(float),
                    knn1,
                    knn3,
                    authors,
                    category,
                    n_authors[cand],
                    code[cand],
                    knn_recent,
                    category_recent,
                    w_interest,
                    np.full(len(cand), n_interests, dtype=float),
                ]
            )
            rows.append(block)
            labels.append(np.asarray([i in task.relevant for i in task.candidates], dtype=bool))
            task_of.append(np.full(len(cand), t, dtype=np.int32))
            if (t + 1) % 50 == 0:
                log(f"{t + 1}/{len(tasks)} tasks, {time.perf_counter() - t0:.0f} s")
    finally:  # the ranker as it was, whatever happened
        ranker_module.fuse = real_fuse  # type: ignore[assignment]
        ranker_module.logistic_scores = real_words  # type: ignore[assignment]
    np.savez_compressed(
        args.out,
        X=np.vstack(rows),
        y=np.concatenate(labels),
        task=np.concatenate(task_of),
        features=np.asarray(FEATURES),
        group=np.asarray([t.group for t in tasks]),
        label=np.asarray([t.label for t in tasks]),
        tie_seed=np.asarray([t.tie_seed for t in tasks], dtype=np.int64),
        ids=np.asarray([ids[i] for t in tasks for i in t.candidates]),
    )
    log(f"{len(tasks)} tasks, {sum(len(r) for r in rows)} candidates -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
