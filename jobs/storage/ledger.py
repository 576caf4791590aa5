"""Exactly once: user_state, deliveries and the ledger (digest_claims: claims.py).

  deliveries  one row per digest message, with its Message-ID and the message itself,
              written as `pending` *before* it is sent, marked `sent` after the server
              accepted it. A pending delivery has a lease too: only its holder sends it;
  ledger      (user, paper, delivery): at most one live row per (user, paper) (a unique
              index), so a paper is mailed to a user at most once; a digest that failed
              for good *releases* its rows (released_at), keeping the history;
  user_state  per user, the listing time up to which candidates were considered, and
              when the last digest was built: the digest is recorded only if this is
              still what it was built on (compare-and-set, in the recording transaction).

Recording a digest (create_delivery) is one transaction: the claim completes, the user's
state moves on, the delivery and its ledger rows are written; or nothing is (ClaimLost).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage.base import StorageBase, upsert
from paperboy.jobs.storage.channels import NO_MAIL, ChannelText, record_channels
from paperboy.jobs.storage.claims import Claim, ClaimLost, complete_claim
from paperboy.jobs.storage.schema import deliveries, ledger, papers, user_state
from paperboy.jobs.storage.stored_paper import StoredPaper, stored_paper

log = logging.getLogger(__name__)


PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    user_name: str
    message_id: str
    digest_day: date
    status: str
    paper_count: int
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    receipt: str | None
    message: bytes
    last_attempt_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    """A user's deliveries counted by status, read without their messages (issue #13)."""

    user_name: str
    pending: int = 0
    failed: int = 0
    sent: int = 0
    last_sent_at: datetime | None = None
    last_failure: str | None = None  # the error of the latest failed one


@dataclass(frozen=True, slots=True)
class UserState:
    user_name: str
    listed_through: datetime | None
    last_digest_at: datetime | None
    unsubscribed_at: datetime | None = None
    paused_until: datetime | None = None

    def paused(self, now: datetime) -> bool:
        """True while a "pause" is in force."""
        return self.paused_until is not None and now < self.paused_until

    def receiving(self, now: datetime) -> bool:
        """Whether this user gets digests now: not unsubscribed, not paused."""
        return self.unsubscribed_at is None and not self.paused(now)


def _user_state(row: Row[Any]) -> UserState:
    return UserState(
        row.user_name,
        row.listed_through,
        row.last_digest_at,
        unsubscribed_at=row.unsubscribed_at,
        paused_until=row.paused_until,
    )


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        user_name=row.user_name,
        message_id=row.message_id,
        digest_day=row.digest_day,
        status=row.status,
        paper_count=row.paper_count,
        created_at=row.created_at,
        sent_at=row.sent_at,
        attempts=row.attempts,
        last_error=row.last_error,
        receipt=row.receipt,
        message=bytes(row.message),
        last_attempt_at=row.last_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def _shown(position: int, shown: tuple[float, str] | None) -> dict[str, Any]:
    """A ledger row's record of what the digest showed: its place, score and reason."""
    score, reason = shown if shown is not None else (None, None)
    return {"position": position, "score": score, "reason": reason}


class LedgerMixin(StorageBase):
    """Users' digest state, the deliveries, and the ledger of what each user was sent."""

    def user_state(self, name: str) -> UserState:
        with self.engine.connect() as conn:
            row = conn.execute(select(user_state).where(user_state.c.user_name == name)).first()
        if row is None:
            return UserState(name, None, None)
        return _user_state(row)

    def set_unsubscribed(
        self, user_name: str, unsubscribed: bool, *, at: datetime | None = None
    ) -> bool:
        """Stop (or restart) a user's digests; True if that changed anything. Unsubscribing
        twice keeps the first time; re-subscribing also ends a pause."""
        with self._tx() as conn:
            row = conn.execute(
                select(user_state.c.unsubscribed_at, user_state.c.paused_until).where(
                    user_state.c.user_name == user_name
                )
            ).first()
            was = row is not None and row.unsubscribed_at is not None
            if unsubscribed:
                if was:
                    return False
                self._set_user_state(conn, user_name, {"unsubscribed_at": at or self._now()})
                return True
            paused = row is not None and row.paused_until is not None
            if not was and not paused:
                return False
            self._set_user_state(conn, user_name, {"unsubscribed_at": None, "paused_until": None})
            return True

    def set_paused_until(self, user_name: str, until: datetime | None) -> None:
        """Pause a user's digests until `until` (None: resume now)."""
        with self._tx() as conn:
            self._set_user_state(conn, user_name, {"paused_until": until})

    def user_states(self) -> dict[str, UserState]:
        """Every user's state in one query (`paperboy status` with 10,000 users)."""
        with self.engine.connect() as conn:
            return {row.user_name: _user_state(row) for row in conn.execute(select(user_state))}

    def record_empty_digest(
        self,
        user_name: str,
        listed_through: datetime | None,
        *,
        at: datetime | None = None,
        claim: Claim | None = None,
        built_on: UserState | None = None,
    ) -> None:
        """A due digest had nothing worth sending: move the user's window on.

        With `claim` and `built_on`, as create_delivery: ClaimLost if either moved on."""
        try:
            with self._tx() as conn:
                if claim is not None:
                    complete_claim(conn, claim, "empty", None, now=self._now())
                values: dict[str, Any] = {"last_digest_at": at or self._now()}
                if listed_through is not None:
                    values["listed_through"] = listed_through
                self._set_user_state(conn, user_name, values, built_on)
        except IntegrityError as e:
            raise ClaimLost(f"{user_name}: another runner recorded a digest first") from e

    def create_delivery(
        self,
        *,
        user_name: str,
        message_id: str,
        digest_day: date,
        message: bytes,
        paper_ids: Sequence[str],
        listed_through: datetime | None,
        at: datetime | None = None,
        claim: Claim | None = None,
        built_on: UserState | None = None,
        lease: timedelta | None = None,
        shown: Mapping[str, tuple[float, str]] | None = None,
        channels: Sequence[ChannelText] = (),
        mail: bool = True,
    ) -> int:
        """Record a digest as pending, with its papers in the ledger, before it is sent.

        One transaction: either the digest is recorded with all its papers and the
        user's window moves on, or nothing changed. `at` is the digest's time (default:
        now). With `claim`, the claim must still be ours (it becomes done); with
        `built_on`, the user's state must still be the one the digest was built from;
        a paper already in a live digest of this user is refused too: ClaimLost, and
        nothing is recorded. The new delivery is leased to the claim's owner for `lease`.
        `shown`: each paper's (score, reason) as the digest shows them; the ledger keeps
        them with the paper's place in `paper_ids` (the user's feed shows them).
        `channels`: its chat and push deliveries (channels.py); mail=False: "no-mail"."""
        now = at or self._now()
        owner = claim.owner if claim is not None else None
        lease_until = self._now() + lease if lease is not None and owner is not None else None
        wanted = list(dict.fromkeys(paper_ids))
        try:
            with self._tx() as conn:
                result = conn.execute(
                    insert(deliveries).values(
                        user_name=user_name,
                        message_id=message_id,
                        digest_day=digest_day,
                        status=PENDING if mail else NO_MAIL,
                        paper_count=len(wanted),
                        created_at=now,
                        attempts=0,
                        message=message,
                        lease_owner=owner if lease_until is not None else None,
                        lease_expires_at=lease_until,
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                delivery_id = int(key[0])
                record_channels(
                    conn,
                    delivery_id,
                    user_name,
                    channels,
                    now=now,
                    owner=owner,
                    lease_until=lease_until,
                )
                if claim is not None:
                    complete_claim(conn, claim, "recorded", delivery_id, now=self._now())
                values: dict[str, Any] = {"last_digest_at": now}
                if listed_through is not None:
                    values["listed_through"] = listed_through
                self._set_user_state(conn, user_name, values, built_on)
                promised = [
                    row.paper_id
                    for row in conn.execute(
                        select(ledger.c.paper_id).where(
                            ledger.c.user_name == user_name,
                            ledger.c.paper_id.in_(wanted),
                            ledger.c.released_at.is_(None),
                        )
                    )
                ]
                if promised:
                    raise ClaimLost(
                        f"{user_name}: {len(promised)} paper(s) are already in another "
                        f"digest ({', '.join(promised[:3])})"
                    )
                if wanted:
                    conn.execute(
                        insert(ledger),
                        [
                            {"user_name": user_name, "paper_id": p, "delivery_id": delivery_id}
                            | _shown(i, (shown or {}).get(p))
                            for i, p in enumerate(wanted, 1)
                        ],
                    )
        except ClaimLost:
            raise
        except IntegrityError as e:
            if "message_id" in str(e):
                raise StorageError(f"cannot record the digest for {user_name}: {e}") from e
            raise ClaimLost(f"{user_name}: another runner recorded a digest first") from e
        except SQLAlchemyError as e:
            raise StorageError(f"cannot record the digest for {user_name}: {e}") from e
        return delivery_id

    def _set_user_state(
        self,
        conn: Connection,
        name: str,
        values: dict[str, Any],
        built_on: UserState | None = None,
    ) -> None:
        """Write a user's state; with `built_on`, only if it is still that (else ClaimLost).

        The compare-and-set is one UPDATE ... WHERE last_digest_at = <what it was>: atomic
        under any isolation level; a first digest inserts the row, and two first digests
        collide on its primary key. Without `built_on`, one INSERT ... ON CONFLICT DO UPDATE
        (an unsubscribe racing a first digest must not collide with it).
        """
        if built_on is None:
            upsert(conn, user_state, ["user_name"], [{"user_name": name, **values}])
            return
        query = update(user_state).where(user_state.c.user_name == name)
        if built_on is not None:
            last = built_on.last_digest_at
            query = query.where(
                user_state.c.last_digest_at == last
                if last is not None
                else user_state.c.last_digest_at.is_(None)
            )
        done = conn.execute(query.values(**values))
        if done.rowcount:
            return
        if built_on is not None and built_on.last_digest_at is not None:
            raise ClaimLost(f"{name}: another runner recorded a digest first")
        exists = conn.execute(
            select(user_state.c.user_name).where(user_state.c.user_name == name)
        ).first()
        if exists is not None:
            raise ClaimLost(f"{name}: another runner recorded a digest first")
        conn.execute(insert(user_state).values(user_name=name, **values))

    def take_delivery(
        self,
        delivery_id: int,
        owner: str,
        lease: timedelta,
        *,
        gone: Callable[[str], bool] = lambda _owner: False,
    ) -> bool:
        """Lease a pending delivery to `owner` for sending; False if someone else holds
        a live lease on it or it is no longer pending. Renews the owner's own lease; takes
        over an expired lease or one whose owner `gone` says is dead (see claim_digest)."""
        now = self._now()
        with self._tx() as conn:
            holder = conn.execute(
                select(deliveries.c.lease_owner).where(deliveries.c.id == delivery_id)
            ).scalar()
            dead = holder is not None and holder != owner and gone(holder)
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == PENDING,
                    (deliveries.c.lease_owner.is_(None))
                    | (deliveries.c.lease_owner == owner)
                    | (deliveries.c.lease_owner == (holder if dead else None))
                    | (deliveries.c.lease_expires_at < now),
                )
                .values(lease_owner=owner, lease_expires_at=now + lease)
            )
        return bool(done.rowcount == 1)

    def release_delivery(self, delivery_id: int, owner: str) -> None:
        """Give up the lease on a pending delivery (this runner is not sending it)."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def _still_ours(self, delivery_id: int, owner: str | None) -> Any:
        """The condition of a write that settles a send: the delivery is still pending
        and, with `owner`, still leased to it (not taken over after its lease ran out)."""
        cond = (deliveries.c.id == delivery_id) & (deliveries.c.status == PENDING)
        if owner is not None:
            cond = cond & (deliveries.c.lease_owner == owner)
        return cond

    def mark_sent(self, delivery_id: int, receipt: str, *, owner: str | None = None) -> bool:
        """Record a send the server accepted; False (nothing written) when the delivery is
        no longer pending, or no longer leased to `owner` (a send that outlived its lease:
        the runner that took it over settles it). owner=None: whoever holds it."""
        now = self._now()
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(self._still_ours(delivery_id, owner))
                .values(
                    status=SENT,
                    sent_at=now,
                    last_attempt_at=now,
                    receipt=receipt,
                    last_error=None,
                    attempts=deliveries.c.attempts + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return bool(done.rowcount == 1)

    def mark_attempt_failed(
        self,
        delivery_id: int,
        error: str,
        *,
        permanent: bool,
        at: datetime | None = None,
        owner: str | None = None,
    ) -> bool:
        """A send failed: a temporary failure stays pending (retried later, with backoff);
        a permanent one is `failed`, and its papers are released to the user's next
        digest (their ledger rows stay, marked released). False (nothing written) when
        the delivery is no longer pending or no longer leased to `owner`, as mark_sent:
        a late failure never turns a sent delivery back to pending."""
        when = at or self._now()
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(self._still_ours(delivery_id, owner))
                .values(
                    status=FAILED if permanent else PENDING,
                    last_error=error,
                    attempts=deliveries.c.attempts + 1,
                    last_attempt_at=when,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            if done.rowcount != 1:
                return False
            if permanent:
                conn.execute(
                    update(ledger)
                    .where(ledger.c.delivery_id == delivery_id, ledger.c.released_at.is_(None))
                    .values(released_at=when)
                )
        return True

    def record_failed_digest(
        self, user_name: str, error: str, *, digest_day: date, attempts: int
    ) -> int:
        """A digest that could not be built, for good (queue mode: a bug, a bad config, or
        a temporary failure that outlasted its retries): a `failed` delivery with no
        message and no papers, so that `paperboy status` shows it with its error."""
        now = self._now()
        with self._tx() as conn:
            result = conn.execute(
                insert(deliveries).values(
                    user_name=user_name,
                    message_id=f"<not-built.{uuid.uuid4().hex}@paperboy.invalid>",
                    digest_day=digest_day,
                    status=FAILED,
                    paper_count=0,
                    created_at=now,
                    attempts=attempts,
                    last_attempt_at=now,
                    last_error=error,
                    message=b"",
                )
            )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def deliveries(
        self, *, user_name: str | None = None, status: str | None = None
    ) -> list[Delivery]:
        query = select(deliveries).order_by(deliveries.c.id)
        if user_name is not None:
            query = query.where(deliveries.c.user_name == user_name)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def delivery_summaries(self) -> dict[str, DeliverySummary]:
        """Every user's deliveries counted by status, and their last send, in one query.

        For `paperboy status`: `deliveries()` reads each message (a digest is tens of
        kilobytes), this reads four small columns' aggregates and never a message.
        """
        query = select(
            deliveries.c.user_name,
            deliveries.c.status,
            func.count().label("n"),
            func.max(deliveries.c.sent_at).label("last_sent_at"),
        ).group_by(deliveries.c.user_name, deliveries.c.status)
        counts: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                user = counts.setdefault(row.user_name, {"user_name": row.user_name})
                if row.status in (PENDING, FAILED, SENT):
                    user[row.status] = row.n
                if row.status == SENT:
                    user["last_sent_at"] = row.last_sent_at
            latest = (
                select(func.max(deliveries.c.id))
                .where(deliveries.c.status == FAILED)
                .group_by(deliveries.c.user_name)
            )
            for row in conn.execute(
                select(deliveries.c.user_name, deliveries.c.last_error).where(
                    deliveries.c.id.in_(latest)
                )
            ):
                counts[row.user_name]["last_failure"] = row.last_error
        return {name: DeliverySummary(**values) for name, values in counts.items()}

    def mailed_ids(self, user_name: str) -> set[str]:
        """Papers in this user's sent or pending digests (never to be mailed again)."""
        query = select(ledger.c.paper_id).where(
            ledger.c.user_name == user_name, ledger.c.released_at.is_(None)
        )
        with self.engine.connect() as conn:
            return {row.paper_id for row in conn.execute(query)}

    def returned_papers(self, user_name: str) -> list[StoredPaper]:
        """Papers of this user's failed digests that no later digest carried: not lost."""
        released = select(ledger.c.paper_id).where(
            ledger.c.user_name == user_name, ledger.c.released_at.is_not(None)
        )
        live = select(ledger.c.paper_id).where(
            ledger.c.user_name == user_name, ledger.c.released_at.is_(None)
        )
        query = select(papers).where(papers.c.id.in_(released), papers.c.id.not_in(live))
        with self.engine.connect() as conn:
            return [stored_paper(row) for row in conn.execute(query.order_by(papers.c.id))]
