"""what a digest showed of each paper: its place, score and reason (issue #23, the feed)

Revision ID: 0008_ledger_reasons
Revises: 0007_link_epochs
Create Date: 2026-12-04

A user's Atom feed is built from the digests that were sent, and shows each paper with
the reason it was picked. The ledger row of a paper now keeps what the digest said of it.
Rows recorded before this revision have none (NULL): their feed entries say so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_ledger_reasons"
down_revision = "0007_link_epochs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("reason")
        batch.drop_column("score")
        batch.drop_column("position")
