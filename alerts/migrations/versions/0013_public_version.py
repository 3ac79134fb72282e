"""public_version: a one-row counter every commit changing notices or zones bumps

Revision ID: 0013_public_version
Revises: 0012_promised_times_imports
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_public_version"
down_revision = "0012_promised_times_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_version")),
    )
    op.execute("INSERT INTO public_version (id, counter) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("public_version")
