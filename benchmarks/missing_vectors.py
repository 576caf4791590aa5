"""Are papers without a sentence vector ranked on the same scale as the others?

A paper without a vector is scored by the words view alone, the others by the mean of two
views' logits. This ranks the seed benchmark's topic profiles (8 saved papers per list
and draw, every other paper a candidate and a negative) twice: with every vector, then
with the vectors of a random half of the candidates removed (the saved papers and the
other negatives keep theirs). It prints, per condition, how many of the top 10 are
unencoded (5.0 expected if the two groups were on one scale), the spread (standard
deviation) of each group's logits, how much of the all-vectors top 10 is kept, and
precision@10 against the list::

    python benchmarks/missing_vectors.py ../shared/data/seed-corpus.jsonl \\
        ../shared/data/seed-corpus-minilm.npz [--draws 4]

Cheap: 2 rankings of 658 candidates per list and draw (a few seconds in all).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperboy.jobs.ranking.evaluate import load_seed_corpus
from paperboy.recommender import Embeddings, Profile, rank

TOP = 10
SAVED = 8


def logits(scores: list[float]) -> np.ndarray:
    s = np.clip(np.asarray(scores, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(s / (1 - s))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("vectors", type=Path, help="npz with ids, emb")
    parser.add_argument("--draws", type=int, default=4)
    args = parser.parse_args(argv)
    papers, lists = load_seed_corpus(args.corpus)
    with np.load(args.vectors) as data:
        ids, emb = [str(i) for i in data["ids"]], data["emb"].astype(np.float32)
    vectors = Embeddings.from_arrays(ids, emb)
    rng = np.random.default_rng(0)
    unencoded_top: list[int] = []
    kept: list[int] = []
    spread: dict[str, list[float]] = {"all": [], "encoded": [], "unencoded": []}
    precision: dict[str, list[float]] = {"all": [], "half": []}
    for name in sorted(lists):
        members = set(lists[name])
        for _ in range(args.draws):
            chosen = {int(i) for i in rng.choice(sorted(members), SAVED, replace=False)}
            saved = tuple(papers[i] for i in sorted(chosen))
            cands = [p for i, p in enumerate(papers) if i not in chosen]
            relevant = {papers[i].id for i in members - chosen}
            full = rank(Profile(saved=saved), cands, cands, embeddings=vectors)
            dropped = {p.id for p in cands if rng.random() < 0.5}
            half_vectors = Embeddings.from_arrays(
                [i for i in ids if i not in dropped],
                emb[[k for k, i in enumerate(ids) if i not in dropped]],
            )
            half = rank(Profile(saved=saved), cands, cands, embeddings=half_vectors)
            top_full = [r.paper.id for r in full[:TOP]]
            top_half = [r.paper.id for r in half[:TOP]]
            unencoded_top.append(sum(pid in dropped for pid in top_half))
            kept.append(len(set(top_full) & set(top_half)))
            precision["all"].append(sum(pid in relevant for pid in top_full) / TOP)
            precision["half"].append(sum(pid in relevant for pid in top_half) / TOP)
            spread["all"].append(float(logits([r.score for r in full]).std()))
            for group, test in (("encoded", False), ("unencoded", True)):
                scores = [r.score for r in half if (r.paper.id in dropped) == test]
                spread[group].append(float(logits(scores).std()))
    n = len(kept)
    print(f"{n} rankings ({len(lists)} lists x {args.draws} draws), {len(papers)} papers\n")
    print(
        "| condition | unencoded in top 10 (expected 5.0) | logit sd, encoded | "
        "logit sd, unencoded | top 10 kept | precision@10 |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| every vector | - | {np.mean(spread['all']):.2f} | - | 10.0 | "
        f"{np.mean(precision['all']):.3f} |"
    )
    print(
        f"| half the candidates' removed | {np.mean(unencoded_top):.1f} | "
        f"{np.mean(spread['encoded']):.2f} | {np.mean(spread['unencoded']):.2f} | "
        f"{np.mean(kept):.1f} | {np.mean(precision['half']):.3f} |"
    )


if __name__ == "__main__":
    main()
