"""notice revisions: when the next update is expected, and the expected restoration

Revision ID: 0012_revision_times
Revises: 0009_resident_self_service
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0012_revision_times"
down_revision = "0009_resident_self_service"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notice_revisions") as batch:
        batch.add_column(sa.Column("next_update", UTC_DT, nullable=True))
        batch.add_column(sa.Column("expected_restoration", UTC_DT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice_revisions") as batch:
        batch.drop_column("expected_restoration")
        batch.drop_column("next_update")
