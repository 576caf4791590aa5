"""OpenReview venues: venues (where each venue's list stands) and venue_papers (the list).

A venue's list is fetched once, then refreshed from the newest modification seen
(`max_tmdate`); its papers are stored as any paper (papers.store_papers), in the same
transaction as the list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage.base import StorageBase, upsert
from paperboy.jobs.storage.papers import store_papers
from paperboy.jobs.storage.schema import venue_papers, venues
from paperboy.jobs.storage.stored_paper import UpsertResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VenueState:
    venue: str
    status: str
    fetched_at: datetime | None
    max_tmdate: int | None
    paper_count: int | None
    last_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class VenueEntry:
    """One paper of a venue: its OpenReview note and the canonical paper it is."""

    note_id: str
    paper_id: str
    label: str | None
    tmdate: int | None


class VenuesMixin(StorageBase):
    """A venue's paper list and its fetch state."""

    def venue_state(self, venue: str, status: str) -> VenueState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(venues).where(venues.c.venue == venue, venues.c.status == status)
            ).first()
        return VenueState(**row._mapping) if row else None

    def venue_entries(self, venue: str, status: str) -> list[VenueEntry]:
        query = (
            select(venue_papers)
            .where(venue_papers.c.venue == venue, venue_papers.c.status == status)
            .order_by(venue_papers.c.note_id)
        )
        with self.engine.connect() as conn:
            return [
                VenueEntry(row.note_id, row.paper_id, row.label, row.tmdate)
                for row in conn.execute(query)
            ]

    def store_venue(
        self,
        venue: str,
        status: str,
        *,
        papers: Sequence[SourcePaper],
        entries: Sequence[VenueEntry],
        removed: Iterable[str],
        full: bool,
        max_tmdate: int | None,
        listed: bool = False,
    ) -> UpsertResult:
        """Store a venue's papers and its list in one transaction. ``entries`` replace
        the notes of the same id; ``removed`` notes (withdrawn) leave; with ``full`` the
        list becomes exactly ``entries``."""
        now = self._now()
        try:
            with self._tx() as conn:
                result = store_papers(
                    conn, papers, source=f"openreview:{venue}", listed=listed, now=self._now()
                )
                where = (venue_papers.c.venue == venue, venue_papers.c.status == status)
                if full:
                    conn.execute(delete(venue_papers).where(*where))
                else:
                    drop = list({*removed, *(e.note_id for e in entries)})
                    for start in range(0, len(drop), 500):
                        conn.execute(
                            delete(venue_papers).where(
                                *where, venue_papers.c.note_id.in_(drop[start : start + 500])
                            )
                        )
                rows = {
                    e.note_id: {
                        "venue": venue,
                        "status": status,
                        "note_id": e.note_id,
                        "paper_id": e.paper_id,
                        "label": e.label,
                        "tmdate": e.tmdate,
                    }
                    for e in entries
                }
                if rows:
                    conn.execute(insert(venue_papers), list(rows.values()))
                count = conn.execute(
                    select(func.count()).select_from(venue_papers).where(*where)
                ).scalar_one()
                values: dict[str, Any] = {
                    "fetched_at": now,
                    "paper_count": int(count),
                    "last_attempt_at": now,
                    "last_error": None,
                }
                if max_tmdate is not None:
                    values["max_tmdate"] = max_tmdate
                self._set_venue_state(conn, venue, status, values)
                return result
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store the papers of {venue}: {e}") from e

    def record_venue_error(self, venue: str, status: str, error: str) -> None:
        with self._tx() as conn:
            self._set_venue_state(
                conn, venue, status, {"last_attempt_at": self._now(), "last_error": error}
            )

    @staticmethod
    def _set_venue_state(conn: Connection, venue: str, status: str, values: dict[str, Any]) -> None:
        upsert(conn, venues, ["venue", "status"], [{"venue": venue, "status": status, **values}])
