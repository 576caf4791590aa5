"""Embeddings stored once per paper: the sentence encoder runs when papers are stored.

    fetch stores papers  -> encode_stored(storage)               # within a time budget
    daemon, every 10 min -> encode_stored(storage)               # drains what is left
    paperboy index       -> encode_stored(storage, seconds=None)  # everything, with a bar

    encode_missing: repeat
        papers = storage.papers_missing_embeddings(model, batch, text_hash_of=stored_text_hash)
        vectors = encoder.encode(texts of papers, CHUNK at a time)  # newest papers first
        storage.store_embeddings(model, papers' (id, text hash, vector))   # one transaction
    until nothing is missing, or stop() says so (asked between chunks: the chunks
        encoded are stored, so a SIGTERM is honoured within a chunk's second or two)

Crash semantics: each batch is its own transaction, so a ``kill -9`` loses at most the
batch being encoded; a rerun asks the database what is still missing and goes on, never
storing a paper twice (the key is (paper, model)). A digest never waits for the encoder
for long: the daemon runs one job at a time, so the encoding it does is cut into budgets
(:data:`BUDGET_SECONDS`) and papers still without a vector are ranked by the other views.
An encoder that cannot load is logged and skipped: fetching and digests go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from paperboy.jobs.core.errors import PaperboyError
from paperboy.jobs.core.stopping import Stop
from paperboy.jobs.storage import Storage, StoredPaper, utcnow
from paperboy.recommender.encoder import DIM as DIM_FALLBACK
from paperboy.recommender.encoder import encoder_text, text_hash
from paperboy.recommender.types import Paper

if TYPE_CHECKING:  # numpy's: imported by vectors_for, not by `paperboy status`
    from paperboy.recommender.embeddings import Embeddings

__all__ = [
    "BATCH",
    "BUDGET_SECONDS",
    "ON_THE_SPOT",
    "Encoded",
    "TextEncoder",
    "background_vectors",
    "encode_missing",
    "encode_stored",
    "stored_text_hash",
    "vectors_for",
]

log = logging.getLogger(__name__)

BATCH = 256  # papers per transaction: ~5 s of encoding on one core
BUDGET_SECONDS = 240.0  # the most one daemon job spends encoding before yielding
CHUNK = 8  # texts per encoder call: stop() is asked between them (a second at most)

Progress = Callable[[int, int], None]  # (papers encoded so far, papers to encode in all)


def stored_text_hash(paper: StoredPaper) -> str:
    """The hash a paper's vector is stored with: of the exact text the encoder reads. A
    stored hash that differs from it means the text changed (see
    Storage.papers_missing_embeddings)."""
    return text_hash(encoder_text(paper.title, paper.abstract))


class TextEncoder(Protocol):
    """What this module needs of an encoder (recommender.encoder.Encoder is one)."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> Any: ...


def encode_missing(
    storage: Storage,
    encoder: TextEncoder,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Encode the stored papers that have no vector of this encoder (or a stale one).

    Each batch is committed on its own; ``stop`` is asked between chunks of CHUNK texts
    (once true, the chunks encoded are stored and the run ends). Returns how many papers
    were encoded.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    model_id = encoder.model_id
    total = max(0, storage.count_papers() - storage.count_embeddings(model_id))
    done = 0

    def stopped() -> bool:
        return stop is not None and stop()

    while not stopped():
        papers = storage.papers_missing_embeddings(model_id, batch, text_hash_of=stored_text_hash)
        if not papers:
            break
        texts = [encoder_text(p.title, p.abstract) for p in papers]
        vectors: list[Any] = []
        for start in range(0, len(texts), CHUNK):
            if start and stopped():
                break
            vectors.extend(encoder.encode(texts[start : start + CHUNK]))
        papers = papers[: len(vectors)]
        storage.store_embeddings(
            model_id,
            [(p.id, text_hash(t), v) for p, t, v in zip(papers, texts, vectors, strict=False)],
        )
        done += len(papers)
        total = max(total, done)
        if progress is not None:
            progress(done, total)
    return done


@dataclass(frozen=True, slots=True)
class Encoded:
    """What one encoding run did: papers encoded, papers still without a vector."""

    model_id: str
    encoded: int
    missing: int
    error: str | None = None

    def summary(self) -> str | None:
        """One line for people, or None when there was nothing to do."""
        if self.error:
            return f"Papers not encoded: {self.error}"
        if not (self.encoded or self.missing):
            return None
        left = f"; {self.missing} left (`paperboy index` encodes them now)" if self.missing else ""
        return f"Encoded {self.encoded} papers with {self.model_id}{left}"

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "encoded": self.encoded,
            "missing": self.missing,
            "error": self.error,
        }


def encode_stored(
    storage: Storage,
    *,
    seconds: float | None = BUDGET_SECONDS,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: Stop | None = None,
) -> Encoded:
    """Encode the stored papers still without a vector, for up to ``seconds`` (None: all).

    Used after each fetch and by the daemon (with the budget) and by ``paperboy index``
    (without). Never raises for a broken encoder or database: the fetch that called it has
    already stored its papers, and the ranker works without vectors; the error is logged
    and returned. The encoder is loaded only when something is missing. ``stop`` (the
    daemon's, set on SIGTERM) ends the encoding like the budget does, within a chunk;
    the caller tells a stop by ``stop.is_set()``.
    """
    from paperboy.recommender.encoder import MODEL_ID, EncoderError, load_encoder

    deadline = None if seconds is None else clock() + seconds

    def log_batch(done: int, total: int) -> None:
        log.info("encoded %d of %d papers", done, total)

    done = 0
    try:
        if (seconds is None or seconds > 0) and storage.papers_missing_embeddings(
            MODEL_ID, 1, text_hash_of=stored_text_hash
        ):
            encoder = load_encoder()
            log.info("encoding the papers without a vector with %s", MODEL_ID)
            done = encode_missing(
                storage,
                encoder,
                progress=progress or log_batch,
                stop=lambda: (
                    (stop is not None and stop.is_set())
                    or (deadline is not None and clock() >= deadline)
                ),
            )
        missing = max(0, storage.count_papers() - storage.count_embeddings(MODEL_ID))
    except (EncoderError, PaperboyError) as e:
        log.warning("papers not encoded: %s", e)
        return Encoded(MODEL_ID, done, -1, str(e))
    if done:
        log.info(
            "encoded %d papers with %s%s",
            done,
            MODEL_ID,
            f"; {missing} left for the next run" if missing else "",
        )
    return Encoded(MODEL_ID, done, missing)


ON_THE_SPOT = 64  # saved/disliked papers a digest run encodes itself, if the encoder lags


def vectors_for(
    storage: Storage,
    papers: Iterable[Paper],
    *,
    profiles: Iterable[Paper] = (),
    encoder: TextEncoder | None = None,
    known: dict[str, Any] | None = None,
) -> Embeddings:
    """The stored vectors of ``papers`` and ``profiles``, for one digest run's rankings.

    Read in one pass for the whole run (the shared background, every due user's
    candidates and profile papers), so forked rank workers share one matrix. A profile
    paper (saved or disliked) without a vector is encoded now and stored, up to
    :data:`ON_THE_SPOT` of them: a user who just saved a paper should not wait for the
    daemon's encoding job for it to count. Candidates without one are left out: the
    ranker scores them by their words (never blocking a due digest). A broken encoder is
    logged, not raised. ``known``: vectors of ``papers`` read already in this run (by
    id), not read again; those of ``papers`` read now are added to it (a run's batches
    share the background and the candidates: 6,000 vectors read once, not once a
    batch). Profile papers are read each time: they grow with the users, ``known`` not.
    """
    from paperboy.recommender.embeddings import Embeddings
    from paperboy.recommender.encoder import MODEL_ID, EncoderError, load_encoder

    wanted = {p.id: p for p in papers}
    mine = {p.id: p for p in profiles}
    shared = set(wanted) - set(mine)
    wanted.update(mine)
    if known is None:
        found = storage.embeddings(list(wanted), MODEL_ID)
    else:
        found = storage.embeddings([pid for pid in wanted if pid not in known], MODEL_ID)
        known.update({pid: v for pid, v in found.items() if pid in shared})
        found.update({pid: known[pid] for pid in wanted if pid in known})
    lacking = [p for pid, p in mine.items() if pid not in found]
    if not lacking:
        return Embeddings.from_mapping(found, DIM_FALLBACK)
    try:
        # Saved papers from a BibTeX `library` file are not in the papers table: their
        # vectors would break the table's foreign key (and with it the whole batch).
        # They go to the one-off cache instead, keyed by their text, like `paperboy rank`.
        in_table = set(storage.get_papers([p.id for p in lacking]))
        stored = [p for p in lacking if p.id in in_table][:ON_THE_SPOT]
        unstored = [p for p in lacking if p.id not in in_table]
        if stored:
            model = encoder or load_encoder()
            texts = [encoder_text(p.title, p.abstract) for p in stored]
            vectors = model.encode(texts)
            rows = [(p.id, text_hash(t), v) for p, t, v in zip(stored, texts, vectors, strict=True)]
            found.update({p.id: v for p, v in zip(stored, vectors, strict=True)})
            storage.store_embeddings(model.model_id, rows)
        if unstored:
            found.update(_cached(unstored, encoder))
    except (EncoderError, PaperboyError) as e:
        log.warning("saved papers not encoded: %s", e)
    return Embeddings.from_mapping(found, DIM_FALLBACK)


def _cached(papers: Sequence[Paper], encoder: TextEncoder | None) -> dict[str, Any]:
    """Vectors of papers that are not stored, from the embedding cache (encoding at most
    :data:`ON_THE_SPOT` of them a run). A cache that cannot be used is a warning there."""
    from paperboy.jobs.ranking.embedding_cache import cached_embeddings

    encode = None
    if encoder is not None:
        model = encoder

        def encode_with(texts: Sequence[str]) -> Any:
            return model.encode(texts)

        encode = encode_with
    vectors = cached_embeddings(
        papers,
        encode=encode,
        model_id=encoder.model_id if encoder is not None else None,
        encode_at_most=ON_THE_SPOT,
    )
    return {pid: vectors.matrix[row] for pid, row in vectors.row_of.items()}


def background_vectors(
    storage: Storage, *, size: int | None = None, now: datetime | None = None
) -> tuple[int, int]:
    """(encoded, papers) of a background as a digest run draws it, for ``paperboy status``.

    The run's negatives are ``size`` stored papers older than the fresh window (all
    papers when too few are); the ranker's meaning view sits out while fewer than
    recommender.ranker.MIN_MEANING_NEGATIVES of them have a vector. Sampled the same way
    (without loading the index), so the count is the run's to within sampling.
    """
    from paperboy.jobs.ranking.corpus import BACKGROUND_SIZE, FRESH
    from paperboy.recommender.encoder import MODEL_ID

    size = BACKGROUND_SIZE if size is None else size
    fresh = storage.listed_ids(after=(now or utcnow()) - FRESH)
    if storage.count_papers() - len(fresh) < size:
        fresh = set()
    sample = storage.sample_papers(size, exclude=fresh)
    encoded = storage.embedded_ids([p.id for p in sample], MODEL_ID)  # ids: no vector read
    return len(encoded), len(sample)
