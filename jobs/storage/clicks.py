"""The papers a user opened from a digest (issue #21 item 5): the `clicks` table.

With [web] count_clicks on, the digest's Abstract and PDF links go through the feedback
app (jobs.web.app, GET /open/T), which records the click here, then redirects to arXiv.
One row per (user, paper, link): recording is INSERT ... ON CONFLICT DO NOTHING, so a
second click on the same link (or a mail scanner following it again) is not a second
row, and the first click's time stays. The digest job reads the clicked papers back
(Profile.clicked). Nothing here leaves the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage.base import StorageBase, insert_ignoring
from paperboy.jobs.storage.schema import clicks

log = logging.getLogger(__name__)

LINKS = ("abs", "pdf")  # the links of a paper that count: its abstract page, its PDF
# The latest clicked papers a profile takes: each costs a ranking about what a saved paper
# costs (benchmarks/RESULTS.md: +100 clicks, +50% time per user), so not a lifetime's.
MAX_CLICKED = 200


class ClicksMixin(StorageBase):
    """Record a click on a digest's link; read a user's clicked papers."""

    def record_click(
        self, user_name: str, paper_id: str, link: str, *, collection: str = "", at: datetime
    ) -> bool:
        """Record that `user_name` opened `link` ("abs" or "pdf") of `paper_id` from a
        digest section of `collection`; True if this is the first such click."""
        if link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, not {link!r}")
        values = {
            "user_name": user_name,
            "paper_id": paper_id,
            "link": link,
            "collection": collection,
            "clicked_at": at,
        }
        try:
            with self._tx() as conn:
                added = insert_ignoring(conn, clicks, ["user_name", "paper_id", "link"], [values])
        except SQLAlchemyError as e:
            raise StorageError(f"cannot record a click of {user_name}: {e}") from e
        return bool(added)

    def clicked_papers(
        self, user_name: str, *, collection: str | None = None, limit: int = MAX_CLICKED
    ) -> list[str]:
        """The ids of the papers the user opened from a digest, latest first (a paper
        once, whichever of its links was clicked), at most `limit`; of the papers shown
        in one collection's section ("": the default one; None: any)."""
        with self.engine.connect() as conn:
            return clicked_ids(conn, [user_name], collection, limit)[user_name]


def clicked_ids(
    conn: Connection, names: Sequence[str], collection: str | None, limit: int
) -> dict[str, list[str]]:
    """Per user of `names`, their clicked papers' ids, latest first, at most `limit` (one
    query for them all: Storage.clicked_papers, Storage.digest_reads)."""
    latest = func.max(clicks.c.clicked_at)
    query = (
        select(clicks.c.user_name, clicks.c.paper_id)
        .where(clicks.c.user_name.in_(list(names)))
        .group_by(clicks.c.user_name, clicks.c.paper_id)
        .order_by(clicks.c.user_name, latest.desc(), clicks.c.paper_id)
    )
    if collection is not None:
        query = query.where(clicks.c.collection == collection)
    out: dict[str, list[str]] = {n: [] for n in names}
    for row in conn.execute(query):
        if len(out[row.user_name]) < limit:
            out[row.user_name].append(row.paper_id)
    return out
