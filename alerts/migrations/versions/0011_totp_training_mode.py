"""operators' TOTP second factor and mobile number; the test group and exercise runs

Revision ID: 0011_totp_training_mode
Revises: 0009_resident_self_service
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0011_totp_training_mode"
down_revision = "0009_resident_self_service"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("totp_enabled_at", UTC_DT, nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))

    op.create_table(
        "test_group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_group_members")),
    )
    op.create_table(
        "exercise_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_exercise_runs_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["notice_revisions.id"],
            name=op.f("fk_exercise_runs_revision_id_notice_revisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["operators.id"],
            name=op.f("fk_exercise_runs_started_by_id_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exercise_runs")),
    )
    op.create_index(op.f("ix_exercise_runs_notice_id"), "exercise_runs", ["notice_id"])
    op.create_index(op.f("ix_exercise_runs_created_at"), "exercise_runs", ["created_at"])
    op.create_table(
        "exercise_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["exercise_runs.id"],
            name=op.f("fk_exercise_recipients_run_id_exercise_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exercise_recipients")),
    )
    op.create_index(op.f("ix_exercise_recipients_run_id"), "exercise_recipients", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_exercise_recipients_run_id"), table_name="exercise_recipients")
    op.drop_table("exercise_recipients")
    op.drop_index(op.f("ix_exercise_runs_created_at"), table_name="exercise_runs")
    op.drop_index(op.f("ix_exercise_runs_notice_id"), table_name="exercise_runs")
    op.drop_table("exercise_runs")
    op.drop_table("test_group_members")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
        batch.drop_column("phone")
