"""chat and push channels: one delivery per (digest, channel) (issue #23)

Revision ID: 0009_channels
Revises: 0008_ledger_reasons
Create Date: 2026-12-04

A digest also goes to each of the user's `notify` channels (Apprise URLs): each is its
own delivery, with its own status, attempts, lease and last error, beside the e-mail's
row in `deliveries`. A user with channels and no e-mail has a `deliveries` row with the
status "no-mail" (no message): the ledger's rows hang on it as on any digest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_channels"
down_revision = "0008_ledger_reasons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer(), sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ux_channel_deliveries_digest",
        "channel_deliveries",
        ["delivery_id", "channel"],
        unique=True,
    )
    op.create_index(
        "ix_channel_deliveries_user_status", "channel_deliveries", ["user_name", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_channel_deliveries_user_status", "channel_deliveries")
    op.drop_index("ux_channel_deliveries_digest", "channel_deliveries")
    op.drop_table("channel_deliveries")
