"""The delivery outbox: one row per (revision, subscriber, channel), its local copies, and the
installation's send rate per channel (a token bucket row each, shared by all workers)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from alerts.orm import Base, EnumText, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be claimed
    SENDING = "sending"  # claimed by a worker under a lease
    ACCEPTED = "accepted"  # the provider took it (provider_ref set)
    SENT = "sent"  # the provider handed it on (Twilio "sent")
    DELIVERED = "delivered"  # the handset or mailbox has it
    UNDELIVERED = "undelivered"  # the provider gave up after accepting
    FAILED = "failed"  # permanent failure, or out of attempts
    DROPPED = "dropped"  # not sent: notice expired, or superseded by the all-clear
    OPTED_OUT = "opted_out"  # the recipient has unsubscribed


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("revision_id", "subscriber_id", "channel"),
        # What dispatchers claim: due pending rows, most urgent first.
        Index("ix_deliveries_claim", "status", "priority", "not_before"),
        Index("ix_deliveries_notice_status", "notice_id", "channel", "status"),
        # Only sent rows have a provider reference; unsent ones stay out of the index.
        Index(
            "ix_deliveries_provider_ref",
            "provider_ref",
            postgresql_where=text("provider_ref IS NOT NULL"),
            sqlite_where=text("provider_ref IS NOT NULL"),
        ),
    )

    # BIGINT on PostgreSQL (a national register times many notices); SQLite needs INTEGER
    # for its rowid alias.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    # No foreign keys: PostgreSQL checks a key with one lookup and row lock per inserted
    # row, and the three keys took half of a 200,000-row fan-out, the time between
    # publish and the first SMS. Notices and revisions are an archive that is never
    # deleted; erasing a resident deletes their deliveries explicitly
    # (alerts.erasure.erase_subscribers), and a claim settles a row whose resident is gone.
    notice_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    revision_id: Mapped[int]
    revision_number: Mapped[int]
    subscriber_id: Mapped[int]
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[DeliveryStatus] = mapped_column(
        EnumText(DeliveryStatus, 20), default=DeliveryStatus.PENDING
    )
    # Lower goes first: 0 Extreme ... 4 Unknown (channels.base.SEVERITY_ORDER).
    priority: Mapped[int] = mapped_column(default=4)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class FanoutState(enum.StrEnum):
    PENDING = "pending"  # written by the publishing transaction, no chunk expanded yet
    EXPANDING = "expanding"  # some chunks written, more to come
    DONE = "done"  # every chunk written
    STOPPED = "stopped"  # not expanded further: a newer revision was published, or it expired


class FanoutJob(Base):
    """The durable promise to write a revision's delivery rows, kept until they all are.

    Written in the publishing transaction (so a committed publish can never lose
    its deliveries) and expanded by dispatchers in chunks ordered by subscriber
    id: each chunk's rows and the advance of ``cursor`` commit together
    (alerts.dispatch.fanout).
    """

    __tablename__ = "fanout_jobs"
    __table_args__ = (
        # What dispatchers pick: open jobs, the first chunk of each and the most severe first.
        Index("ix_fanout_jobs_open", "state", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(Uuid(), index=True)
    revision_id: Mapped[int] = mapped_column(unique=True)
    revision_number: Mapped[int]
    # Lower goes first: 0 Extreme ... 4 Unknown, as Delivery.priority.
    priority: Mapped[int] = mapped_column(default=4)
    state: Mapped[FanoutState] = mapped_column(
        EnumText(FanoutState, 20), default=FanoutState.PENDING
    )
    # The last subscriber id expanded (None: no chunk yet).
    cursor: Mapped[int | None] = mapped_column(BigInteger())
    # Candidates (people in the area, earlier recipients) once counted; how many are done.
    targets: Mapped[int | None]
    expanded: Mapped[int] = mapped_column(default=0)
    chunks: Mapped[int] = mapped_column(default=0)
    rows_written: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Why it stopped, or why its last chunk failed.
    error: Mapped[str | None] = mapped_column(Text)
    # Chunks that failed (a bug, a bad record): the job is left alone until retry_at, so it
    # cannot hold up the others, and tried again with a longer wait each time.
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    retry_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message the embedded default did NOT send (no provider configured), kept for operators."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RateBucket(Base):
    """Tokens left for a channel ("sms", "email") as of ``refilled_at``.

    Dispatchers take tokens in small grants (alerts.dispatch.ratelimit), so
    ``VARSLA_SMS_RATE`` holds for the installation however many workers run.
    """

    __tablename__ = "rate_buckets"

    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime]


class ApprovalMessageStatus(enum.StrEnum):
    PENDING = "pending"  # to be sent (at once after the submit, or when its retry falls due)
    SENDING = "sending"  # taken by one sender; back to pending if it stays here (a crash)
    ACCEPTED = "accepted"  # the provider took it
    SENT = "sent"  # Twilio handed it on
    DELIVERED = "delivered"  # the handset has it
    UNDELIVERED = "undelivered"  # the provider gave up after accepting
    FAILED = "failed"  # refused for good, or out of attempts
    OUTBOX = "outbox"  # no provider configured: kept in the local outbox, NOT SENT
    DROPPED = "dropped"  # not sent: the revision no longer waits for approval


class ApprovalMessage(Base):
    """An approver told that a revision waits for them: one row per approver and channel.

    Written in the submitting transaction, so a submit that commits always tells its
    approvers. Sent right after the commit, outside any transaction, and tried again by
    the scheduler when the provider failed (alerts.dispatch.approvals).
    """

    __tablename__ = "approval_messages"
    __table_args__ = (Index("ix_approval_messages_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    revision_number: Mapped[int]
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[ApprovalMessageStatus] = mapped_column(
        EnumText(ApprovalMessageStatus, 20), default=ApprovalMessageStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
