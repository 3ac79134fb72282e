"""Dispatch: the delivery outbox and the workers that empty it.

Importing this package wires it into the app: fan-out on every released
revision (:data:`alerts.notices.on_release`), the lease-reclaim, stale-drop
and retention scheduler jobs, delivery metrics, and the embedded dispatcher of
``varsla serve``. :mod:`alerts.web.api_deliveries` imports it, so every app
built by ``create_app`` has it.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import cli, notices, scheduling
from ..models import Delivery
from . import claim, fanout, retention, worker

logger = logging.getLogger(__name__)


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


def _purge_expired(session: Session) -> retention.Purged:
    days = float(current_app.config.get("VARSLA_DELIVERY_RETENTION_DAYS", 365))
    return retention.purge_expired(session, days=days)


def _register() -> None:
    if fanout.on_release not in notices.on_release:
        notices.on_release.append(fanout.on_release)
    names = {name for name, _ in scheduling.JOBS}
    if "reclaim_leases" not in names:
        scheduling.JOBS.append(("reclaim_leases", lambda s: claim.reclaim_expired(s)))
    if "drop_stale_deliveries" not in names:
        scheduling.JOBS.append(("drop_stale_deliveries", lambda s: claim.drop_stale(s)))
    if "purge_expired_deliveries" not in names:
        scheduling.JOBS.append(("purge_expired_deliveries", _purge_expired))
    if worker.start_embedded not in cli.background_services:
        cli.background_services.append(worker.start_embedded)
    from ..web import ops

    if delivery_metrics not in ops.metric_sources:
        ops.metric_sources.append(delivery_metrics)


_register()
