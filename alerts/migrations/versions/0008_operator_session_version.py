"""operators: session_version, so a new password or deactivation ends console sessions

Revision ID: 0008_operator_session_version
Revises: 0007_drop_manage_token_hash
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_operator_session_version"
down_revision = "0007_drop_manage_token_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("session_version")
