"""The job tables: one row per job (state, progress, times) and one per chunk counted as done.

In the history's chain: one `alembic upgrade head` brings either database, or both when they
are one, to what the server and the job workers expect.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Microseconds kept on MariaDB too (its DATETIME drops them by default): a job's rate is measured
# from its times, and a record reads back as it was written.
TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    """Create the jobs and job_chunks tables, with the listing's and retention's indexes."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("budget_key", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("input_format", sa.String(8), nullable=False),
        sa.Column("output_format", sa.String(8), nullable=False),
        sa.Column("detail", sa.Boolean(), nullable=False),
        sa.Column("text_column", sa.String(256), nullable=False),
        sa.Column("id_column", sa.String(256), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("started", TIME, nullable=True),
        sa.Column("finished", TIME, nullable=True),
        sa.Column("expires", TIME, nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_jobs_owner_created", "jobs", ["owner", "created"])
    op.create_index("ix_jobs_expires", "jobs", ["expires"])
    op.create_table(
        "job_chunks",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        mysql_charset="utf8mb4",
    )


def downgrade():
    """Drop the job tables (the jobs' files under API_JOBS_DIR are left to the operator)."""
    op.drop_table("job_chunks")
    op.drop_table("jobs")
