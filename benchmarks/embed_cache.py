"""Encode every listing once with the shipped encoder, for the benchmarks to reuse.

    nice -n 19 python benchmarks/embed_cache.py \\
        ../shared/data/arxiv-listings-2025-03_2026-07.jsonl.gz /work/cache/listings-minilm.npz

Writes ``OUT.parts/`` (one ``.npy`` per chunk of listings, each written to a temporary
file and renamed, plus a manifest naming the model and the listings file), so that a
killed run continues where it stopped; when every chunk is there, writes ``OUT`` (npz:
``ids``, ``emb`` float16 n x 384 in file order, ``model``) the same way. ``--processes``
encoders with ``--threads`` threads each run side by side (benchmarks/encoder.py measures
which layout is fastest); chunks are encoded last first, and ``--reuse DIR`` adopts the
matching chunks another run wrote there (checked: same ids, same vectors). The benchmarks
read the result with :func:`load_cache`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperboy.recommender.encoder import DIM, MODEL_ID, encoder_text

__all__ = ["build_cache", "load_cache"]

CHUNK = 1000


def load_cache(path: Path | str) -> tuple[list[str], np.ndarray]:
    """The cached listings: ids in file order and their vectors (float32, n x 384).

    Refuses a cache made by another encoder (its vectors would not match the shipped one).
    """
    with np.load(path) as data:
        model = str(data["model"]) if "model" in data.files else "unknown"
        if model != MODEL_ID:
            raise ValueError(f"{path}: vectors of {model}, not the shipped {MODEL_ID}")
        return [str(i) for i in data["ids"]], data["emb"].astype(np.float32)


def read_listings(path: Path) -> tuple[list[str], list[str]]:
    """Ids and encoder texts of every listing, in file order."""
    ids: list[str] = []
    texts: list[str] = []
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                ids.append(str(d["id"]))
                texts.append(encoder_text(d.get("title", ""), d.get("abstract", "")))
    return ids, texts


_ENCODER: Any = None


def _start_worker(threads: int) -> None:
    global _ENCODER
    from paperboy.recommender.encoder import Encoder

    _ENCODER = Encoder(threads=threads)


def _encode_chunk(job: tuple[int, Sequence[str], str]) -> tuple[int, float]:
    """Encode one chunk and write it atomically; returns (chunk number, seconds)."""
    number, texts, target = job
    start = time.perf_counter()
    emb = _ENCODER.encode(list(texts)).astype(np.float16)
    tmp = f"{target}.tmp-{os.getpid()}.npy"
    with open(tmp, "wb") as f:
        np.save(f, emb)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return number, time.perf_counter() - start


def _adopt(
    reuse: Path,
    number: int,
    ids: list[str],
    texts: list[str],
    target: Path,
    checker: Any,
) -> bool:
    """Take chunk ``number`` from another run's folder (``NNNN.npz`` with ``ids``, ``emb``)
    when its ids are this chunk's and its first and last vectors are this encoder's."""
    source = reuse / f"{number:04d}.npz"
    if not source.exists():
        return False
    try:
        with np.load(source) as data:
            their_ids = [str(i) for i in data["ids"]]
            emb = data["emb"].astype(np.float16)
    except (OSError, ValueError, KeyError):
        return False
    if their_ids != ids or emb.shape != (len(ids), DIM):
        return False
    check = checker.encode([texts[0], texts[-1]])
    if float(np.min(np.sum(check * emb[[0, -1]].astype(np.float32), axis=1))) < 0.999:
        return False
    tmp = f"{target}.tmp-{os.getpid()}.npy"
    with open(tmp, "wb") as f:
        np.save(f, emb)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return True


def _atomic_npz(path: Path, **arrays: Any) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def build_cache(
    listings: Path,
    out: Path,
    *,
    processes: int = 2,
    threads: int = 1,
    chunk: int = CHUNK,
    reuse: Path | None = None,
) -> Path:
    """Encode what the parts folder lacks, then write ``out``; prints progress and ETA."""
    ids, texts = read_listings(listings)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    manifest = {
        "model": MODEL_ID,
        "listings": listings.name,
        "size": listings.stat().st_size,
        "papers": len(ids),
        "chunk": chunk,
    }
    manifest_path = parts / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old != manifest:
            raise SystemExit(f"{parts} was made for {old}, not {manifest}: remove it to start over")
    else:
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    chunks = [(i, s, min(s + chunk, len(texts))) for i, s in enumerate(range(0, len(texts), chunk))]
    target = [parts / f"chunk-{i:05d}.npy" for i, _, _ in chunks]
    todo = [c for c in chunks if not target[c[0]].exists()]
    print(
        f"{len(ids)} listings, {len(chunks)} chunks, {len(chunks) - len(todo)} already encoded; "
        f"{processes} process(es) x {threads} thread(s)"
        + (f"; adopting finished chunks of {reuse}" if reuse else ""),
        flush=True,
    )
    checker: Any = None
    if reuse is not None:
        from paperboy.recommender.encoder import Encoder

        checker = Encoder(threads=1)
    # Last chunk first: another run going forward (``reuse``) meets this one in the middle.
    pending = list(reversed(todo))
    start = time.perf_counter()
    encoded = adopted = 0
    context = get_context("spawn")
    with context.Pool(processes, initializer=_start_worker, initargs=(threads,)) as pool:
        running: dict[int, Any] = {}
        while pending or running:
            while pending and len(running) < processes:
                number, lo, hi = pending.pop(0)
                if target[number].exists():
                    continue
                if checker is not None and _adopt(
                    reuse, number, ids[lo:hi], texts[lo:hi], target[number], checker
                ):
                    adopted += hi - lo
                    continue
                job = (number, texts[lo:hi], str(target[number]))
                running[number] = pool.apply_async(_encode_chunk, (job,))
            finished = [n for n, r in running.items() if r.ready()]
            if not finished:
                time.sleep(0.5)
                continue
            for number in finished:
                running.pop(number).get()  # re-raises a worker's error
                encoded += chunks[number][2] - chunks[number][1]
            elapsed = time.perf_counter() - start
            have = sum(1 for t in target if t.exists())
            left = sum(hi - lo for n, lo, hi in chunks if not target[n].exists())
            rate = encoded / elapsed
            print(
                f"{have}/{len(chunks)} chunks ({encoded} papers encoded here, {adopted} adopted), "
                f"{rate:.1f} papers/s, at most {left / rate / 60:.0f} min left",
                flush=True,
            )
    emb = np.vstack([np.load(p) for p in target]) if target else np.zeros((0, DIM), np.float16)
    if emb.shape != (len(ids), DIM):
        raise SystemExit(f"chunks hold {emb.shape}, expected {(len(ids), DIM)}")
    _atomic_npz(out, ids=np.asarray(ids), emb=emb, model=np.asarray(MODEL_ID))
    print(f"wrote {out}: {len(ids)} x {DIM} ({MODEL_ID})", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("listings", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="listings per part file")
    parser.add_argument(
        "--reuse", type=Path, help="adopt matching NNNN.npz chunks another run wrote here"
    )
    args = parser.parse_args(argv)
    build_cache(
        args.listings,
        args.out,
        processes=args.processes,
        threads=args.threads,
        chunk=args.chunk,
        reuse=args.reuse,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
