"""The stored paper, shared by every part of storage that returns papers.

StoredPaper is what storage hands back for a paper (papers, ledger, library, index);
UpsertResult counts what storing a batch of papers did (papers, venues). Records of one
family live in that family's part (ledger.Delivery, venues.VenueEntry, ...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Row

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredPaper:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    version: int | None
    link: str | None
    comment: str | None
    announced: date | None
    listed_at: datetime | None
    tldr: str | None = None
    tldr_source: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    new: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


def stored_paper(row: Row[Any]) -> StoredPaper:
    """A row of `papers` as a StoredPaper."""
    return StoredPaper(
        id=row.id,
        title=row.title,
        abstract=row.abstract or "",
        authors=tuple(row.authors or ()),
        categories=tuple(row.categories or ()),
        version=row.version,
        link=row.link,
        comment=row.comment,
        announced=row.announced,
        listed_at=row.listed_at,
        tldr=row.tldr,
        tldr_source=row.tldr_source,
    )
