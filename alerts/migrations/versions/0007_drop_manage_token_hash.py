"""subscribers: drop manage_token_hash, which nothing ever wrote

Revision ID: 0007_drop_manage_token_hash
Revises: 0006_rate_buckets
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_drop_manage_token_hash"
down_revision = "0006_rate_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_constraint("uq_subscribers_manage_token_hash", type_="unique")
        batch.drop_column("manage_token_hash")


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("manage_token_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_subscribers_manage_token_hash", ["manage_token_hash"])
