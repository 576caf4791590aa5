"""Chat and push channels (issue #23): channel_deliveries, one row per (digest, channel).

A digest goes to the user's e-mail (a `deliveries` row) and to each of their `notify`
channels: each channel is its own delivery, recorded *before* it is sent, in the same
transaction as the digest and its ledger rows (LedgerMixin.create_delivery calls
`record_channels`), with its own status, attempts, lease and last error. The papers are
in the ledger once, on the digest's `deliveries` row; a user with channels and no e-mail
has that row too, with the status "no-mail" and no message; its `sent_at` is set when
its first channel has taken the whole digest (the user's feed then shows it).

A channel's text is split into parts (the channel's size limit); `parts_sent` counts the
parts the service accepted, written after each, so a retry goes on from the first part it
did not accept, and a crash between a service's OK and that write repeats that one part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from paperboy.jobs.storage.base import StorageBase
from paperboy.jobs.storage.schema import channel_deliveries, deliveries, ledger

PENDING, SENT, FAILED = "pending", "sent", "failed"
NO_MAIL = "no-mail"  # the status of the `deliveries` row of a digest without e-mail


@dataclass(frozen=True, slots=True)
class ChannelText:
    """What one channel is sent of one digest: a title and the parts of the body."""

    channel: str  # the channel's name in the config
    title: str
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChannelDelivery:
    id: int
    delivery_id: int
    user_name: str
    channel: str
    status: str
    title: str
    parts: tuple[str, ...]
    parts_sent: int
    created_at: datetime
    attempts: int
    sent_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    """A channel's latest delivery, for `paperboy status`."""

    user_name: str
    channel: str
    status: str
    at: datetime  # when it was sent, or last tried, or recorded
    last_error: str | None
    sent: int  # digests this channel was sent in all


def _channel_delivery(row: Row[Any]) -> ChannelDelivery:
    return ChannelDelivery(
        id=row.id,
        delivery_id=row.delivery_id,
        user_name=row.user_name,
        channel=row.channel,
        status=row.status,
        title=row.title,
        parts=tuple(row.parts),
        parts_sent=row.parts_sent,
        created_at=row.created_at,
        attempts=row.attempts,
        sent_at=row.sent_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def record_channels(
    conn: Connection,
    delivery_id: int,
    user_name: str,
    channels: Sequence[ChannelText],
    *,
    now: datetime,
    owner: str | None,
    lease_until: datetime | None,
) -> None:
    """Write a digest's channel deliveries as pending, in the caller's transaction,
    leased to `owner` (who records them sends them)."""
    if not channels:
        return
    conn.execute(
        insert(channel_deliveries),
        [
            {
                "delivery_id": delivery_id,
                "user_name": user_name,
                "channel": c.channel,
                "status": PENDING,
                "title": c.title,
                "parts": list(c.parts),
                "parts_sent": 0,
                "created_at": now,
                "attempts": 0,
                "lease_owner": owner if lease_until is not None else None,
                "lease_expires_at": lease_until,
            }
            for c in channels
        ],
    )


class ChannelsMixin(StorageBase):
    """The deliveries of digests to chat and push channels."""

    def channel_deliveries(
        self,
        *,
        user_name: str | None = None,
        status: str | None = None,
        delivery_id: int | None = None,
    ) -> list[ChannelDelivery]:
        query = select(channel_deliveries).order_by(channel_deliveries.c.id)
        if user_name is not None:
            query = query.where(channel_deliveries.c.user_name == user_name)
        if status is not None:
            query = query.where(channel_deliveries.c.status == status)
        if delivery_id is not None:
            query = query.where(channel_deliveries.c.delivery_id == delivery_id)
        with self.engine.connect() as conn:
            return [_channel_delivery(row) for row in conn.execute(query)]

    def take_channel_delivery(
        self,
        channel_id: int,
        owner: str,
        lease: timedelta,
        *,
        gone: Callable[[str], bool] = lambda _owner: False,
    ) -> bool:
        """Lease a pending channel delivery to `owner`, as Storage.take_delivery."""
        now = self._now()
        table = channel_deliveries
        with self._tx() as conn:
            holder = conn.execute(
                select(table.c.lease_owner).where(table.c.id == channel_id)
            ).scalar()
            dead = holder is not None and holder != owner and gone(holder)
            done = conn.execute(
                update(table)
                .where(
                    table.c.id == channel_id,
                    table.c.status == PENDING,
                    (table.c.lease_owner.is_(None))
                    | (table.c.lease_owner == owner)
                    | (table.c.lease_owner == (holder if dead else None))
                    | (table.c.lease_expires_at < now),
                )
                .values(lease_owner=owner, lease_expires_at=now + lease)
            )
        return bool(done.rowcount == 1)

    def release_channel_delivery(self, channel_id: int, owner: str) -> None:
        """Give up the lease on a pending channel delivery (not being sent by us)."""
        with self._tx() as conn:
            conn.execute(
                update(channel_deliveries)
                .where(
                    channel_deliveries.c.id == channel_id,
                    channel_deliveries.c.lease_owner == owner,
                )
                .values(lease_owner=None, lease_expires_at=None)
            )

    def _channel_ours(self, channel_id: int, owner: str | None) -> Any:
        table = channel_deliveries
        cond = (table.c.id == channel_id) & (table.c.status == PENDING)
        if owner is not None:
            cond = cond & (table.c.lease_owner == owner)
        return cond

    def mark_channel_parts_sent(
        self, channel_id: int, parts_sent: int, *, done: bool, owner: str | None = None
    ) -> bool:
        """Record that the service accepted the first `parts_sent` parts; with `done`
        (that was the last part) the channel delivery is sent. False (nothing written)
        when it is no longer pending, or no longer leased to `owner` (as mark_sent)."""
        now = self._now()
        values: dict[str, Any] = {"parts_sent": parts_sent}
        if done:
            values |= {
                "status": SENT,
                "sent_at": now,
                "last_attempt_at": now,
                "last_error": None,
                "attempts": channel_deliveries.c.attempts + 1,
                "lease_owner": None,
                "lease_expires_at": None,
            }
        with self._tx() as conn:
            written = conn.execute(
                update(channel_deliveries)
                .where(self._channel_ours(channel_id, owner))
                .values(**values)
            )
            if done and written.rowcount == 1:  # a digest without e-mail reached the user
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id
                        == select(channel_deliveries.c.delivery_id)
                        .where(channel_deliveries.c.id == channel_id)
                        .scalar_subquery(),
                        deliveries.c.status == NO_MAIL,
                        deliveries.c.sent_at.is_(None),
                    )
                    .values(sent_at=now)
                )
        return bool(written.rowcount == 1)

    def mark_channel_failed(
        self,
        channel_id: int,
        error: str,
        *,
        permanent: bool,
        at: datetime | None = None,
        owner: str | None = None,
    ) -> bool:
        """A send to a channel failed: a temporary failure stays pending (retried later,
        with backoff), a permanent one is `failed`. A digest that went by no e-mail and
        whose every channel failed for good releases its papers to the user's next
        digest (as a failed e-mail does). False when the row is no longer ours."""
        when = at or self._now()
        table = channel_deliveries
        with self._tx() as conn:
            written = conn.execute(
                update(table)
                .where(self._channel_ours(channel_id, owner))
                .values(
                    status=FAILED if permanent else PENDING,
                    last_error=error,
                    attempts=table.c.attempts + 1,
                    last_attempt_at=when,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            if written.rowcount != 1:
                return False
            if permanent:
                self._release_if_undelivered(conn, channel_id, when)
        return True

    def _release_if_undelivered(self, conn: Connection, channel_id: int, when: datetime) -> None:
        """Release the papers of a no-mail digest none of whose channels is left."""
        table = channel_deliveries
        delivery_id = conn.execute(
            select(table.c.delivery_id).where(table.c.id == channel_id)
        ).scalar_one()
        mail = conn.execute(
            select(deliveries.c.status).where(deliveries.c.id == delivery_id)
        ).scalar_one()
        alive = conn.execute(
            select(func.count()).where(table.c.delivery_id == delivery_id, table.c.status != FAILED)
        ).scalar_one()
        if mail == NO_MAIL and not alive:
            conn.execute(
                update(ledger)
                .where(ledger.c.delivery_id == delivery_id, ledger.c.released_at.is_(None))
                .values(released_at=when)
            )

    def channel_summaries(self) -> dict[str, list[ChannelSummary]]:
        """Each user's channels, each with its latest delivery and how many were sent:
        two small aggregate queries (never the texts), for `paperboy status`."""
        table = channel_deliveries
        latest = select(func.max(table.c.id)).group_by(table.c.user_name, table.c.channel)
        sent = (
            select(table.c.user_name, table.c.channel, func.count().label("n"))
            .where(table.c.status == SENT)
            .group_by(table.c.user_name, table.c.channel)
        )
        out: dict[str, list[ChannelSummary]] = {}
        with self.engine.connect() as conn:
            counts = {(r.user_name, r.channel): r.n for r in conn.execute(sent)}
            rows = conn.execute(
                select(
                    table.c.user_name,
                    table.c.channel,
                    table.c.status,
                    table.c.created_at,
                    table.c.sent_at,
                    table.c.last_attempt_at,
                    table.c.last_error,
                )
                .where(table.c.id.in_(latest))
                .order_by(table.c.user_name, table.c.channel)
            )
            for r in rows:
                out.setdefault(r.user_name, []).append(
                    ChannelSummary(
                        user_name=r.user_name,
                        channel=r.channel,
                        status=r.status,
                        at=r.sent_at or r.last_attempt_at or r.created_at,
                        last_error=r.last_error,
                        sent=counts.get((r.user_name, r.channel), 0),
                    )
                )
        return out
