"""index generations, and the index file itself for workers on other machines

Revision ID: 0006_index_generations
Revises: 0005_claims
Create Date: 2026-11-29

Each build of the ranker's index is recorded as a generation (a number that only grows,
and the build id written in the file's header). With `index_store = "database"` the
file's bytes are kept in index_chunks (4 MiB a row), so a queue worker on any machine
loads the newest index without a shared folder.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_index_generations"
down_revision = "0005_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_generations",
        sa.Column("generation", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("build_id", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("papers", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("builder", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("generation"),
        sa.UniqueConstraint("build_id"),
    )
    op.create_table(
        "index_chunks",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation"], ["index_generations.generation"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("generation", "seq"),
    )


def downgrade() -> None:
    op.drop_table("index_chunks")
    op.drop_table("index_generations")
