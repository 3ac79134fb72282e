"""notice revisions: when the next update is expected, and the expected restoration;
place imports (zones, address register): when, by whom, which file, what came of it

Revision ID: 0012_promised_times_imports
Revises: 0011_totp_training_mode
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0012_promised_times_imports"
down_revision = "0011_totp_training_mode"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notice_revisions") as batch:
        batch.add_column(sa.Column("next_update", UTC_DT, nullable=True))
        batch.add_column(sa.Column("expected_restoration", UTC_DT, nullable=True))
    op.create_table(
        "place_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", UTC_DT, nullable=False),
        sa.Column("by", sa.String(length=254), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("refusals", alerts.orm.JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_imports")),
    )
    op.create_index(op.f("ix_place_imports_kind"), "place_imports", ["kind"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_place_imports_kind"), table_name="place_imports")
    op.drop_table("place_imports")
    with op.batch_alter_table("notice_revisions") as batch:
        batch.drop_column("expected_restoration")
        batch.drop_column("next_update")
