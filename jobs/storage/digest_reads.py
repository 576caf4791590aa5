"""What a digest run reads of a batch of users, a few queries for the whole batch.

A digest run reads, for every user, their state, whether they have pending deliveries,
what was mailed to them (the ledger), the papers a failed digest returned, their library
and their synced Zotero items, the papers they opened from a digest (clicks), and the
papers of their profile. One query per user for
each was 15-20 round trips a digest, a third of its time at 10,000 users (issue #22);
here each is one query for a batch of users (BATCH_USERS in jobs.mailing.run), read in
one connection. The rows are the ones the per-user methods (ledger.py, library.py) read,
in the same order, so a digest built from them is the same.

These are reads: nothing here decides who sends a digest. The claims (claims.py) and the
recording transaction (ledger.create_delivery, with its compare-and-set on the user's
state) keep a digest exactly once, whatever was read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage.base import StorageBase
from paperboy.jobs.storage.clicks import MAX_CLICKED, clicked_ids
from paperboy.jobs.storage.ledger import PENDING, UserState, _user_state
from paperboy.jobs.storage.papers import read_papers
from paperboy.jobs.storage.schema import deliveries, ledger, library, user_state, zotero_items
from paperboy.jobs.storage.stored_paper import StoredPaper

__all__ = ["DigestReadsMixin", "UserReads"]


@dataclass(frozen=True, slots=True)
class UserReads:
    """One user's rows, as the per-user reads give them.

    ``state``: Storage.user_state; ``mailed``: Storage.mailed_ids; ``returned``:
    Storage.returned_papers (by id); ``library_ids``: Storage.library_ids (in the order
    added; ``default_library_ids``: of the default collection alone); ``zotero_ids``:
    Storage.zotero_paper_ids (sorted); ``clicked_ids``: Storage.clicked_papers (any
    collection); ``papers``: the stored papers among the ids the caller asked for, the
    user's library, Zotero, returned and clicked papers (shared by the users of the batch:
    read-only).
    """

    state: UserState
    mailed: frozenset[str] = frozenset()
    returned: tuple[StoredPaper, ...] = ()
    library_ids: tuple[str, ...] = ()
    default_library_ids: tuple[str, ...] = ()
    zotero_ids: tuple[str, ...] = ()
    clicked_ids: tuple[str, ...] = ()
    papers: Mapping[str, StoredPaper] = field(default_factory=dict)

    def library_papers(self) -> list[StoredPaper]:
        """Storage.library_papers(collection=""): the stored papers of the default
        collection's library, in its order."""
        return [self.papers[pid] for pid in self.default_library_ids if pid in self.papers]


def _states(conn: Connection, names: list[str]) -> dict[str, UserState]:
    """The stored states of the named users (those without one are left out)."""
    return {
        row.user_name: _user_state(row)
        for row in conn.execute(select(user_state).where(user_state.c.user_name.in_(names)))
    }


class DigestReadsMixin(StorageBase):
    """A batch of users' digest inputs, one query per kind of row."""

    def digest_states(self, names: Sequence[str]) -> tuple[dict[str, UserState], set[str]]:
        """Each user's state (Storage.user_state) and the users with a pending delivery,
        in one connection: what deciding who is due needs."""
        wanted = list(dict.fromkeys(names))
        try:
            with self.engine.connect() as conn:
                states = _states(conn, wanted)
                pending = {
                    row.user_name
                    for row in conn.execute(
                        select(deliveries.c.user_name)
                        .where(deliveries.c.user_name.in_(wanted), deliveries.c.status == PENDING)
                        .distinct()
                    )
                }
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read the state of {len(wanted)} users: {e}") from e
        return {n: states.get(n) or UserState(n, None, None) for n in wanted}, pending

    def digest_reads(
        self, names: Sequence[str], paper_ids: Sequence[str] = ()
    ) -> dict[str, UserReads]:
        """Every named user's UserReads, and the stored papers among `paper_ids` (their
        saved and disliked papers), in one connection: a handful of queries in all."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        try:
            with self.engine.connect() as conn:
                states = _states(conn, wanted)
                live: dict[str, set[str]] = {n: set() for n in wanted}
                released: dict[str, set[str]] = {n: set() for n in wanted}
                for row in conn.execute(
                    select(ledger.c.user_name, ledger.c.paper_id, ledger.c.released_at).where(
                        ledger.c.user_name.in_(wanted)
                    )
                ):
                    (live if row.released_at is None else released)[row.user_name].add(row.paper_id)
                libraries: dict[str, list[str]] = {n: [] for n in wanted}
                defaults: dict[str, list[str]] = {n: [] for n in wanted}
                for owned in conn.execute(
                    select(library.c.user_name, library.c.paper_id, library.c.collection)
                    .where(library.c.user_name.in_(wanted))
                    .order_by(library.c.user_name, library.c.added_at, library.c.paper_id)
                ):
                    libraries[owned.user_name].append(owned.paper_id)
                    if not owned.collection:
                        defaults[owned.user_name].append(owned.paper_id)
                zotero: dict[str, list[str]] = {n: [] for n in wanted}
                for item in conn.execute(
                    select(zotero_items.c.user_name, zotero_items.c.paper_id)
                    .where(zotero_items.c.user_name.in_(wanted))
                    .distinct()
                    .order_by(zotero_items.c.user_name, zotero_items.c.paper_id)
                ):
                    zotero[item.user_name].append(item.paper_id)
                returned = {n: sorted(released[n] - live[n]) for n in wanted}
                clicked = clicked_ids(conn, wanted, None, MAX_CLICKED)
                needed = dict.fromkeys(paper_ids)
                for n in wanted:
                    needed.update(dict.fromkeys(libraries[n]))
                    needed.update(dict.fromkeys(zotero[n]))
                    needed.update(dict.fromkeys(returned[n]))
                    needed.update(dict.fromkeys(clicked[n]))
                papers = read_papers(conn, list(needed))
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read the digests of {len(wanted)} users: {e}") from e
        return {
            n: UserReads(
                state=states.get(n) or UserState(n, None, None),
                mailed=frozenset(live[n]),
                returned=tuple(papers[pid] for pid in returned[n] if pid in papers),
                library_ids=tuple(libraries[n]),
                default_library_ids=tuple(defaults[n]),
                zotero_ids=tuple(zotero[n]),
                clicked_ids=tuple(clicked[n]),
                papers=papers,
            )
            for n in wanted
        }
