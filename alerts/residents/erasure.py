"""Erasing residents (GDPR article 17): their contact details, places, and what was sent them.

Deliveries carry no foreign key to subscribers (a per-row key check made
publishing slow, see :class:`~alerts.models.Delivery`), so erasure deletes
them here, set-based, with the copies of unsent messages the local outbox
kept. The notices themselves are public and stay.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from alerts.db import rowcount
from alerts.dispatch.models import Delivery, OutboxMessage
from alerts.residents.models import Subscriber, SubscriberLocation


@dataclass(frozen=True)
class Erased:
    subscribers: int
    locations: int
    deliveries: int
    outbox_messages: int


def find_subscribers(
    session: Session, *, phone: str | None = None, email: str | None = None
) -> list[int]:
    """Ids of the subscribers with this phone number (E.164) or email address."""
    conditions = []
    if phone:
        conditions.append(Subscriber.phone == phone)
    if email:
        conditions.append(Subscriber.email == email.strip().lower())
    if not conditions:
        return []
    return list(session.scalars(select(Subscriber.id).where(or_(*conditions))))


def erase_subscribers(session: Session, ids: Collection[int]) -> Erased:
    """Delete the subscribers ``ids`` and everything held about them; the caller commits."""
    ids = list(ids)
    if not ids:
        return Erased(0, 0, 0, 0)
    deliveries = select(Delivery.id).where(Delivery.subscriber_id.in_(ids))
    outbox = rowcount(
        session.execute(delete(OutboxMessage).where(OutboxMessage.delivery_id.in_(deliveries)))
    )
    sent = rowcount(session.execute(delete(Delivery).where(Delivery.subscriber_id.in_(ids))))
    locations = rowcount(
        session.execute(delete(SubscriberLocation).where(SubscriberLocation.subscriber_id.in_(ids)))
    )
    subscribers = rowcount(session.execute(delete(Subscriber).where(Subscriber.id.in_(ids))))
    return Erased(subscribers, locations, sent, outbox)
