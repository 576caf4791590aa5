"""A user's link epoch (issue #20 item 10): "sign out all links" in one number.

Every token a digest or a page carries names the epoch of its user when it was made
(jobs.web.tokens); the feedback app refuses a token whose epoch is not the user's epoch
now. `revoke_links` raises it by one, so every link mailed before stops working, for that
user alone; links made afterwards carry the new epoch. Kept in user_state.links_epoch
(0 for a user who never signed out: tokens from before this column say 0 too).
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.storage.base import StorageBase
from paperboy.jobs.storage.schema import user_state

log = logging.getLogger(__name__)


class LinksMixin(StorageBase):
    """The user's link epoch: read on every link followed, raised by "sign out all links"."""

    def link_epoch(self, user_name: str) -> int:
        """The user's link epoch now (0 if they never signed out)."""
        with self.engine.connect() as conn:
            epoch = conn.execute(
                select(user_state.c.links_epoch).where(user_state.c.user_name == user_name)
            ).scalar()
        return int(epoch or 0)

    def revoke_links(self, user_name: str) -> int:
        """Sign out every link made for the user so far; the new epoch.

        One transaction: the row is created if missing (INSERT ... ON CONFLICT DO
        NOTHING), then raised in place (links_epoch = links_epoch + 1): two at once give
        two increments, never a lost one."""
        try:
            with self._tx() as conn:
                conn.execute(
                    self._insert_ignore(user_state, ["user_name"], {"user_name": user_name})
                )
                conn.execute(
                    update(user_state)
                    .where(user_state.c.user_name == user_name)
                    .values(links_epoch=user_state.c.links_epoch + 1)
                )
                epoch = conn.execute(
                    select(user_state.c.links_epoch).where(user_state.c.user_name == user_name)
                ).scalar_one()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot sign out the links of {user_name}: {e}") from e
        log.info("%s: every earlier link signed out (epoch %d)", user_name, epoch)
        return int(epoch)
