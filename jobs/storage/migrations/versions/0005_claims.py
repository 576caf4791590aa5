"""digest claims, delivery leases, and a ledger that releases instead of deleting

Revision ID: 0005_claims
Revises: 0004_encoder
Create Date: 2026-11-29

The ledger's key grows from (user, paper) to (user, paper, delivery) with a unique index
on (user, paper) over the live rows (released_at IS NULL): a digest that failed for good
releases its papers and keeps its rows. Rows of failed deliveries are released here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_claims"
down_revision = "0004_encoder"
branch_labels = None
depends_on = None

LIVE = "released_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "digest_claims",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("takeovers", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"]),
        sa.PrimaryKeyConstraint("user_name", "slot"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )

    # The new ledger, filled from the old one; the old one goes.
    op.create_table(
        "ledger_new",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("paper_id", sa.String(length=128), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"]),
        sa.PrimaryKeyConstraint("user_name", "paper_id", "delivery_id"),
    )
    op.execute(
        "INSERT INTO ledger_new (user_name, paper_id, delivery_id, released_at) "
        "SELECT l.user_name, l.paper_id, l.delivery_id, "
        "CASE WHEN d.status = 'failed' THEN COALESCE(d.last_attempt_at, d.created_at) END "
        "FROM ledger l JOIN deliveries d ON d.id = l.delivery_id"
    )
    op.drop_table("ledger")
    op.rename_table("ledger_new", "ledger")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger RENAME CONSTRAINT ledger_new_pkey TO ledger_pkey")
        op.execute(
            "ALTER TABLE ledger RENAME CONSTRAINT ledger_new_delivery_id_fkey "
            "TO ledger_delivery_id_fkey"
        )
    op.create_index(
        "ux_ledger_live",
        "ledger",
        ["user_name", "paper_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("ux_ledger_live", table_name="ledger")
    op.create_table(
        "ledger_old",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("paper_id", sa.String(length=128), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"]),
        sa.PrimaryKeyConstraint("user_name", "paper_id"),
    )
    # The latest row of each (user, paper): the live one if any, else the last released.
    op.execute(
        "INSERT INTO ledger_old (user_name, paper_id, delivery_id) "
        "SELECT user_name, paper_id, MAX(delivery_id) FROM ledger "
        "GROUP BY user_name, paper_id"
    )
    op.drop_table("ledger")
    op.rename_table("ledger_old", "ledger")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
    op.drop_table("digest_claims")
