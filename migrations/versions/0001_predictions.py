"""The predictions table: one row per scored tweet and model.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    """Create the predictions table and its two indexes (per-token listing, age-based retention)."""
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("tweet_id", sa.String(512), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        # P(Positive). A double: FLOAT is single precision on MariaDB.
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_predictions_token_created", "predictions", ["token", "created"])
    op.create_index("ix_predictions_created", "predictions", ["created"])


def downgrade():
    """Drop the predictions table."""
    op.drop_table("predictions")
