"""deliveries: no foreign key to subscribers (erasure deletes them explicitly)

Revision ID: 0005_no_subscriber_fk
Revises: 0004_fanout
"""

from alembic import op

revision = "0005_no_subscriber_fk"
down_revision = "0004_fanout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_subscriber_id_subscribers", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_deliveries_subscriber_id_subscribers",
            "subscribers",
            ["subscriber_id"],
            ["id"],
            ondelete="CASCADE",
        )
