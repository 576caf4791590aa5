"""collections: the library and the synced Zotero items know their collection (issue #23)

Revision ID: 0010_collections
Revises: 0009_channels
Create Date: 2026-12-04

A user may keep named collections of interests. A paper imported from BibTeX into the
library belongs to one of them ("" : the user's default collection, as every row before
this revision); a synced Zotero item to the Paperboy collections its Zotero collections
map onto (a JSON list; empty: the default collection).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_collections"
down_revision = "0009_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("library") as batch:
        batch.add_column(sa.Column("collection", sa.String(64), nullable=False, server_default=""))
    with op.batch_alter_table("zotero_items") as batch:
        batch.add_column(sa.Column("collections", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("zotero_items") as batch:
        batch.drop_column("collections")
    with op.batch_alter_table("library") as batch:
        batch.drop_column("collection")
