"""The dispatch feature's periodic jobs (registered by ``alerts.dispatch.init_app``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.dispatch import approvals, claim, exercise, retention
from alerts.extensions import db


def reclaim_leases(session: Session) -> object:
    return claim.reclaim_expired(session)


def drop_stale_deliveries(session: Session) -> object:
    return claim.drop_stale(session)


def purge_expired_deliveries(session: Session) -> retention.Purged:
    return retention.purge_expired(session, days=settings().delivery_retention_days)


def purge_old_exercises(session: Session) -> int:
    return exercise.purge_old_runs(session, days=settings().delivery_retention_days)


def send_approval_messages(session: Session) -> object:
    """Approval messages whose wait is over: the console and the API send each submit's
    own at once, and what failed then is tried again here. In transactions of their own: none may stay open
    while a provider is called, so the tick's ``session`` is left unused."""
    assert db.sessionmaker is not None
    return approvals.send_due(db.sessionmaker, settings()) or None
