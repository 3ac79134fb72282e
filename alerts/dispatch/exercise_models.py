"""Training mode: the test group, and exercise runs with the copy of the group each was sent to.

An exercise's deliveries are ordinary :class:`~alerts.dispatch.models.Delivery` rows, sent by
the ordinary dispatcher, but keyed so that nothing about the notice ever counts them: their
``notice_id`` is the run's id (no notice has it) and their ``subscriber_id`` is the negative
id of an :class:`ExerciseRecipient` (no subscriber has it).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerts.orm import Base, utcnow


class TestGroupMember(Base):
    """Someone (usually an operator's own phone or mailbox) who receives exercises."""

    __tablename__ = "test_group_members"
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="sv")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExerciseRun(Base):
    """One "send as exercise" of one revision of a notice to the test group."""

    __tablename__ = "exercise_runs"

    # Also the ``notice_id`` of the run's deliveries.
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    notice_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    revision_id: Mapped[int] = mapped_column(ForeignKey("notice_revisions.id", ondelete="CASCADE"))
    revision_number: Mapped[int]
    started_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    recipients: Mapped[list[ExerciseRecipient]] = relationship(
        back_populates="run", order_by="ExerciseRecipient.id", cascade="all, delete-orphan"
    )


class ExerciseRecipient(Base):
    """A test-group member as they were when the run was sent (the group may change later)."""

    __tablename__ = "exercise_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey("exercise_runs.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="sv")

    run: Mapped[ExerciseRun] = relationship(back_populates="recipients")
