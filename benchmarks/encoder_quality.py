"""Does a built encoder keep the reference vectors' quality? (issue 11: int8 or fp16)

    python benchmarks/encoder_quality.py --corpus ../shared/data/seed-corpus.jsonl \\
        --reference ../shared/data/seed-corpus-minilm.npz \\
        [--model-dir DIR ...] [--write-shipped OUT.npz]

Encodes the 666 seed papers with each model folder (default: the shipped one) and prints,
beside the reference vectors (sentence-transformers' all-MiniLM-L6-v2, 256 tokens):
the cosine of every paper's vector to its reference (mean, min), and the seed benchmark's
macro nDCG@10 (seeds 0-4, 10 draws each, the same draws for every row) of logistic
regression (C=1, balanced; saved papers vs the other candidates) on the embeddings alone.
``--write-shipped`` saves the first model's vectors in the reference layout (ids, emb).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperboy.jobs.ranking.evaluate import load_seed_corpus
from paperboy.recommender.encoder import MODEL_DIR, Encoder, encoder_text
from paperboy.recommender.evaluation import Task, evaluate, seed_tasks

SEEDS = (0, 1, 2, 3, 4)


def lr_ndcg(emb: np.ndarray, lists: dict[str, list[int]], n: int) -> tuple[float, list[float]]:
    """Mean over seeds of the macro nDCG@10 of logistic regression on ``emb``, and per seed."""
    from sklearn.linear_model import LogisticRegression

    def method(task: Task) -> np.ndarray:
        saved, cands = list(task.saved), list(task.candidates)
        x = emb[saved + cands]
        y = np.r_[np.ones(len(saved)), np.zeros(len(cands))]
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit(x, y)
        return np.asarray(model.decision_function(emb[cands]), dtype=np.float64)

    per_seed = []
    for seed in SEEDS:
        report = evaluate(seed_tasks(lists, n, seed=seed), method, "seed")
        per_seed.append(report.macro()[0])
    return float(np.mean(per_seed)), per_seed


def main(argv: list[str] | None = None) -> int:
    """Print one row per model folder (and the reference), optionally save the vectors."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, action="append", default=[])
    parser.add_argument("--write-shipped", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    papers, lists = load_seed_corpus(args.corpus)
    ref = np.load(args.reference)
    ids = [str(i) for i in ref["ids"]]
    if ids != [p.id for p in papers]:
        raise SystemExit("reference ids are not in the corpus' order")
    ref_emb = ref["emb"].astype(np.float32)
    ref_emb /= np.linalg.norm(ref_emb, axis=1, keepdims=True)
    texts = [encoder_text(p.title, p.abstract) for p in papers]

    mean, per_seed = lr_ndcg(ref_emb, lists, len(papers))
    rows = [("reference (float16 npz)", "-", "-", mean, per_seed, "-")]
    for i, folder in enumerate(args.model_dir or [MODEL_DIR]):
        encoder = Encoder(folder, threads=args.threads)
        start = time.perf_counter()
        emb = encoder.encode(texts)
        seconds = time.perf_counter() - start
        cos = np.sum(emb * ref_emb, axis=1)
        mean, per_seed = lr_ndcg(emb, lists, len(papers))
        size = (folder / "model.onnx").stat().st_size / 1e6
        rows.append(
            (
                f"{folder} ({size:.1f} MB, {len(papers) / seconds:.1f} papers/s)",
                f"{cos.mean():.5f}",
                f"{cos.min():.5f}",
                mean,
                per_seed,
                f"{mean - rows[0][3]:+.4f}",
            )
        )
        if i == 0 and args.write_shipped:
            args.write_shipped.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.write_shipped, ids=np.asarray(ids), emb=emb.astype(np.float16))
    print(f"{'encoder':<60} {'cos mean':>9} {'cos min':>9} {'nDCG@10':>8} {'change':>8}  per seed")
    for name, cmean, cmin, nd, seeds, change in rows:
        per = " ".join(f"{s:.3f}" for s in seeds)
        print(f"{name:<60} {cmean:>9} {cmin:>9} {nd:>8.4f} {change:>8}  {per}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
