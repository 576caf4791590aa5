"""What every source parser returns: plain dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class SourcePaper:
    """One paper as a source announced it, with its id already canonical (see jobs.core.ids)."""

    id: str  # canonical id: arXiv id without version ("2401.01234", "hep-th/9901001")
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]  # primary first
    link: str  # the abstract page
    version: int | None = None
    announce_type: str | None = None  # new | cross | replace | replace-cross (arXiv RSS)
    announced: date | None = None  # the announcement day, when the source says it
    comment: str | None = None
    tldr: str | None = None  # a one-sentence summary the source gives (OpenReview, HF)
    tldr_source: str | None = None  # who wrote it, for its label: "OpenReview"


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed response: the papers, and what the channel says about the day."""

    papers: tuple[SourcePaper, ...]
    announced: date | None = None  # the channel's publication date (arXiv: announcement day)
    skip_days: tuple[str, ...] = field(default=())  # e.g. ("Saturday", "Sunday")
    title: str = ""
