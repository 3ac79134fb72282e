"""Forgetting what was sent: deliveries of long-ended notices, old local-outbox copies.

A delivery row links a resident to a notice, and its error text may quote
their number; a local-outbox copy holds their address and the message. Both
are kept ``VARSLA_DELIVERY_RETENTION_DAYS`` after the notice ended (or the
copy was written), then deleted by a scheduler job. The notice itself, its
revisions and its audit trail are public records and stay. Set the period
to what your records-management decision (gallringsbeslut) says; 0 keeps
everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerts.db import rowcount
from alerts.dispatch.models import Delivery, FanoutJob, FanoutState, OutboxMessage
from alerts.notices.models import Notice
from alerts.orm import utcnow

#: Rows deleted per run, so one run is a short transaction however much is due.
CHUNK = 10_000


@dataclass(frozen=True)
class Purged:
    deliveries: int
    outbox_messages: int
    fanout_jobs: int = 0

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.outbox_messages or self.fanout_jobs)


def purge_expired(
    session: Session, *, days: float, now: datetime | None = None, chunk: int = CHUNK
) -> Purged:
    """Delete up to ``chunk`` deliveries of notices that ended more than ``days`` ago, and
    local-outbox copies older than that; the caller commits. ``days`` <= 0 keeps all."""
    if days <= 0:
        return Purged(0, 0)
    cutoff = (now or utcnow()) - timedelta(days=days)
    ended = select(Notice.id).where(Notice.ended_at.is_not(None), Notice.ended_at < cutoff)
    due = select(Delivery.id).where(Delivery.notice_id.in_(ended)).limit(chunk)
    ids = list(session.scalars(due))
    copies = rowcount(
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.delivery_id.in_(ids) | (OutboxMessage.created_at < cutoff)
            )
        )
    )
    deliveries = (
        rowcount(session.execute(delete(Delivery).where(Delivery.id.in_(ids)))) if ids else 0
    )
    # A job says how far a revision's fan-out got; once its rows are gone it says nothing.
    # One still open is left alone (an ended notice's job stops at its next chunk).
    jobs = 0
    if len(ids) < chunk:
        jobs = rowcount(
            session.execute(
                delete(FanoutJob).where(
                    FanoutJob.notice_id.in_(ended),
                    FanoutJob.state.in_([FanoutState.DONE, FanoutState.STOPPED]),
                )
            )
        )
    return Purged(deliveries or 0, copies or 0, jobs or 0)
