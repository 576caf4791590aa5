"""What a user was sent: their latest sent digests with each paper as the digest showed it.

Read by the user's Atom feed (jobs.web.feed, issue #23). Only deliveries whose status is
`sent` count (for a user without e-mail: "no-mail" ones a channel has taken): a pending
one may still fail for good, and its papers then go into a later digest, which would
show them twice; a failed one never reached the user. A paper's place, score and reason
are the ledger's (recorded with the digest since migration 0008; None in older rows),
its title, abstract and TL;DR are the paper's as stored now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from paperboy.jobs.storage.base import StorageBase
from paperboy.jobs.storage.channels import NO_MAIL
from paperboy.jobs.storage.ledger import SENT
from paperboy.jobs.storage.papers import read_papers
from paperboy.jobs.storage.schema import deliveries, ledger
from paperboy.jobs.storage.stored_paper import StoredPaper

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentPaper:
    """One paper of a sent digest: what the digest said of it, and the paper as stored."""

    paper_id: str
    position: int | None  # 1 = first in the digest; None before migration 0008
    score: float | None
    reason: str | None
    paper: StoredPaper | None  # None if the paper is no longer stored


@dataclass(frozen=True, slots=True)
class SentDigest:
    """One sent digest, its papers in the digest's order."""

    delivery_id: int
    message_id: str
    digest_day: date
    created_at: datetime
    sent_at: datetime
    papers: tuple[SentPaper, ...]


class SentMixin(StorageBase):
    """A user's sent digests, newest first, for their feed."""

    def sent_digests(self, user_name: str, *, limit: int) -> list[SentDigest]:
        """The user's `limit` latest sent digests (by the time they were sent), newest
        first, each with its papers in the order the digest showed them."""
        query = (
            select(
                deliveries.c.id,
                deliveries.c.message_id,
                deliveries.c.digest_day,
                deliveries.c.created_at,
                deliveries.c.sent_at,
            )
            .where(
                deliveries.c.user_name == user_name,
                (deliveries.c.status == SENT)
                | ((deliveries.c.status == NO_MAIL) & deliveries.c.sent_at.is_not(None)),
            )
            .order_by(deliveries.c.sent_at.desc(), deliveries.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
            ids = [row.id for row in found]
            rows = conn.execute(
                select(
                    ledger.c.delivery_id,
                    ledger.c.paper_id,
                    ledger.c.position,
                    ledger.c.score,
                    ledger.c.reason,
                ).where(ledger.c.user_name == user_name, ledger.c.delivery_id.in_(ids))
            ).all()
            stored = read_papers(conn, sorted({row.paper_id for row in rows}))
        by_delivery: dict[int, list[SentPaper]] = {i: [] for i in ids}
        for row in rows:
            by_delivery[row.delivery_id].append(
                SentPaper(
                    row.paper_id, row.position, row.score, row.reason, stored.get(row.paper_id)
                )
            )
        out = []
        for row in found:
            # Old rows have no position: the paper id keeps their order stable.
            papers = sorted(
                by_delivery[row.id],
                key=lambda p: (p.position is None, p.position or 0, p.paper_id),
            )
            sent_at = row.sent_at if row.sent_at is not None else row.created_at
            out.append(
                SentDigest(
                    row.id, row.message_id, row.digest_day, row.created_at, sent_at, tuple(papers)
                )
            )
        return out
