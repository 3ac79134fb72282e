"""fanout_jobs: the durable fan-out a publish writes instead of every delivery row

Revision ID: 0010_fanout_jobs
Revises: 0009_resident_self_service
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0010_fanout_jobs"
down_revision = "0009_resident_self_service"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fanout_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=True),
        sa.Column("targets", sa.Integer(), nullable=True),
        sa.Column("expanded", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", UTC_DT, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        sa.Column("finished_at", UTC_DT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fanout_jobs")),
        sa.UniqueConstraint("revision_id", name=op.f("uq_fanout_jobs_revision_id")),
    )
    op.create_index("ix_fanout_jobs_open", "fanout_jobs", ["state", "priority", "id"])
    op.create_index(op.f("ix_fanout_jobs_notice_id"), "fanout_jobs", ["notice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fanout_jobs_notice_id"), table_name="fanout_jobs")
    op.drop_index("ix_fanout_jobs_open", table_name="fanout_jobs")
    op.drop_table("fanout_jobs")
