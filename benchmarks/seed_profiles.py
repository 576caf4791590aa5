"""Development benchmark 1: topic profiles on the seed corpus (docs: quality-benchmark.md).

For each list L and each of 10 repetitions (one fixed seed for the whole run):
saved = 8 papers drawn from L, candidates = every other paper of the corpus,
relevant = the candidates on L. Methods see only the papers' text, never the lists.

Methods, all run on the same draws (recommender.baselines):

- ``paperboy``: ``recommender.rank`` with background = the candidates and an Index built
  once over the corpus (``--one-off``: every ranking fits its own features instead);
- ``centroid``: TF-IDF (word 1-2 grams, sublinear tf, English stop words), cosine to the
  mean of the saved rows;
- ``arxiv-sanity``: arxiv-sanity-lite's recipe (its ``compute.py`` vectoriser, its
  ``serve.py`` LinearSVC C=0.01 balanced, saved vs. everything else); min_df is scaled
  to the 666-paper corpus: ``max(1, min(5, n_docs // 200))`` = 3.

Usage::

    python benchmarks/seed_profiles.py --corpus ../shared/data/seed-corpus.jsonl [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.replay import parse_options
from jobs.evaluate import load_seed_corpus, run_seed, summary
from recommender import Index
from recommender.evaluation import reports_json


def main(argv: Sequence[str] | None = None) -> int:
    """Run every method on the same draws and print nDCG@10, P@10 and AP tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="seed-corpus.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated list names (default: all)")
    parser.add_argument("--one-off", action="store_true", help="no shared index")
    parser.add_argument("--dense-dims", type=int, default=None, help="LSA dims (0: off)")
    parser.add_argument("--opt", action="append", default=[], help="rank() option key=value")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    papers, lists = load_seed_corpus(args.corpus)
    only = [n for n in args.only.split(",") if n]
    if only:
        lists = {n: v for n, v in lists.items() if n in only}
    options = parse_options(args.opt)
    index = None if args.one_off else Index.build(papers, dense_dims=args.dense_dims)
    reports = run_seed(
        papers,
        lists,
        seed=args.seed,
        repetitions=args.repetitions,
        index=index,
        one_off=args.one_off,
        paperboy_options=options,
    )
    print(json.dumps(reports_json(reports), indent=2) if args.json else summary("seed", reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
