"""All of Paperboy's state, behind one class: `Storage`, assembled from one part per table family.

SQLAlchemy 2.x Core, so the same code runs on SQLite (the default) and PostgreSQL. No
other module writes SQL. Timestamps are timezone-aware UTC in and out, also on SQLite.

    schema.py        the tables and `metadata` (imports no other part)
    base.py          StorageBase: open (and migrate), close, transactions, the clock
    stored_paper.py  StoredPaper, UpsertResult: records more than one part returns
    papers.py        papers, paper_sources, sources, trending           PapersMixin
    ledger.py        user_state, deliveries, ledger (exactly once)      LedgerMixin
    channels.py      channel_deliveries (chat and push, issue #23)      ChannelsMixin
    claims.py        digest_claims (who builds a digest)                ClaimsMixin
    digest_reads.py  a batch of users' digest inputs, a query a kind   DigestReadsMixin
    links.py         user_state.links_epoch ("sign out all links")      LinksMixin
    clicks.py        clicks (papers opened from a digest, issue #21)    ClicksMixin
    sent.py          a user's sent digests, with their papers (feed)    SentMixin
    library.py       library, zotero_sync, zotero_items                 LibraryMixin
    venues.py        venues, venue_papers                               VenuesMixin
    index.py         embeddings, index_generations, index_chunks        IndexMixin
    process_lock.py  locks that die with their process: the daemon's, fetch_lock (no table)

Every mixin is a StorageBase; parts share code through base.py and module functions
(papers.store_papers, papers.read_papers, claims.complete_claim), never through another
mixin's methods. Callers import from here: `from paperboy.jobs.storage import Storage`.
"""

from __future__ import annotations

import logging

from paperboy.jobs.storage.base import MIGRATIONS, StorageBase, utcnow
from paperboy.jobs.storage.channels import (
    ChannelDelivery,
    ChannelsMixin,
    ChannelSummary,
    ChannelText,
)
from paperboy.jobs.storage.claims import Claim, ClaimLost, ClaimsMixin
from paperboy.jobs.storage.clicks import ClicksMixin
from paperboy.jobs.storage.digest_reads import DigestReadsMixin, UserReads
from paperboy.jobs.storage.index import IndexGeneration, IndexMixin
from paperboy.jobs.storage.ledger import (
    FAILED,
    PENDING,
    SENT,
    Delivery,
    DeliverySummary,
    LedgerMixin,
    UserState,
)
from paperboy.jobs.storage.library import LibraryMixin, ZoteroChange, ZoteroState
from paperboy.jobs.storage.links import LinksMixin
from paperboy.jobs.storage.papers import PapersMixin, SourceState, TrendingEntry
from paperboy.jobs.storage.process_lock import fetch_lock
from paperboy.jobs.storage.schema import metadata
from paperboy.jobs.storage.sent import SentDigest, SentMixin, SentPaper
from paperboy.jobs.storage.stored_paper import StoredPaper, UpsertResult
from paperboy.jobs.storage.venues import VenueEntry, VenuesMixin, VenueState

__all__ = [
    "FAILED",
    "MIGRATIONS",
    "PENDING",
    "SENT",
    "ChannelDelivery",
    "ChannelSummary",
    "ChannelText",
    "Claim",
    "ClaimLost",
    "Delivery",
    "DeliverySummary",
    "IndexGeneration",
    "SentDigest",
    "SentPaper",
    "SourceState",
    "Storage",
    "StoredPaper",
    "TrendingEntry",
    "UpsertResult",
    "UserReads",
    "UserState",
    "VenueEntry",
    "VenueState",
    "ZoteroChange",
    "ZoteroState",
    "fetch_lock",
    "metadata",
    "utcnow",
]

log = logging.getLogger(__name__)


class Storage(
    PapersMixin,
    LedgerMixin,
    ChannelsMixin,
    ClaimsMixin,
    DigestReadsMixin,
    LinksMixin,
    ClicksMixin,
    SentMixin,
    LibraryMixin,
    VenuesMixin,
    IndexMixin,
    StorageBase,
):
    """The database, opened from a SQLAlchemy URL (Storage.open). The one place that
    speaks SQL: each family of tables is one mixin (see the module's docstring)."""
