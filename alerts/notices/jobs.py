"""The notices feature's periodic jobs and metrics (registered by ``alerts.notices.init_app``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.notices import operations
from alerts.notices.models import Notice


def activate_due(session: Session) -> object:
    return operations.activate_due(session)


def expire_ended(session: Session) -> object:
    return operations.expire_ended(session)


def notice_metrics(session: Session) -> list[str]:
    """Prometheus lines: notices by status."""
    lines = [
        "# HELP varsla_notices Notices by status.",
        "# TYPE varsla_notices gauge",
    ]
    counts = session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all()
    lines += [f'varsla_notices{{status="{status}"}} {count}' for status, count in sorted(counts)]
    return lines
