"""The audit trail: who did what to which notice, and when."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .operators import Operator


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
