"""Development benchmark 1: topic profiles on the seed corpus (docs: quality-benchmark.md).

For each list L and each of 10 repetitions (one fixed seed for the whole run):
saved = 8 papers drawn from L, candidates = every other paper of the corpus,
relevant = the candidates on L. Methods see only the papers' text, never the lists.

Methods, all run on the same draws:

- ``paperboy``: ``recommender.rank`` with background = the candidates (as the one-off CLI
  does when no background file is given);
- ``centroid``: TF-IDF (word 1-2 grams, sublinear tf, English stop words) fitted on the
  corpus, cosine to the mean of the saved rows;
- ``arxiv-sanity``: arxiv-sanity-lite's recipe (its ``compute.py`` vectoriser: 1-2 grams,
  max_features 20000, max_df 0.1, sublinear tf, its token pattern; ``serve.py``'s
  LinearSVC C=0.01, balanced, trained saved-vs-everything-else). Its min_df is 5 on
  arxiv-sized corpora; the seed corpus has 666 papers, so it is scaled down to
  ``max(1, min(5, n_docs // 200))`` = 3 here (``--sanity-min-df`` overrides);
- ``random``: a uniformly random order, as a floor.

Usage::

    python benchmarks/seed_profiles.py --corpus ../shared/data/seed-corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender import Paper, Profile, rank

SAVED_PER_DRAW = 8
REPETITIONS = 10
K = 10

# A method gets (saved row indices, candidate row indices) and returns candidate indices
# (into the corpus), best first.
Method = Callable[[list[int], list[int]], list[int]]


def load(path: Path) -> tuple[list[Paper], list[set[str]]]:
    """Papers and, for each, the set of lists it is on."""
    papers: list[Paper] = []
    lists: list[set[str]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                papers.append(Paper(id=d["id"], title=d["title"], abstract=d.get("abstract", "")))
                lists.append(set(d.get("lists", [])))
    return papers, lists


def ndcg_at_k(ranked_rel: Sequence[bool], n_relevant: int, k: int = K) -> float:
    """Binary-relevance nDCG@k."""
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(ranked_rel[:k]) if r)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return dcg / ideal if ideal > 0 else 0.0


def precision_at_k(ranked_rel: Sequence[bool], k: int = K) -> float:
    """Fraction of the first k that are relevant."""
    return sum(ranked_rel[:k]) / k


def average_precision(ranked_rel: Sequence[bool], n_relevant: int) -> float:
    """Mean of the precision at each relevant item's rank, over all relevant items."""
    hits = 0
    total = 0.0
    for i, r in enumerate(ranked_rel):
        if r:
            hits += 1
            total += hits / (i + 1)
    return total / n_relevant if n_relevant else 0.0


def order_by_score(scores: np.ndarray, cand: list[int], ids: list[str]) -> list[int]:
    """Candidates by descending score, ties by id."""
    return [cand[j] for j in sorted(range(len(cand)), key=lambda j: (-scores[j], ids[cand[j]]))]


def make_paperboy(papers: list[Paper]) -> Method:
    """recommender.rank, background = the candidates (the one-off CLI's default)."""

    def run(saved: list[int], cand: list[int]) -> list[int]:
        cands = [papers[i] for i in cand]
        ranked = rank(Profile(saved=tuple(papers[i] for i in saved)), cands, cands)
        row = {papers[i].id: i for i in cand}
        return [row[r.paper.id] for r in ranked]

    return run


def make_centroid(papers: list[Paper]) -> Method:
    """TF-IDF centroid cosine; the vectoriser is fitted once on the whole corpus."""
    texts = [f"{p.title} {p.abstract}" for p in papers]
    X = sp.csr_matrix(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english").fit_transform(
            texts
        )
    )
    ids = [p.id for p in papers]

    def run(saved: list[int], cand: list[int]) -> list[int]:
        centroid = np.asarray(X[saved].mean(axis=0)).ravel()
        return order_by_score(np.asarray(X[cand] @ centroid).ravel(), cand, ids)

    return run


def make_arxiv_sanity(papers: list[Paper], min_df: int) -> Method:
    """arxiv-sanity-lite: its compute.py vectoriser and serve.py LinearSVC, saved vs. rest."""
    texts = [f"{p.title} {p.abstract}" for p in papers]
    vectorizer = TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="replace",
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=min_df,
    )
    X = sp.csr_matrix(vectorizer.fit_transform(texts))
    ids = [p.id for p in papers]

    def run(saved: list[int], cand: list[int]) -> list[int]:
        rows = saved + cand
        y = np.zeros(len(rows), dtype=np.int64)
        y[: len(saved)] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
        clf.fit(X[rows], y)
        return order_by_score(clf.decision_function(X[cand]), cand, ids)

    return run


def make_random(papers: list[Paper], seed: int) -> Method:
    """A random order (its own fixed seed, so it does not disturb the draws)."""
    rng = np.random.default_rng(seed + 1)

    def run(saved: list[int], cand: list[int]) -> list[int]:
        return [cand[j] for j in rng.permutation(len(cand))]

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run every method on the same draws and print nDCG@10, P@10 and AP tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="seed-corpus.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    parser.add_argument("--sanity-min-df", type=int, default=None)
    args = parser.parse_args(argv)

    papers, lists = load(args.corpus)
    names = sorted({name for ls in lists for name in ls})
    sanity_min_df = args.sanity_min_df or max(1, min(5, len(papers) // 200))
    methods: dict[str, Method] = {
        "random": make_random(papers, args.seed),
        "centroid": make_centroid(papers),
        f"arxiv-sanity(min_df={sanity_min_df})": make_arxiv_sanity(papers, sanity_min_df),
        "paperboy": make_paperboy(papers),
    }
    rng = np.random.default_rng(args.seed)
    # results[method][list] = list of (ndcg, p@10, ap)
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        m: {n: [] for n in names} for m in methods
    }
    seconds = dict.fromkeys(methods, 0.0)
    for name in names:
        members = [i for i, ls in enumerate(lists) if name in ls]
        for _ in range(args.repetitions):
            saved = sorted(int(i) for i in rng.choice(members, SAVED_PER_DRAW, replace=False))
            saved_set = set(saved)
            cand = [i for i in range(len(papers)) if i not in saved_set]
            n_rel = sum(1 for i in cand if name in lists[i])
            for m, run in methods.items():
                t0 = time.perf_counter()
                order = run(saved, cand)
                seconds[m] += time.perf_counter() - t0
                assert sorted(order) == cand, f"{m} dropped or duplicated candidates"
                rel = [name in lists[i] for i in order]
                results[m][name].append(
                    (ndcg_at_k(rel, n_rel), precision_at_k(rel), average_precision(rel, n_rel))
                )

    n_runs = len(names) * args.repetitions
    print(
        f"seed corpus: {len(papers)} papers, {len(names)} lists, "
        f"{args.repetitions} draws of {SAVED_PER_DRAW} saved per list, seed {args.seed}\n"
    )
    width = max(len(m) for m in methods)
    for metric_i, metric in enumerate(("nDCG@10", "P@10", "AP")):
        header = f"{metric:<{width}} " + " ".join(f"{n[:14]:>14}" for n in names) + f" {'macro':>7}"
        print(header)
        print("-" * len(header))
        for m in methods:
            per_list = [float(np.mean([r[metric_i] for r in results[m][n]])) for n in names]
            cells = " ".join(f"{v:>14.3f}" for v in per_list)
            print(f"{m:<{width}} {cells} {np.mean(per_list):>7.3f}")
        print()
    print(
        "mean seconds per ranking: "
        + ", ".join(f"{m} {s / n_runs:.3f}" for m, s in seconds.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
