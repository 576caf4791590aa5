"""Zotero libraries followed live, OpenReview venues, and TL;DRs on papers (issue #15)

Revision ID: 0002_zotero
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_zotero"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tldr", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("tldr_source", sa.String(length=64), nullable=True))
    op.create_table(
        "zotero_sync",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("library", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_name"),
    )
    op.create_table(
        "zotero_items",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("item_key", sa.String(length=32), nullable=False),
        sa.Column("paper_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "item_key"),
    )
    op.create_table(
        "venues",
        sa.Column("venue", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_tmdate", sa.BigInteger(), nullable=True),
        sa.Column("paper_count", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("venue", "status"),
    )
    op.create_table(
        "venue_papers",
        sa.Column("venue", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note_id", sa.String(length=64), nullable=False),
        sa.Column("paper_id", sa.String(length=128), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("tmdate", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("venue", "status", "note_id"),
    )


def downgrade() -> None:
    op.drop_table("venue_papers")
    op.drop_table("venues")
    op.drop_table("zotero_items")
    op.drop_table("zotero_sync")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_column("tldr_source")
        batch_op.drop_column("tldr")
