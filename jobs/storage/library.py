"""Users' own papers: library (imported from BibTeX), zotero_sync and zotero_items.

The library holds papers without an arXiv id, whose text is in `papers`; a Zotero library
followed live is synced into zotero_items (item key -> canonical paper) one complete sync
at a time, with where the sync stands in zotero_sync. Both count as the user's saved
papers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage.base import StorageBase, insert_ignoring, upsert
from paperboy.jobs.storage.papers import read_papers, store_papers
from paperboy.jobs.storage.schema import library, zotero_items, zotero_sync
from paperboy.jobs.storage.stored_paper import StoredPaper

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ZoteroState:
    """Where a user's Zotero sync stands."""

    user_name: str
    library: str
    version: int | None
    scope: str | None
    item_count: int | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    retry_after: datetime | None


@dataclass(frozen=True, slots=True)
class ZoteroChange:
    """What one sync changed: papers added to and removed from the user's profile."""

    added: int
    removed: int
    total: int


class LibraryMixin(StorageBase):
    """A user's library (BibTeX imports) and synced Zotero library."""

    def add_to_library(
        self, user_name: str, paper_ids: Sequence[str], *, collection: str = ""
    ) -> int:
        """Put stored papers into a user's library, in one of their collections ("": the
        default one); returns how many were not there yet. A paper already in the library
        under another collection moves to this one (a paper is in one collection)."""
        now = self._now()
        wanted = list(dict.fromkeys(paper_ids))
        try:
            with self._tx() as conn:
                rows = [
                    {
                        "user_name": user_name,
                        "paper_id": pid,
                        "added_at": now,
                        "collection": collection,
                    }
                    for pid in wanted
                ]
                added = insert_ignoring(conn, library, ["user_name", "paper_id"], rows)
                new = {key[1] for key in added}
                moved = [pid for pid in wanted if pid not in new]
                for start in range(0, len(moved), 500):
                    conn.execute(
                        update(library)
                        .where(
                            library.c.user_name == user_name,
                            library.c.paper_id.in_(moved[start : start + 500]),
                            library.c.collection != collection,
                        )
                        .values(collection=collection)
                    )
        except SQLAlchemyError as e:
            raise StorageError(f"cannot add to the library of {user_name}: {e}") from e
        return len(added)

    def library_ids(self, user_name: str, *, collection: str | None = None) -> list[str]:
        """The ids in a user's library (in one collection: "" the default; None: all),
        in the order they were added."""
        query = (
            select(library.c.paper_id)
            .where(library.c.user_name == user_name)
            .order_by(library.c.added_at, library.c.paper_id)
        )
        if collection is not None:
            query = query.where(library.c.collection == collection)
        with self.engine.connect() as conn:
            return [row.paper_id for row in conn.execute(query)]

    def library_papers(self, user_name: str, *, collection: str | None = None) -> list[StoredPaper]:
        """The stored papers of a user's library (for the ranker, as more saved papers);
        of one collection ("": the default one) or, with None, all."""
        ids = self.library_ids(user_name, collection=collection)
        with self.engine.connect() as conn:
            found = read_papers(conn, ids)
        return [found[pid] for pid in ids if pid in found]

    def zotero_state(self, user_name: str) -> ZoteroState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(zotero_sync).where(zotero_sync.c.user_name == user_name)
            ).first()
        return ZoteroState(**row._mapping) if row else None

    def zotero_paper_ids(self, user_name: str, *, collection: str | None = None) -> list[str]:
        """The canonical ids of the papers in a user's synced Zotero library (sorted): of
        one Paperboy collection (its Zotero items; "": the items mapped onto none) or,
        with None, all of them."""
        query = select(zotero_items.c.paper_id, zotero_items.c.collections).where(
            zotero_items.c.user_name == user_name
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if collection is None:
            return sorted({row.paper_id for row in rows})
        return sorted(
            {
                row.paper_id
                for row in rows
                if (collection in (row.collections or []))
                or (not collection and not row.collections)
            }
        )

    def zotero_items(self, user_name: str) -> dict[str, str]:
        """A user's synced Zotero items: item key -> canonical paper id."""
        query = select(zotero_items.c.item_key, zotero_items.c.paper_id).where(
            zotero_items.c.user_name == user_name
        )
        with self.engine.connect() as conn:
            return {row.item_key: row.paper_id for row in conn.execute(query)}

    def zotero_item_collections(self, user_name: str) -> dict[str, tuple[str, ...]]:
        """A user's synced Zotero items: item key -> the Paperboy collections it is in
        (empty: the default collection)."""
        query = select(zotero_items.c.item_key, zotero_items.c.collections).where(
            zotero_items.c.user_name == user_name
        )
        with self.engine.connect() as conn:
            return {row.item_key: tuple(row.collections or ()) for row in conn.execute(query)}

    def apply_zotero_sync(
        self,
        user_name: str,
        *,
        library: str,
        version: int,
        scope: str,
        papers: Sequence[SourcePaper],
        items: dict[str, tuple[str, int, tuple[str, ...]]],
        removed: Iterable[str],
        full: bool,
    ) -> ZoteroChange:
        """Apply one complete sync in one transaction: store the papers, put ``items``
        (key -> (paper id, version, the user's collections it feeds; () the default
        collection)) into the synced set, take ``removed`` keys out (with
        ``full``, every key not in ``items``), and move the synced version on.

        A failure leaves the set and the version as they were: never half a sync.
        """
        now = self._now()
        try:
            with self._tx() as conn:
                if papers:
                    store_papers(conn, papers, source="zotero", listed=False, now=self._now())
                where = zotero_items.c.user_name == user_name
                before = {
                    row.item_key: row.paper_id
                    for row in conn.execute(
                        select(zotero_items.c.item_key, zotero_items.c.paper_id).where(where)
                    )
                }
                gone = set(before) - set(items) if full else set(removed) - set(items)
                gone &= set(before)
                keys = list(gone | (set(items) & set(before)))
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    conn.execute(
                        delete(zotero_items).where(where, zotero_items.c.item_key.in_(chunk))
                    )
                rows = [
                    {
                        "user_name": user_name,
                        "item_key": key,
                        "paper_id": pid,
                        "version": item_version,
                        "synced_at": now,
                        "collections": list(homes),
                    }
                    for key, (pid, item_version, homes) in items.items()
                ]
                if rows:
                    conn.execute(insert(zotero_items), rows)
                after = {**{k: v for k, v in before.items() if k not in gone}}
                after.update({key: pid for key, (pid, _v, _c) in items.items()})
                old_ids, new_ids = set(before.values()), set(after.values())
                values: dict[str, Any] = {
                    "library": library,
                    "version": version,
                    "scope": scope,
                    "item_count": len(after),
                    "last_attempt_at": now,
                    "last_success_at": now,
                    "last_error": None,
                    "retry_after": None,
                }
                self._set_zotero_state(conn, user_name, values)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store the Zotero library of {user_name}: {e}") from e
        return ZoteroChange(len(new_ids - old_ids), len(old_ids - new_ids), len(new_ids))

    def record_zotero_attempt(
        self,
        user_name: str,
        *,
        library: str,
        error: str | None,
        retry_after: datetime | None = None,
    ) -> None:
        """A sync that changed nothing: unchanged (error None) or failed (the synced set
        and version stay as they were)."""
        now = self._now()
        values: dict[str, Any] = {
            "library": library,
            "last_attempt_at": now,
            "last_error": error,
            "retry_after": retry_after,
        }
        if error is None:
            values["last_success_at"] = now
        with self._tx() as conn:
            self._set_zotero_state(conn, user_name, values)

    @staticmethod
    def _set_zotero_state(conn: Connection, user_name: str, values: dict[str, Any]) -> None:
        upsert(conn, zotero_sync, ["user_name"], [{"user_name": user_name, **values}])
