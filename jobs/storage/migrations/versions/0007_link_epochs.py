"""a user's link epoch: "sign out all links" (issue #20 item 10)

Revision ID: 0007_link_epochs
Revises: 0006_index_generations
Create Date: 2026-12-01

Every feedback link names its user's epoch; raising it refuses every earlier link of
that user. Existing rows (and the links already mailed) are epoch 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_link_epochs"
down_revision = "0006_index_generations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_state") as batch:
        batch.add_column(sa.Column("links_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("user_state") as batch:
        batch.drop_column("links_epoch")
