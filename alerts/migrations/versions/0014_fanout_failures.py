"""fanout_jobs.failures, retry_at: a chunk that fails backs its job off instead of
holding up every other job

Revision ID: 0014_fanout_failures
Revises: 0013_public_version
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

UTC_DT = alerts.orm.UTCDateTime(timezone=True)

revision = "0014_fanout_failures"
down_revision = "0013_public_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fanout_jobs") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("retry_at", UTC_DT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fanout_jobs") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("failures")
