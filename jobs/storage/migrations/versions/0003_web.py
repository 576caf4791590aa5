"""feedback from the digest: a user's unsubscribe and pause state (issue #14)

Revision ID: 0003_web
Revises: 0002_zotero
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_web"
down_revision = "0002_zotero"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table much; alembic copies it where needed.
    with op.batch_alter_table("user_state") as batch:
        batch.add_column(sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_state") as batch:
        batch.drop_column("paused_until")
        batch.drop_column("unsubscribed_at")
