"""Development benchmark 1: topic profiles on the seed corpus (docs: quality-benchmark.md).

For each list L and each of 10 repetitions (one fixed seed for the whole run):
saved = 8 papers drawn from L, candidates = every other paper of the corpus,
relevant = the candidates on L. Methods see only the papers' text, never the lists.

Methods, all run on the same draws (recommender.baselines):

- ``paperboy``: ``recommender.rank`` with background = the candidates, an Index built
  once over the corpus (``--one-off``: every ranking fits its own features instead) and
  the papers' sentence embeddings from ``--embeddings`` (an .npz with ``ids`` and
  ``emb``, e.g. ../shared/data/seed-corpus-minilm.npz; ``--no-embeddings``: the words
  view alone; default: computed with the shipped encoder);
- ``centroid``: TF-IDF (word 1-2 grams, sublinear tf, English stop words), cosine to the
  mean of the saved rows;
- ``arxiv-sanity``: arxiv-sanity-lite's recipe (its ``compute.py`` vectoriser, its
  ``serve.py`` LinearSVC C=0.01 balanced, saved vs. everything else); min_df is scaled
  to the 666-paper corpus: ``max(1, min(5, n_docs // 200))`` = 3.

Usage::

    python benchmarks/seed_profiles.py --corpus ../shared/data/seed-corpus.jsonl \
        [--embeddings ../shared/data/seed-corpus-minilm.npz] [--seeds 0-4] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import parse_options
from paperboy.jobs.ranking.evaluate import load_embeddings, load_seed_corpus, run_seed, summary
from paperboy.recommender import Index
from paperboy.recommender.evaluation import Report, reports_json


def log(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every method on the same draws and print nDCG@10, P@10 and AP tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="seed-corpus.jsonl")
    parser.add_argument("--seeds", default="0-4", help="draw seeds: N, N-M or N,M,...")
    parser.add_argument("--embeddings", type=Path, help=".npz with ids and emb")
    parser.add_argument("--no-embeddings", action="store_true", help="the words view alone")
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated list names (default: all)")
    parser.add_argument("--one-off", action="store_true", help="no shared index")
    parser.add_argument("--opt", action="append", default=[], help="rank() option key=value")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    papers, lists = load_seed_corpus(args.corpus)
    only = [n for n in args.only.split(",") if n]
    if only:
        lists = {n: v for n, v in lists.items() if n in only}
    options = parse_options(args.opt)
    index = None if args.one_off else Index.build(papers)
    embeddings = None if args.no_embeddings else load_embeddings(papers, args.embeddings, log)
    per_seed: list[dict[str, Report]] = []
    for seed in parse_seeds(args.seeds):
        reports = run_seed(
            papers,
            lists,
            seed=seed,
            repetitions=args.repetitions,
            index=index,
            embeddings=embeddings,
            one_off=args.one_off,
            paperboy_options=options,
        )
        per_seed.append(reports)
        if args.json:
            print(json.dumps({"seed": seed, **reports_json(reports)}))
        else:
            print(f"--- seed {seed} ---")
            print(summary("seed", reports))
    if not args.json and len(per_seed) > 1:
        print(mean_table(per_seed))
    return 0


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"1,3"`` -> [1, 3]; ``"2"`` -> [2]."""
    if "-" in text:
        first, last = text.split("-", 1)
        return list(range(int(first), int(last) + 1))
    return [int(part) for part in text.split(",") if part]


def mean_table(per_seed: Sequence[dict[str, Report]]) -> str:
    """Macro nDCG@10 per method and seed, and the mean over seeds (the figure to compare)."""
    methods = list(per_seed[0])
    lines = [
        "macro nDCG@10 by draw seed",
        "method        " + "".join(f"{i:>8}" for i in range(len(per_seed))) + "    mean",
    ]
    for m in methods:
        values = [r[m].macro()[0] for r in per_seed]
        lines.append(
            f"{m:14s}" + "".join(f"{v:8.3f}" for v in values) + f"{sum(values) / len(values):8.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
