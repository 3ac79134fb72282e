"""Opting out of a channel and back in: one rule for every way a resident says so.

The one-click link in every email (:mod:`alerts.dispatch.links`), an inbound
STOP or START SMS (:mod:`alerts.dispatch.webhooks`) and Twilio's "unsubscribed
recipient" error in a send or a receipt (:mod:`alerts.dispatch.outcomes`) all
call these. Neither function commits; both answer how many subscribers changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from alerts.db import rowcount
from alerts.orm import utcnow
from alerts.residents.models import Subscriber

PUSH_CHANNELS = ("sms", "email")


def _column(channel: str) -> InstrumentedAttribute[datetime | None]:
    if channel == "sms":
        return Subscriber.sms_opted_out_at
    if channel == "email":
        return Subscriber.email_opted_out_at
    raise ValueError(f"not a push channel: {channel!r}")


def _who(subscriber_id: int | None, phone: str | None) -> ColumnElement[bool]:
    if (subscriber_id is None) == (phone is None):
        raise ValueError("name the subscriber by id or by phone, not both")
    if subscriber_id is not None:
        return Subscriber.id == subscriber_id
    return Subscriber.phone == phone


def opt_out(
    session: Session,
    *,
    channel: str,
    subscriber_id: int | None = None,
    phone: str | None = None,
    now: datetime | None = None,
) -> int:
    """Stop ``channel`` for the subscriber (by id, or everyone with that phone number).

    Opting out again keeps the first time: it is when the resident first said so.
    """
    column = _column(channel)
    moment = now or utcnow()
    result = session.execute(
        update(Subscriber)
        .where(_who(subscriber_id, phone), column.is_(None))
        .values({column: moment, Subscriber.updated_at: moment})
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def opt_in(
    session: Session,
    *,
    channel: str,
    subscriber_id: int | None = None,
    phone: str | None = None,
    now: datetime | None = None,
) -> int:
    """Resume ``channel`` for a subscriber who had opted out of it."""
    column = _column(channel)
    result = session.execute(
        update(Subscriber)
        .where(_who(subscriber_id, phone), column.is_not(None))
        .values({column: None, Subscriber.updated_at: now or utcnow()})
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
