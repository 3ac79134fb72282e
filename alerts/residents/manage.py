"""What a resident does on their manage page (``/subscriptions/<token>``).

Add or remove addresses, turn SMS and email on or off, change language and
categories, pause until a date, download everything held (GDPR art. 15/20),
delete everything (art. 17), and revoke every manage link issued so far.
Operations take a Session and never commit; changes of what a resident
receives are kept as consent records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import Settings
from alerts.dispatch.models import Delivery, OutboxMessage
from alerts.errors import NotFound, ValidationFailed
from alerts.orm import utcnow
from alerts.residents.erasure import Erased, erase_subscribers
from alerts.residents.models import (
    ConsentAction,
    Subscriber,
    SubscriberLocation,
    categories_of,
    category_mask,
)
from alerts.residents.optout import opt_in, opt_out
from alerts.residents.outgoing import Outgoing
from alerts.residents.signup import (
    MAX_ADDRESSES,
    Place,
    code_sms,
    manage_link_messages,
    record_consent,
    verification_email,
)
from alerts.residents.tokens import read_manage_token


def subscriber_for_token(session: Session, secret: str, token: str) -> Subscriber:
    """The subscriber a manage link names; NotFound when forged, revoked or erased."""
    parsed = read_manage_token(secret, token)
    subscriber = session.get(Subscriber, parsed[0]) if parsed else None
    if subscriber is None or parsed is None or subscriber.manage_version != parsed[1]:
        raise NotFound(
            _(
                "Länken fungerar inte längre. Be om en ny länk till ditt mobilnummer eller din e-post."
            )
        )
    return subscriber


def update_preferences(
    session: Session,
    subscriber: Subscriber,
    *,
    language: str,
    categories: list[str],
    sms: bool,
    email: bool,
    paused_until: datetime | None,
    now: datetime | None = None,
) -> None:
    """Apply the choices of the manage page's form."""
    moment = now or utcnow()
    if not categories:
        raise ValidationFailed.on("categories", _("Välj minst ett slags störning."))
    if paused_until is not None and paused_until <= moment:
        raise ValidationFailed.on("paused_until", _("Välj ett datum efter i dag."))
    subscriber.language = language
    subscriber.categories = category_mask(categories)
    subscriber.paused_until = paused_until
    subscriber.updated_at = moment
    session.flush()
    for channel, wanted, contact in (
        ("sms", sms, subscriber.phone),
        ("email", email, subscriber.email),
    ):
        if contact is None:
            continue
        if wanted:
            opt_in(
                session, channel=channel, subscriber_id=subscriber.id, now=moment, source="manage"
            )
        else:
            opt_out(
                session, channel=channel, subscriber_id=subscriber.id, now=moment, source="manage"
            )
    session.refresh(subscriber)
    record_consent(
        session,
        subscriber,
        ConsentAction.CHANGED,
        "manage",
        moment,
        language=language,
        categories=categories_of(subscriber.categories),
        sms=sms,
        email=email,
        paused_until=paused_until.isoformat() if paused_until else None,
    )
    session.flush()


def add_address(
    session: Session, subscriber: Subscriber, place: Place, now: datetime | None = None
) -> SubscriberLocation:
    """Another address (a summer cottage, a parent's house); the same one twice is refused."""
    moment = now or utcnow()
    if any(loc.address_id == place.address_id for loc in subscriber.locations):
        raise ValidationFailed.on("address", _("Den adressen har du redan."))
    if len(subscriber.locations) >= MAX_ADDRESSES:
        raise ValidationFailed.on(
            "address", _("Du kan ha högst %(count)d adresser.", count=MAX_ADDRESSES)
        )
    location = SubscriberLocation(
        address_id=place.address_id, label=place.label, lon=place.lon, lat=place.lat,
        created_at=moment,
    )  # fmt: skip
    subscriber.locations.append(location)
    record_consent(session, subscriber, ConsentAction.GIVEN, "manage", moment, address=place.label)
    session.flush()
    return location


def remove_address(session: Session, subscriber: Subscriber, location_id: int) -> None:
    """Remove one address; the last one stays (deleting everything is its own button)."""
    location = next((loc for loc in subscriber.locations if loc.id == location_id), None)
    if location is None:
        raise NotFound(_("Adressen finns inte bland dina adresser."))
    if len(subscriber.locations) == 1:
        raise ValidationFailed.on(
            "location",
            _("Du måste ha minst en adress. Vill du sluta helt, välj Radera allt om mig."),
        )
    subscriber.locations.remove(location)
    record_consent(
        session, subscriber, ConsentAction.WITHDRAWN, "manage", utcnow(), address=location.label
    )
    session.flush()


def add_contact(
    session: Session,
    config: Settings,
    subscriber: Subscriber,
    *,
    phone: str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> list[Outgoing]:
    """Add a phone number or an email address; it gets only its verification until verified."""
    moment = now or utcnow()
    sent: list[Outgoing] = []
    if phone:
        subscriber.phone = phone
        subscriber.phone_verified_at = None
        subscriber.sms_opted_out_at = None
        session.flush()
        sent.append(code_sms(session, config, subscriber, moment))
    if email:
        subscriber.email = email
        subscriber.email_verified_at = None
        subscriber.email_opted_out_at = None
        label = subscriber.locations[0].label if subscriber.locations else ""
        sent.append(verification_email(config, subscriber, label))
    record_consent(
        session,
        subscriber,
        ConsentAction.GIVEN,
        "manage",
        moment,
        channels=[c for c, v in (("sms", phone), ("email", email)) if v],
    )
    session.flush()
    return sent


def revoke_links(session: Session, config: Settings, subscriber: Subscriber) -> list[Outgoing]:
    """Make every manage link issued so far stop working, and send a new one."""
    subscriber.manage_version += 1
    subscriber.updated_at = utcnow()
    session.flush()
    channel = "email" if subscriber.email_verified_at else "sms"
    return [manage_link_messages(config, subscriber, channel)]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export_data(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about the subscriber, as JSON-ready data (GDPR art. 15 and 20)."""
    deliveries = session.scalars(
        select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
    ).all()
    contacts = [c for c in (subscriber.phone, subscriber.email) if c]
    outbox = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.delivery_id.in_([d.id for d in deliveries])
            | OutboxMessage.recipient.in_(contacts)
        )
        .order_by(OutboxMessage.id)
    ).all()
    return {
        "exported_at": utcnow().isoformat(),
        "subscriber": {
            "id": subscriber.id,
            "phone": subscriber.phone,
            "email": subscriber.email,
            "language": subscriber.language,
            "categories": categories_of(subscriber.categories),
            "paused_until": _iso(subscriber.paused_until),
            "legal_basis": str(subscriber.legal_basis),
            "source": subscriber.source,
            "created_at": _iso(subscriber.created_at),
            "updated_at": _iso(subscriber.updated_at),
            "verified_at": _iso(subscriber.verified_at),
            "phone_verified_at": _iso(subscriber.phone_verified_at),
            "email_verified_at": _iso(subscriber.email_verified_at),
            "sms_opted_out_at": _iso(subscriber.sms_opted_out_at),
            "email_opted_out_at": _iso(subscriber.email_opted_out_at),
        },
        "addresses": [
            {
                "id": loc.id,
                "address": loc.label,
                "address_id": loc.address_id,
                "lon": loc.lon,
                "lat": loc.lat,
                "added_at": _iso(loc.created_at),
            }
            for loc in subscriber.locations
        ],
        "consents": [
            {
                "at": _iso(c.created_at),
                "action": str(c.action),
                "source": c.source,
                "text_version": c.text_version,
                "details": c.details,
            }
            for c in subscriber.consents
        ],
        "deliveries": [
            {
                "notice_id": str(d.notice_id),
                "revision": d.revision_number,
                "channel": d.channel,
                "status": str(d.status),
                "created_at": _iso(d.created_at),
                "sent_at": _iso(d.sent_at),
                "error": d.error_code,
            }
            for d in deliveries
        ],
        "unsent_copies": [
            {
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "body": m.body,
                "created_at": _iso(m.created_at),
            }
            for m in outbox
        ],
    }


def delete_everything(session: Session, subscriber: Subscriber) -> Erased:
    """Erase the subscriber and everything sent to them (an anonymous count stays)."""
    return erase_subscribers(session, [subscriber.id], source="manage")
