"""The residents' periodic jobs: each idempotent, each a few lines."""

from __future__ import annotations

from sqlalchemy.orm import Session

from alerts.residents.inbound import purge_inbound
from alerts.residents.limits import purge_counters
from alerts.residents.signup import purge_unverified


def purge_unverified_signups(session: Session) -> int:
    """Sign-ups never verified within a day are erased (with what was sent to them)."""
    return purge_unverified(session)


def purge_old_counters(session: Session) -> int:
    """Rate counters of hours that have passed, and inbound SMS ids older than a week."""
    return purge_counters(session) + purge_inbound(session)


JOBS = {
    "residents.purge_unverified": purge_unverified_signups,
    "residents.purge_counters": purge_old_counters,
}
