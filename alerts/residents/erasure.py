"""Erasing residents (GDPR article 17): their contact details, places, and what was sent them.

Deliveries carry no foreign key to subscribers (a per-row key check made
publishing slow, see :class:`~alerts.models.Delivery`), so erasure deletes
them here, set-based, with the copies of unsent messages the local outbox
kept (notices, and the codes and links the sign-up sent), their consent
records and pending codes. What stays is an anonymous count in ``erasures``
(when, how many, through what), and the public notices themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from alerts.db import rowcount
from alerts.dispatch.models import Delivery, OutboxMessage
from alerts.residents.models import (
    Consent,
    Erasure,
    Subscriber,
    SubscriberLocation,
    VerificationCode,
)


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


def erase_subscribers(session: Session, ids: Collection[int], *, source: str = "cli") -> Erased:
    """Delete the subscribers ``ids`` and everything held about them; the caller commits.

    ``source`` (cli, manage, purge) is kept with the anonymous count of what was erased.
    """
    ids = list(ids)
    if not ids:
        return Erased(0, 0, 0, 0)
    contacts = {
        value
        for row in session.execute(
            select(Subscriber.phone, Subscriber.email).where(Subscriber.id.in_(ids))
        )
        for value in row
        if value
    }
    deliveries = select(Delivery.id).where(Delivery.subscriber_id.in_(ids))
    outbox = rowcount(
        session.execute(delete(OutboxMessage).where(OutboxMessage.delivery_id.in_(deliveries)))
    )
    if contacts:
        # Codes and links the sign-up left in the local outbox name no delivery.
        outbox += rowcount(
            session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.delivery_id.is_(None),
                    OutboxMessage.recipient.in_(sorted(contacts)),
                )
            )
        )
    session.execute(delete(Consent).where(Consent.subscriber_id.in_(ids)))
    session.execute(delete(VerificationCode).where(VerificationCode.subscriber_id.in_(ids)))
    sent = rowcount(session.execute(delete(Delivery).where(Delivery.subscriber_id.in_(ids))))
    locations = rowcount(
        session.execute(delete(SubscriberLocation).where(SubscriberLocation.subscriber_id.in_(ids)))
    )
    subscribers = rowcount(
        session.execute(
            delete(Subscriber)
            .where(Subscriber.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    )
    session.add(Erasure(source=source, subscribers=subscribers, deliveries=sent))
    session.flush()
    return Erased(subscribers, locations, sent, outbox)
