"""The ranker's stored data: embeddings, index_generations and index_chunks.

embeddings holds each paper's sentence-encoder vector per model, with the hash of the text
it was computed from (the caller's: storage never hashes a paper's text); the index tables
record each build of the ranker's index and, when asked, the file itself, chunk by chunk,
so that a worker on any machine can load the newest one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage.base import StorageBase
from paperboy.jobs.storage.schema import embeddings, index_chunks, index_generations, papers
from paperboy.jobs.storage.stored_paper import StoredPaper, stored_paper

log = logging.getLogger(__name__)


INDEX_CHUNK_BYTES = 4 << 20  # 4 MiB a row: memory stays small while a file is copied


@dataclass(frozen=True, slots=True)
class IndexGeneration:
    """One recorded build of the ranker's index (Storage.record_index_generation)."""

    generation: int
    build_id: str
    built_at: datetime
    papers: int
    size: int
    sha256: str
    stored: bool  # the file's bytes are in the database
    builder: str


def _index_generation(row: Row[Any]) -> IndexGeneration:
    return IndexGeneration(
        generation=row.generation,
        build_id=row.build_id,
        built_at=row.built_at,
        papers=row.papers,
        size=row.size,
        sha256=row.sha256,
        stored=bool(row.stored),
        builder=row.builder,
    )


class IndexMixin(StorageBase):
    """Papers' embeddings, and the generations (and bytes) of the ranker's index."""

    def record_index_generation(
        self,
        *,
        build_id: str,
        built_at: datetime,
        papers: int,
        path: Path,
        builder: str,
        store: bool,
        keep: int = 2,
    ) -> IndexGeneration:
        """Record a new index file (at `path`, already written) as the newest generation;
        with `store`, copy its bytes into the database, chunk by chunk, in the same
        transaction: other machines see the whole generation or none of it. The bytes of
        all but the newest `keep` stored generations are deleted (their rows stay)."""
        digest = hashlib.sha256()
        try:
            with self._tx() as conn:
                generation = conn.execute(
                    insert(index_generations)
                    .values(
                        build_id=build_id,
                        built_at=built_at,
                        papers=papers,
                        size=0,
                        sha256="",
                        stored=int(store),
                        builder=builder,
                    )
                    .returning(index_generations.c.generation)
                ).scalar_one()
                size = 0
                with path.open("rb") as f:
                    for seq, chunk in enumerate(iter(lambda: f.read(INDEX_CHUNK_BYTES), b"")):
                        digest.update(chunk)
                        size += len(chunk)
                        if store:
                            conn.execute(
                                insert(index_chunks).values(
                                    generation=generation, seq=seq, data=chunk
                                )
                            )
                conn.execute(
                    update(index_generations)
                    .where(index_generations.c.generation == generation)
                    .values(size=size, sha256=digest.hexdigest())
                )
                if store:
                    self._prune_index_chunks(conn, keep)
        except OSError as e:
            raise StorageError(f"cannot read the index {path} to record it: {e}") from e
        except SQLAlchemyError as e:
            raise StorageError(f"cannot record the index generation: {e}") from e
        newest = self.newest_index_generation()
        assert newest is not None
        return newest

    def _prune_index_chunks(self, conn: Connection, keep: int) -> None:
        kept = (
            select(index_generations.c.generation)
            .where(index_generations.c.stored == 1)
            .order_by(index_generations.c.generation.desc())
            .limit(keep)
        )
        old = [
            g
            for (g,) in conn.execute(
                select(index_generations.c.generation).where(
                    index_generations.c.stored == 1,
                    index_generations.c.generation.not_in(kept.scalar_subquery()),
                )
            )
        ]
        if old:
            conn.execute(delete(index_chunks).where(index_chunks.c.generation.in_(old)))
            conn.execute(
                update(index_generations)
                .where(index_generations.c.generation.in_(old))
                .values(stored=0)
            )

    def newest_index_generation(self) -> IndexGeneration | None:
        """The newest recorded index (one small query: workers ask before each digest)."""
        query = select(index_generations).order_by(index_generations.c.generation.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _index_generation(row) if row is not None else None

    def index_generation(self, build_id: str) -> IndexGeneration | None:
        """The recorded generation whose file header carries `build_id`, if any."""
        query = select(index_generations).where(index_generations.c.build_id == build_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _index_generation(row) if row is not None else None

    def read_index_chunks(self, generation: int) -> Iterator[bytes]:
        """The stored bytes of `generation`, chunk by chunk (one query each: memory holds
        one chunk at a time); StorageError if they are not (or no longer) stored."""
        seq = 0
        while True:
            query = select(index_chunks.c.data).where(
                index_chunks.c.generation == generation, index_chunks.c.seq == seq
            )
            with self.engine.connect() as conn:
                data = conn.execute(query).scalar_one_or_none()
            if data is None:
                if seq == 0:
                    raise StorageError(f"index generation {generation} is not in the database")
                return
            yield bytes(data)
            seq += 1

    def papers_missing_embeddings(
        self, model_id: str, limit: int, *, text_hash_of: Callable[[StoredPaper], str]
    ) -> list[StoredPaper]:
        """Up to `limit` papers to encode with `model_id`, newest first: papers without a
        vector, and papers whose text changed since theirs was computed (their stored
        text_hash is not `text_hash_of(paper)`, the caller's hash of the text it encodes:
        storage never hashes, nor knows what an encoder reads).

        A paper updated since it was encoded whose text is unchanged (a new category, a
        comment) keeps its vector: it is marked checked here and not returned.
        """
        if limit < 1:
            return []
        stored = (
            select(embeddings.c.paper_id, embeddings.c.text_hash, embeddings.c.encoded_at)
            .where(embeddings.c.model_id == model_id)
            .subquery()
        )
        query = (
            select(papers, stored.c.text_hash.label("stored_hash"))
            .outerjoin(stored, stored.c.paper_id == papers.c.id)
            .where((stored.c.paper_id.is_(None)) | (papers.c.updated_at > stored.c.encoded_at))
            .order_by(papers.c.created_at.desc(), papers.c.id)
        )
        try:
            while True:
                with self._tx() as conn:
                    rows = list(conn.execute(query.limit(limit)))
                    todo: list[StoredPaper] = []
                    unchanged: list[str] = []
                    checked_at = self._now()
                    for row in rows:
                        paper = stored_paper(row)
                        if row.stored_hash == text_hash_of(paper):
                            unchanged.append(paper.id)
                            checked_at = max(checked_at, row.updated_at)
                        else:
                            todo.append(paper)
                    if unchanged:
                        conn.execute(
                            update(embeddings)
                            .where(
                                embeddings.c.model_id == model_id,
                                embeddings.c.paper_id.in_(unchanged),
                            )
                            .values(encoded_at=checked_at)
                        )
                if todo or len(rows) < limit:
                    return todo
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read the papers to encode: {e}") from e

    def store_embeddings(self, model_id: str, rows: Iterable[tuple[str, str, Any]]) -> int:
        """Store (paper_id, text_hash, vector) rows for `model_id` in one transaction,
        replacing older vectors of the same papers. Vectors are kept as float16."""
        import numpy as np

        now = self._now()
        values = [
            {
                "paper_id": pid,
                "model_id": model_id,
                "text_hash": digest,
                "vector": np.asarray(vector, dtype="<f2").tobytes(),
                "encoded_at": now,
            }
            for pid, digest, vector in rows
        ]
        if not values:
            return 0
        try:
            with self._tx() as conn:
                for start in range(0, len(values), 500):
                    chunk = [v["paper_id"] for v in values[start : start + 500]]
                    conn.execute(
                        delete(embeddings).where(
                            embeddings.c.model_id == model_id, embeddings.c.paper_id.in_(chunk)
                        )
                    )
                conn.execute(insert(embeddings), values)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store {len(values)} embeddings: {e}") from e
        return len(values)

    def embeddings(self, ids: Sequence[str], model_id: str) -> dict[str, Any]:
        """The stored vectors (float32 numpy arrays) of the papers among `ids` that have one."""
        import numpy as np

        ids = list(ids)
        found: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(embeddings.c.paper_id, embeddings.c.vector).where(
                    embeddings.c.model_id == model_id,
                    embeddings.c.paper_id.in_(ids[start : start + 500]),
                )
                for row in conn.execute(query):
                    found[row.paper_id] = np.frombuffer(row.vector, dtype="<f2").astype(np.float32)
        return found

    def embedded_ids(self, ids: Sequence[str], model_id: str) -> set[str]:
        """The papers among `ids` that have a vector of `model_id` (the vectors are not
        read: `paperboy status` counts them without numpy)."""
        ids = list(ids)
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(embeddings.c.paper_id).where(
                    embeddings.c.model_id == model_id,
                    embeddings.c.paper_id.in_(ids[start : start + 500]),
                )
                found.update(str(pid) for (pid,) in conn.execute(query))
        return found

    def count_embeddings(self, model_id: str) -> int:
        """How many papers have a vector of `model_id`."""
        query = (
            select(func.count()).select_from(embeddings).where(embeddings.c.model_id == model_id)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
