"""The notices feature's periodic jobs and metrics (registered by ``alerts.notices.init_app``)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.notices import operations
from alerts.notices.models import Notice


def activate_due(session: Session) -> object:
    return operations.activate_due(session)


def expire_ended(session: Session) -> object:
    return operations.expire_ended(session)


def notice_metrics(session: Session) -> list[Metric]:
    """Notices by status, read at scrape."""
    family = GaugeMetricFamily("varsla_notices", "Notices by status.", labels=["status"])
    counts = session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all()
    for status, count in sorted(counts):
        family.add_metric([str(status)], count)
    return [family]
