"""One secondary index instead of two: (token, id) for the per-token listing.

Every index is written on every insert, and the history writes one row per tweet.
Listings are now ordered by id (the order rows were stored, which one writer per server
keeps in time order), so (token, created) and (created) are not needed; age-based
retention finds its boundary by walking the primary key from the oldest row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    """Replace the two created-time indexes with (token, id)."""
    op.create_index("ix_predictions_token_id", "predictions", ["token", "id"])
    op.drop_index("ix_predictions_token_created", table_name="predictions")
    op.drop_index("ix_predictions_created", table_name="predictions")


def downgrade():
    """Bring back the indexes of revision 0001."""
    op.create_index("ix_predictions_token_created", "predictions", ["token", "created"])
    op.create_index("ix_predictions_created", "predictions", ["created"])
    op.drop_index("ix_predictions_token_id", table_name="predictions")
