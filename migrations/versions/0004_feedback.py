"""Feedback and drift: the feedback table, the share of unknown tokens of sampled prediction rows, and
the index on predictions that feedback's join reads, (token, tweet_id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    """Add predictions.unknown (nullable: older rows and unsampled tweets have none) and its
    (token, tweet_id) index; create feedback."""
    op.add_column("predictions", sa.Column("unknown", sa.Double(), nullable=True))
    op.create_index("ix_predictions_token_tweet", "predictions", ["token", "tweet_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("tweet_id", sa.String(512), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("predicted", sa.String(16), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_feedback_token_tweet", "feedback", ["token", "tweet_id"])
    op.create_index("ix_feedback_model_version_id", "feedback", ["model", "version", "id"])


def downgrade():
    """Drop the feedback table, the index and predictions.unknown."""
    op.drop_table("feedback")
    op.drop_index("ix_predictions_token_tweet", table_name="predictions")
    op.drop_column("predictions", "unknown")
