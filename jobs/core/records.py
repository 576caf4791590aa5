"""What every source parser returns: plain dataclasses, no I/O.

A SourcePaper caps its own fields when it is made (paperboy.text's caps: title, each
author and the number of authors, abstract, TL;DR, comment), so no source, file import or
backfill can store or mail an unbounded field; `cut` says a field was cut, for the fetch
report.

Every record's text is made storable when the record is built (`storable_fields`): a
NUL byte (which PostgreSQL's text type refuses) or a lone surrogate (which has no UTF-8
form, from a JSON ``"\\ud800"``) in one item's title would otherwise make the database
refuse the whole source's transaction. Building the record is the one place every
source goes through, so no parser can forget it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from paperboy.text import ABSTRACT_MAX, TITLE_MAX, TLDR_MAX, cap, cap_authors

# What no database text column takes: NUL (PostgreSQL) and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` without the characters a database text column refuses (see module)."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text


def storable_fields(record: Any) -> None:
    """Make every str (and tuple of str) field of a frozen dataclass storable, in place.

    For ``__post_init__``: ``object.__setattr__`` is how a frozen dataclass sets its own
    fields. Fields that need no change are left alone (the common case costs a search).
    """
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str):
            clean: object = storable(value)
        elif isinstance(value, tuple) and any(isinstance(v, str) for v in value):
            clean = tuple(storable(v) if isinstance(v, str) else v for v in value)
        else:
            continue
        if clean != value:
            object.__setattr__(record, f.name, clean)


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
        storable_fields(self)
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
    unreadable: int = 0  # items the parser skipped (no id, or a value out of range)
