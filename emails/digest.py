"""The digest as the e-mail sees it: plain data built by the digest job, rendered here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One paper in a digest, with everything the templates show."""

    paper_id: str  # canonical id, e.g. "2401.01234"
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    score: float  # in [0, 1], higher is more relevant
    why: str  # the reason the ranker gave
    abs_url: str
    pdf_url: str | None = None
    announced: date | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """One user's digest for one day (or week)."""

    user_name: str
    to: tuple[str, ...]  # one or more recipient addresses
    sender: str  # "Paperboy <paperboy@example.org>"
    day: date  # the day the digest is for, in the user's time zone
    items: tuple[DigestItem, ...]
    considered: int  # how many candidates were ranked
    created_at: datetime  # timezone-aware
    reply_to: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
