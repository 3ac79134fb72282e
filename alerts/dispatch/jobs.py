"""The dispatch feature's periodic jobs and metrics (registered by ``alerts.dispatch.init_app``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.dispatch import claim, retention
from alerts.dispatch.models import Delivery


def reclaim_leases(session: Session) -> object:
    return claim.reclaim_expired(session)


def drop_stale_deliveries(session: Session) -> object:
    return claim.drop_stale(session)


def purge_expired_deliveries(session: Session) -> retention.Purged:
    return retention.purge_expired(session, days=settings().delivery_retention_days)


def delivery_metrics(session: Session) -> list[str]:
    """Prometheus lines: deliveries by channel and status."""
    rows = session.execute(
        select(Delivery.channel, Delivery.status, func.count()).group_by(
            Delivery.channel, Delivery.status
        )
    ).all()
    lines = [
        "# HELP varsla_deliveries Deliveries by channel and status.",
        "# TYPE varsla_deliveries gauge",
    ]
    lines += [
        f'varsla_deliveries{{channel="{channel}",status="{status}"}} {count}'
        for channel, status, count in sorted(rows)
    ]
    return lines
