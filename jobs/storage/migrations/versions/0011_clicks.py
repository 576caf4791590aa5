"""clicks: the papers a user opened from a digest (issue #21 item 5)

Revision ID: 0011_clicks
Revises: 0010_collections
Create Date: 2026-12-04

With [web] count_clicks on, a digest's Abstract and PDF links go through the feedback
app (/open/T), which records the click here before it redirects to arXiv: one row per
(user, paper, link), the first click's time (a second click on the same link is not a
second row). The digest job reads them back as the user's clicked papers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_clicks"
down_revision = "0010_collections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clicks",
        sa.Column("user_name", sa.String(200), primary_key=True),
        sa.Column("paper_id", sa.String(128), primary_key=True),
        sa.Column("link", sa.String(8), primary_key=True),
        sa.Column("collection", sa.String(64), nullable=False, server_default=""),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clicks")
