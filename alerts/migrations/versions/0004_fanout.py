"""deliveries: no foreign keys to the notice archive; provider_ref index only on sent rows

Revision ID: 0004_fanout
Revises: 0003_geodata
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_fanout"
down_revision = "0003_geodata"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_notice_id_notices", type_="foreignkey")
        batch_op.drop_constraint("fk_deliveries_revision_id_notice_revisions", type_="foreignkey")
        batch_op.drop_index("ix_deliveries_provider_ref")
        batch_op.create_index(
            "ix_deliveries_provider_ref",
            ["provider_ref"],
            postgresql_where=sa.text("provider_ref IS NOT NULL"),
            sqlite_where=sa.text("provider_ref IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_provider_ref")
        batch_op.create_index("ix_deliveries_provider_ref", ["provider_ref"])
        batch_op.create_foreign_key(
            "fk_deliveries_revision_id_notice_revisions",
            "notice_revisions",
            ["revision_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            "fk_deliveries_notice_id_notices", "notices", ["notice_id"], ["id"], ondelete="CASCADE"
        )
