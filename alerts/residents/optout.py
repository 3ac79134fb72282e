"""Opting out of a channel and back in: one rule for every way a resident says so.

The one-click link in every email (:mod:`alerts.dispatch.links`), an inbound
STOP or START SMS (:mod:`alerts.dispatch.webhooks`) and Twilio's "unsubscribed
recipient" error in a send or a receipt (:mod:`alerts.dispatch.outcomes`) all
call these. Neither function commits; both answer how many subscribers changed,
and each change is kept as a consent record (withdrawn, or given again) with
where it came from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from alerts.orm import table_of, utcnow
from alerts.residents.models import CONSENT_TEXT_VERSION, Consent, ConsentAction, Subscriber

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


def _change(
    session: Session,
    where: ColumnElement[bool],
    values: dict,
    *,
    action: ConsentAction,
    channel: str,
    source: str,
    moment: datetime,
) -> int:
    """Apply ``values`` to the subscribers matching ``where`` and record why, per subscriber."""
    ids = list(session.scalars(select(Subscriber.id).where(where)))
    if not ids:
        return 0
    session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_(ids))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        insert(table_of(Consent)),
        [
            {
                "subscriber_id": subscriber_id,
                "action": action.value,
                "source": source,
                "text_version": CONSENT_TEXT_VERSION,
                "details": {"channel": channel},
                "created_at": moment,
            }
            for subscriber_id in ids
        ],
    )
    return len(ids)


def opt_out(
    session: Session,
    *,
    channel: str,
    subscriber_id: int | None = None,
    phone: str | None = None,
    now: datetime | None = None,
    source: str = "unknown",
) -> int:
    """Stop ``channel`` for the subscriber (by id, or everyone with that phone number).

    Opting out again keeps the first time: it is when the resident first said so.
    ``source`` says how they said it (sms, email_link, manage, provider).
    """
    column = _column(channel)
    moment = now or utcnow()
    return _change(
        session,
        _who(subscriber_id, phone) & column.is_(None),
        {column: moment, Subscriber.updated_at: moment},
        action=ConsentAction.WITHDRAWN,
        channel=channel,
        source=source,
        moment=moment,
    )


def opt_in(
    session: Session,
    *,
    channel: str,
    subscriber_id: int | None = None,
    phone: str | None = None,
    now: datetime | None = None,
    source: str = "unknown",
) -> int:
    """Resume ``channel`` for a subscriber who had opted out of it."""
    column = _column(channel)
    moment = now or utcnow()
    return _change(
        session,
        _who(subscriber_id, phone) & column.is_not(None),
        {column: None, Subscriber.updated_at: moment},
        action=ConsentAction.GIVEN,
        channel=channel,
        source=source,
        moment=moment,
    )
