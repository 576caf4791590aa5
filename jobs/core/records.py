"""What every source parser returns: plain dataclasses, no I/O.

A SourcePaper caps its own fields when it is made (paperboy.text's caps: title, each
author and the number of authors, abstract, TL;DR, comment), so no source, file import or
backfill can store or mail an unbounded field; `cut` says a field was cut, for the fetch
report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from paperboy.text import ABSTRACT_MAX, TITLE_MAX, TLDR_MAX, cap, cap_authors


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
    # True when the source sent a field longer than its cap (kept through `replace`).
    cut: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        capped = {
            "title": cap(self.title, TITLE_MAX),
            "abstract": cap(self.abstract, ABSTRACT_MAX),
            "authors": cap_authors(self.authors),
            "comment": None if self.comment is None else cap(self.comment, TLDR_MAX),
            "tldr": None if self.tldr is None else cap(self.tldr, TLDR_MAX),
        }
        for name, value in capped.items():
            if value != getattr(self, name):
                object.__setattr__(self, name, value)
                object.__setattr__(self, "cut", True)


def cut_count(papers: Iterable[SourcePaper]) -> int:
    """How many of `papers` had a field cut to its cap."""
    return sum(1 for p in papers if p.cut)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed response: the papers, and what the channel says about the day."""

    papers: tuple[SourcePaper, ...]
    announced: date | None = None  # the channel's publication date (arXiv: announcement day)
    skip_days: tuple[str, ...] = field(default=())  # e.g. ("Saturday", "Sunday")
    title: str = ""
