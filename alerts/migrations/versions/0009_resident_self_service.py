"""residents self-service: per-contact verification, categories, pause, manage-link version,
consents, SMS codes, sign-up rate counters, inbound SMS handled, anonymous erasure counts

Revision ID: 0009_resident_self_service
Revises: 0008_operator_session_version
"""

import sqlalchemy as sa
from alembic import op

import alerts.orm

revision = "0009_resident_self_service"
down_revision = "0008_operator_session_version"
branch_labels = None
depends_on = None

UTC_DT = alerts.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("phone_verified_at", UTC_DT, nullable=True))
        batch.add_column(sa.Column("email_verified_at", UTC_DT, nullable=True))
        batch.add_column(sa.Column("categories", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("paused_until", UTC_DT, nullable=True))
        batch.add_column(
            sa.Column("manage_version", sa.Integer(), server_default="1", nullable=False)
        )
    # Everyone verified so far was verified as a whole: each contact they have is.
    op.execute(
        "UPDATE subscribers SET phone_verified_at = verified_at "
        "WHERE verified_at IS NOT NULL AND phone IS NOT NULL"
    )
    op.execute(
        "UPDATE subscribers SET email_verified_at = verified_at "
        "WHERE verified_at IS NOT NULL AND email IS NOT NULL"
    )

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("text_version", sa.String(length=40), nullable=False),
        sa.Column("details", alerts.orm.JSONType, nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_consents_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_subscriber_id"), "consents", ["subscriber_id"])

    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_verification_codes_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    op.create_index(
        op.f("ix_verification_codes_subscriber_id"), "verification_codes", ["subscriber_id"]
    )

    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_start", UTC_DT, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_counters")),
    )

    op.create_table(
        "inbound_messages",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("keyword", sa.String(length=10), nullable=False),
        sa.Column("received_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_inbound_messages")),
    )
    op.create_index(op.f("ix_inbound_messages_received_at"), "inbound_messages", ["received_at"])

    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("erased_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_erased_at"), "erasures", ["erased_at"])


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_table("inbound_messages")
    op.drop_table("rate_counters")
    op.drop_table("verification_codes")
    op.drop_table("consents")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("manage_version")
        batch.drop_column("paused_until")
        batch.drop_column("categories")
        batch.drop_column("email_verified_at")
        batch.drop_column("phone_verified_at")
