"""approval_messages: approvers are told in the submitting transaction, and told again
when the provider failed

Revision ID: 0015_approval_messages
Revises: 0014_fanout_failures
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0015_approval_messages"
down_revision = "0014_fanout_failures"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTC_DT, nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_approval_messages_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_approval_messages_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_messages")),
    )
    op.create_index("ix_approval_messages_due", "approval_messages", ["status", "not_before"])
    op.create_index(op.f("ix_approval_messages_notice_id"), "approval_messages", ["notice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_approval_messages_notice_id"), table_name="approval_messages")
    op.drop_index("ix_approval_messages_due", table_name="approval_messages")
    op.drop_table("approval_messages")
