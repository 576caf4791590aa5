"""The digest as the e-mail sees it: plain data built by the digest job, rendered here.

Every field added after the first release has a default, so older callers keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal

__all__ = ["DEFAULT_SECTION", "Digest", "DigestItem", "Period", "TrendingItem", "section_heading"]

Period = Literal["day", "week"]

# The heading of the section of a user's default collection (their top-level lists), in a
# digest that also has named collections.
DEFAULT_SECTION = "General"


def section_heading(name: str) -> str:
    """What a section is headed: the collection's name (DEFAULT_SECTION for "")."""
    return name or DEFAULT_SECTION


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
    announced: date | None = None  # the arXiv announcement day: weekly digests group by it
    hf_url: str | None = None  # the paper's Hugging Face page, where known
    code_url: str | None = None  # its code (e.g. a GitHub repository), where known
    upvotes: int | None = None  # Hugging Face upvotes, where known
    # A one-sentence summary a source gave (OpenReview's TL;DR, Hugging Face's AI
    # summary), shown above the abstract excerpt and labelled with who wrote it.
    tldr: str | None = None
    tldr_source: str | None = None  # "OpenReview", "Hugging Face"
    # Feedback links (issue #14), built by the caller; None: not shown.
    more_url: str | None = None  # "More like this"
    less_url: str | None = None  # "Less like this"
    # The user's collection it was picked for (issue #23); "": their default collection.
    collection: str = ""


@dataclass(frozen=True, slots=True)
class TrendingItem:
    """One paper trending on Hugging Face, shown after the picks in the order given."""

    paper_id: str
    title: str
    abs_url: str
    upvotes: int
    matched: bool = False  # it also matches this user's interests
    hf_url: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """One user's digest for one day (or week).

    `items` are shown in the order given (the ranker's, best first). With
    `period="week"` they are grouped under their announcement day, days in calendar
    order, best first within a day; items without `announced` come last, under "Earlier".
    An empty `items` renders a short "nothing new" note: whether to send that is the
    caller's decision.
    """

    user_name: str
    to: tuple[str, ...]  # one or more recipient addresses
    sender: str  # "Paperboy <paperboy@example.org>"
    day: date  # the day the digest is for, in the user's time zone
    items: tuple[DigestItem, ...]
    considered: int  # how many candidates were ranked
    created_at: datetime  # timezone-aware
    reply_to: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    trending: tuple[TrendingItem, ...] = ()
    period: Period = "day"
    # Where to unsubscribe: "mailto:x@example.org" (or a bare address) and/or an https URL.
    # An https URL also gets RFC 8058 one-click (List-Unsubscribe-Post).
    unsubscribe: str | tuple[str, ...] | None = None
    # Feedback pages (issue #14), built by the caller; None: not shown. With
    # `unsubscribe_url` the footer's "Unsubscribe" goes to that page instead.
    unsubscribe_url: str | None = None
    pause_url: str | None = None  # "Pause for a week"
    profile_url: str | None = None  # "Your profile"
    # How it was ranked, when the reader must know (keywords only, weak matches only):
    # shown under the headline. `keywords_only`: no saved paper had text to rank against.
    note: str = ""
    keywords_only: bool = False
    # A user with collections (issue #23): the sections shown, in order, one per
    # collection ("": the default one, headed DEFAULT_SECTION); each item sits in the
    # section named by its `collection`. Empty: no sections, as before.
    sections: tuple[str, ...] = ()

    def section(self, name: str) -> Digest:
        """This digest with only the papers of one section (for that collection's own
        channels), itself without sections."""
        items = tuple(i for i in self.items if i.collection == name)
        return replace(self, items=items, sections=(), trending=())
