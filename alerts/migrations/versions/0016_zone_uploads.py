"""zone_uploads: a checked zone file waits for its confirmation in the database, not on one
web host's disk

Revision ID: 0016_zone_uploads
Revises: 0015_approval_messages
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0016_zone_uploads"
down_revision = "0015_approval_messages"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "zone_uploads",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("options", alerts.orm.JSONType, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_zone_uploads_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_zone_uploads")),
    )
    op.create_index(op.f("ix_zone_uploads_created_at"), "zone_uploads", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_zone_uploads_created_at"), table_name="zone_uploads")
    op.drop_table("zone_uploads")
