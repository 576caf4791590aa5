"""Who builds a digest: digest_claims, one row per (user, digest slot).

A digest is claimed here, atomically (INSERT ... ON CONFLICT DO NOTHING), before any
work; the claim has an owner and a lease, and a claim whose owner died is taken over once
its lease has expired (or at once, if its owner is a process of this machine that no
longer exists). Recording the digest completes the claim in the same transaction
(ledger.py's create_delivery and record_empty_digest call `complete_claim`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage.base import StorageBase, insert_ignoring
from paperboy.jobs.storage.schema import digest_claims

log = logging.getLogger(__name__)


CLAIMED, DONE = "claimed", "done"


def _new_claim(
    user_name: str, slot: str, owner: str, now: datetime, until: datetime
) -> dict[str, Any]:
    """A fresh claim's row: `owner` holds (user_name, slot) from `now` until `until`."""
    return {
        "user_name": user_name,
        "slot": slot,
        "owner": owner,
        "state": CLAIMED,
        "claimed_at": now,
        "expires_at": until,
        "takeovers": 0,
    }


class ClaimLost(StorageError):
    """The digest was not recorded: its claim is no longer ours, the user's state moved
    on since the digest was built, or one of its papers is already in a live digest."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A digest slot claimed by `owner` (Storage.claim_digest)."""

    user_name: str
    slot: str
    owner: str
    expires_at: datetime
    taken_over: bool = False


def complete_claim(
    conn: Connection, claim: Claim, outcome: str, delivery_id: int | None, *, now: datetime
) -> None:
    """Mark `claim` done with `outcome`, in the caller's transaction; ClaimLost if it is
    no longer ours (another runner took it over)."""
    done = conn.execute(
        update(digest_claims)
        .where(
            digest_claims.c.user_name == claim.user_name,
            digest_claims.c.slot == claim.slot,
            digest_claims.c.owner == claim.owner,
            digest_claims.c.state == CLAIMED,
        )
        .values(state=DONE, outcome=outcome, delivery_id=delivery_id, finished_at=now)
    )
    if done.rowcount != 1:
        raise ClaimLost(
            f"{claim.user_name}: the claim on digest {claim.slot} was taken over by another runner"
        )


def _live_claims(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The live (not done) claims among (user, slot) `keys`: their owner and lease."""
    query = select(
        digest_claims.c.user_name,
        digest_claims.c.slot,
        digest_claims.c.owner,
        digest_claims.c.expires_at,
    ).where(
        digest_claims.c.user_name.in_({user for user, _slot in keys}),
        digest_claims.c.state == CLAIMED,
    )
    return {
        (row.user_name, row.slot): row
        for row in conn.execute(query)
        if (row.user_name, row.slot) in keys
    }


class ClaimsMixin(StorageBase):
    """Claiming a digest slot, and closing or giving up a claim."""

    def claim_digest(
        self,
        user_name: str,
        slot: str,
        owner: str,
        lease: timedelta,
        *,
        gone: Callable[[str], bool] = lambda _owner: False,
    ) -> Claim | None:
        """Claim the digest (user, slot) for `owner` until now + `lease`, or None.

        None when another runner holds a live claim on it, or it is done. A claim whose
        lease expired, or whose owner `gone` says is dead (a process of this machine
        that no longer exists: kill -9), is taken over: one atomic UPDATE ... WHERE
        expires_at < now (or owner = the dead one), so of two runners arriving at once
        exactly one gets it.
        """
        now = self._now()
        until = now + lease
        with self._tx() as conn:
            # RETURNING, not rowcount: psycopg reports no rowcount for ON CONFLICT.
            got = conn.execute(
                self._insert_ignore(
                    digest_claims,
                    ["user_name", "slot"],
                    _new_claim(user_name, slot, owner, now, until),
                ).returning(digest_claims.c.user_name)
            ).first()
            if got is not None:
                return Claim(user_name, slot, owner, until)
            holder = conn.execute(
                select(digest_claims.c.owner).where(
                    digest_claims.c.user_name == user_name,
                    digest_claims.c.slot == slot,
                    digest_claims.c.state == CLAIMED,
                )
            ).scalar()
            dead = holder is not None and holder != owner and gone(holder)
            taken = conn.execute(
                update(digest_claims)
                .where(
                    digest_claims.c.user_name == user_name,
                    digest_claims.c.slot == slot,
                    digest_claims.c.state == CLAIMED,
                    (digest_claims.c.expires_at < now)
                    | (digest_claims.c.owner == (holder if dead else None)),
                )
                .values(
                    owner=owner,
                    claimed_at=now,
                    expires_at=until,
                    takeovers=digest_claims.c.takeovers + 1,
                )
            )
            if taken.rowcount == 1:
                return Claim(user_name, slot, owner, until, taken_over=True)
        return None

    def claim_digests(
        self,
        slots: Sequence[tuple[str, str]],
        owner: str,
        lease: timedelta,
        *,
        gone: Callable[[str], bool] = lambda _owner: False,
    ) -> dict[str, Claim | None]:
        """claim_digest for a batch of (user, slot), by user: one INSERT ... ON CONFLICT
        DO NOTHING for all of them, one read of the claims it did not get, and
        claim_digest's takeover only for those whose lease expired or whose owner is gone.

        Each row is claimed atomically as in claim_digest: of two runners claiming the
        same batch at once, each slot goes to exactly one. The rows are inserted in
        (user, slot) order, so two runners whose batches overlap wait for each other's
        rows in the same order and cannot deadlock.
        """
        wanted = sorted(set(slots))
        if not wanted:
            return {}
        now = self._now()
        until = now + lease
        with self._tx() as conn:
            got = insert_ignoring(
                conn,
                digest_claims,
                ["user_name", "slot"],
                [_new_claim(user, slot, owner, now, until) for user, slot in wanted],
            )
            others = {key for key in wanted if key not in got}
            held = _live_claims(conn, others) if others else {}
        out: dict[str, Claim | None] = {}
        for user, slot in slots:
            if (user, slot) in got:
                out[user] = Claim(user, slot, owner, until)
                continue
            row = held.get((user, slot))
            # Done, or held by a live runner: nothing to take over (claim_digest's own
            # checks decide the rest, atomically).
            stale = row is not None and (
                row.expires_at < now or (row.owner != owner and gone(row.owner))
            )
            out[user] = self.claim_digest(user, slot, owner, lease, gone=gone) if stale else None
        return out

    def finish_claim(self, claim: Claim, outcome: str = "superseded") -> bool:
        """Close a claim without recording a digest (someone else served this slot)."""
        with self._tx() as conn:
            try:
                complete_claim(conn, claim, outcome, None, now=self._now())
            except ClaimLost:
                return False
        return True

    def release_claim(self, claim: Claim) -> None:
        """Give a claim up now (this runner will not build it): the next runner takes it
        over at once instead of waiting for the lease."""
        with self._tx() as conn:
            conn.execute(
                update(digest_claims)
                .where(
                    digest_claims.c.user_name == claim.user_name,
                    digest_claims.c.slot == claim.slot,
                    digest_claims.c.owner == claim.owner,
                    digest_claims.c.state == CLAIMED,
                )
                .values(expires_at=self._now() - timedelta(seconds=1))
            )

    def claims(self, user_name: str | None = None) -> list[dict[str, Any]]:
        """Every claim (or one user's), oldest first: for `paperboy status` and tests."""
        query = select(digest_claims).order_by(digest_claims.c.claimed_at)
        if user_name is not None:
            query = query.where(digest_claims.c.user_name == user_name)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
