"""rate_buckets: one token bucket per channel, shared by every dispatcher process

Revision ID: 0006_rate_buckets
Revises: 0005_no_subscriber_fk
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0006_rate_buckets"
down_revision = "0005_no_subscriber_fk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", alerts.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
