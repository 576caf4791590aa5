"""Ranking many users at once, on every core.

One user's ranking is a few logistic-regression fits over the stored index: pure
CPU-bound Python/NumPy work that holds the GIL, so threads do not help and a morning run
for a thousand users wants every core. :func:`rank_many` hands the users to worker
processes forked from the digest run, after the index is loaded: the workers read the
index (hundreds of MB) through copy-on-write pages they share with the parent instead
of each loading a copy, and only a job number goes to a worker and compact
``(id, score, why, closest, terms)`` rows come back.

Without ``fork`` (macOS, Windows), with one worker or one user, the users are ranked in
this process, one after the other: same function, same results.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from paperboy import recommender

__all__ = ["RankJob", "RankingError", "default_workers", "rank_many"]

Row = tuple[str, float, str, tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class RankJob:
    """One user's ranking: the arguments of :func:`recommender.rank`."""

    profile: recommender.Profile
    candidates: tuple[recommender.Paper, ...]
    background: tuple[recommender.Paper, ...]
    explain: int | None = None
    diversity: float = 0.0  # MMR over the first ``explain`` papers (or 10); 0: off


# What forked workers inherit from the parent (set only while a pool runs).
_jobs: tuple[RankJob, ...] = ()
_index: recommender.Index | None = None
_vectors: recommender.Embeddings | None = None


def default_workers() -> int:
    """Worker processes for a digest run: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _rank(
    job: RankJob, index: recommender.Index | None, vectors: recommender.Embeddings | None
) -> list[recommender.Ranked]:
    return recommender.rank(
        job.profile,
        job.candidates,
        job.background,
        index=index,
        embeddings=vectors,
        explain=job.explain,
        diversity=job.diversity,
        diversity_top=job.explain or 10,
    )


WATCH_PARENT_SECONDS = 0.5


def _worker_init(parent: int) -> None:
    """In each worker: default signal handling, and exit when the digest run is gone.

    A worker inherits the daemon's signal handlers (SIGTERM would run the daemon's
    shutdown in the worker) and, if the daemon is killed with SIGKILL, nothing would ever
    tell it to stop: it would wait for jobs forever, holding its memory and the daemon's
    stderr. So the handlers are reset, and a watchdog exits when the parent changes.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_PARENT_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _rank_rows(number: int) -> list[Row] | str:
    """In a worker: job ``number``'s ranking as compact rows, or the error's text."""
    try:
        ranked = _rank(_jobs[number], _index, _vectors)
    except Exception as e:  # reported for that user only; the others go on
        return f"{type(e).__name__}: {e}"
    return [(r.paper.id, r.score, r.why, r.closest, r.terms) for r in ranked]


def _from_rows(job: RankJob, rows: list[Row]) -> list[recommender.Ranked]:
    paper = {p.id: p for p in job.candidates}
    return [
        recommender.Ranked(paper=paper[pid], score=score, why=why, closest=closest, terms=terms)
        for pid, score, why, closest, terms in rows
    ]


class RankingError(Exception):
    """One user's ranking failed in a worker (the message is the worker's error)."""


def rank_many(
    jobs: Sequence[RankJob],
    index: recommender.Index | None,
    *,
    workers: int = 1,
    embeddings: recommender.Embeddings | None = None,
) -> list[list[recommender.Ranked] | Exception]:
    """Each job's ranking (or the exception that stopped it), in the order of ``jobs``.

    ``index`` and ``embeddings`` (the run's papers' vectors) are shared by every job.
    """
    global _jobs, _index, _vectors
    out: list[list[recommender.Ranked] | Exception] = []
    n_workers = min(workers, len(jobs))
    if n_workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for job in jobs:
            try:
                out.append(_rank(job, index, embeddings))
            except Exception as e:  # one user's bug must not cost the others their digest
                out.append(e)
        return out
    _jobs, _index, _vectors = tuple(jobs), index, embeddings
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(n_workers, initializer=_worker_init, initargs=(os.getpid(),)) as pool:
            chunk = max(1, len(jobs) // (n_workers * 8))
            results = pool.map(_rank_rows, range(len(jobs)), chunksize=chunk)
    finally:
        _jobs, _index, _vectors = (), None, None
    for job, result in zip(jobs, results, strict=True):
        out.append(RankingError(result) if isinstance(result, str) else _from_rows(job, result))
    return out
