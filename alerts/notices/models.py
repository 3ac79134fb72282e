"""Notices, their immutable revisions (after CAP 1.2), and the audit trail of who did what."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerts.operators.models import Operator
from alerts.orm import Base, EnumText, utcnow


class NoticeStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class RevisionState(enum.StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class MsgType(enum.StrEnum):
    """CAP ``msgType`` of a revision."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class Category(enum.StrEnum):
    WATER = "water"
    WASTEWATER = "wastewater"
    DISTRICT_HEATING = "district_heating"
    ELECTRICITY = "electricity"
    ROADS = "roads"
    WASTE = "waste"
    OTHER = "other"


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_status_onset", "status", "onset"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    status: Mapped[NoticeStatus] = mapped_column(
        EnumText(NoticeStatus, 30), default=NoticeStatus.DRAFT
    )
    # Copied from the revision in force so lists and jobs need no join.
    onset: Mapped[datetime | None]
    expires: Mapped[datetime | None] = mapped_column(index=True)
    severity: Mapped[str] = mapped_column(String(20))
    category: Mapped[Category] = mapped_column(EnumText(Category, 30))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # When a scheduled notice is due to go out; None means "on publication".
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    created_by: Mapped[Operator | None] = relationship()
    revisions: Mapped[list[NoticeRevision]] = relationship(
        back_populates="notice", order_by="NoticeRevision.number", cascade="all, delete-orphan"
    )

    @property
    def published_revision(self) -> NoticeRevision | None:
        """The newest revision that went out, or None before publication."""
        published = [r for r in self.revisions if r.state == RevisionState.PUBLISHED]
        return published[-1] if published else None

    @property
    def working_revision(self) -> NoticeRevision | None:
        """The newest revision still on its way to publication, if any."""
        latest = self.revisions[-1] if self.revisions else None
        if latest is not None and latest.state in (
            RevisionState.DRAFT,
            RevisionState.PENDING_APPROVAL,
            RevisionState.APPROVED,
        ):
            return latest
        return None

    @property
    def current_revision(self) -> NoticeRevision:
        """What the notice says now: the published revision, else the working one."""
        revision = self.published_revision or self.working_revision or self.revisions[-1]
        return revision


class NoticeRevision(Base):
    """One version of a notice's content. Content never changes once submitted."""

    __tablename__ = "notice_revisions"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    number: Mapped[int]
    msg_type: Mapped[MsgType] = mapped_column(EnumText(MsgType, 10), default=MsgType.ALERT)
    state: Mapped[RevisionState] = mapped_column(
        EnumText(RevisionState, 30), default=RevisionState.DRAFT
    )
    category: Mapped[Category] = mapped_column(EnumText(Category, 30))
    severity: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(20))
    certainty: Mapped[str] = mapped_column(String(20))
    # {"sv": {"headline": .., "description": .., "instruction": ..}, "en": {...}}
    texts: Mapped[dict[str, Any]]
    # What the operator asked for: {"zones": [...], "geometry": GeoJSON, "circle": {...}}
    area_request: Mapped[dict[str, Any]]
    # The resulting area, GeoJSON lon/lat (full precision), and its bounding box.
    area_geojson: Mapped[dict[str, Any] | None]
    area_bbox: Mapped[list[Any] | None]
    onset: Mapped[datetime | None]
    expires: Mapped[datetime | None]
    # When residents can expect the next word on this, and the service back (optional).
    next_update: Mapped[datetime | None]
    expected_restoration: Mapped[datetime | None]
    channels: Mapped[list[Any]]
    template: Mapped[str | None] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(Text)  # rejection or emergency reason
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    submitted_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    approved_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    published_at: Mapped[datetime | None]

    notice: Mapped[Notice] = relationship(back_populates="revisions")
    created_by: Mapped[Operator | None] = relationship(foreign_keys=[created_by_id])
    submitted_by: Mapped[Operator | None] = relationship(foreign_keys=[submitted_by_id])
    approved_by: Mapped[Operator | None] = relationship(foreign_keys=[approved_by_id])
    published_by: Mapped[Operator | None] = relationship(foreign_keys=[published_by_id])

    @property
    def identifier(self) -> str:
        """The CAP identifier of this revision: stable, unique, no spaces or commas."""
        return f"urn:uuid:{self.notice_id}:{self.number}"

    @property
    def zone_slugs(self) -> list[str]:
        return list(self.area_request.get("zones") or [])


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # None when the system acted (the scheduler publishing a due notice).
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    action: Mapped[str] = mapped_column(String(40))
    notice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int | None]
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    operator: Mapped[Operator | None] = relationship()
