"""Writing the audit trail. Every change to a notice goes through ``record``."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.notices.models import AuditEvent, Notice
from alerts.operators.models import Operator
from alerts.orm import utcnow

logger = logging.getLogger(__name__)


def record(
    session: Session,
    action: str,
    *,
    notice: Notice | None = None,
    by: Operator | None,
    revision: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add one audit event; ``by=None`` means the system acted."""
    event = AuditEvent(
        at=utcnow(),
        operator=by,
        action=action,
        notice_id=notice.id if notice is not None else None,
        revision=revision,
        from_status=from_status,
        to_status=to_status,
        details={k: v for k, v in details.items() if v is not None},
    )
    session.add(event)
    logger.info(
        # The operator by id: logs leave the system more easily than the audit table does.
        "audit: %s notice=%s rev=%s %s->%s by=%s",
        action,
        event.notice_id,
        revision,
        from_status,
        to_status,
        f"operator {by.id}" if by else "system",
    )
    return event


def trail(session: Session, notice: Notice) -> list[AuditEvent]:
    """The notice's audit events, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.notice_id == notice.id).order_by(AuditEvent.id)
        )
    )
