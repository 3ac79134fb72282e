"""Signing up by address, verifying each contact, and asking for a manage link.

The operations take a Session and never commit. Those that send something
answer the :class:`~alerts.residents.outgoing.Outgoing` messages for the
caller to send after its commit.

A sign-up creates a pending subscriber (legal basis consent, a consent record
with the text version), whose contacts receive nothing but their verification
until verified. Signing up again with the same contact before verifying
reuses the pending subscriber. Verifying a contact that a verified subscriber
already has (a resident from the utility's register, or an earlier sign-up)
merges the sign-up into that subscriber: its addresses are added with the
consent basis, its choices (language, categories) apply, and the pending row
goes. Unverified sign-ups are purged after :data:`UNVERIFIED_TTL`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from alerts.config import Settings
from alerts.errors import NotFound, ValidationFailed
from alerts.orm import utcnow
from alerts.places.models import Address
from alerts.places.register import autocomplete, resolve_address
from alerts.residents import limits
from alerts.residents.contacts import email_address, mobile_number
from alerts.residents.erasure import erase_subscribers
from alerts.residents.models import (
    CONSENT_TEXT_VERSION,
    Consent,
    ConsentAction,
    LegalBasis,
    Subscriber,
    SubscriberLocation,
    VerificationCode,
    categories_of,
    category_mask,
)
from alerts.residents.outgoing import Outgoing, new_reference
from alerts.residents.tokens import email_token, manage_token
from alerts.residents.verification import CODE_TTL, issue_code
from channels.compose.verification import compose_link_email, compose_verification_sms
from geodata.address_text import format_address

logger = logging.getLogger(__name__)

UNVERIFIED_TTL = timedelta(hours=24)
MAX_ADDRESSES = 10


class UnknownAddress(ValidationFailed):
    """The address is not in the register; ``suggestions`` are the closest ones that are."""

    def __init__(self, detail: str, suggestions: list[dict[str, Any]]) -> None:
        from alerts.errors import FieldError

        super().__init__(f"address: {detail}", errors=[FieldError("address", detail)])
        self.suggestions = suggestions


class InvalidSignup(ValidationFailed):
    """Several fields of a sign-up at fault at once, each named; the first as the only one
    would be (the API's ``field``), the address's suggestions as :class:`UnknownAddress`'s."""

    def __init__(self, problems: list[ValidationFailed]) -> None:
        first = problems[0]
        errors = [error for problem in problems for error in problem.errors]
        super().__init__(first.message, errors=errors, **first.params)
        self.field = first.field
        found = [s for problem in problems for s in getattr(problem, "suggestions", None) or []]
        self.suggestions: list[dict[str, Any]] | None = found or None


#: The largest id an INTEGER column holds (PostgreSQL's int4).
MAX_ROW_ID = 2**31 - 1


@dataclass(frozen=True)
class Place:
    address_id: int
    label: str
    lon: float
    lat: float


@dataclass
class SignupRequest:
    """What a resident asked for, checked (see :func:`check_request`)."""

    place: Place
    phone: str | None
    email: str | None
    language: str
    categories: list[str] | None


@dataclass
class SignupResult:
    subscriber: Subscriber
    sms_sent: bool = False
    email_sent: bool = False
    outgoing: list[Outgoing] = field(default_factory=list)


def find_place(session: Session, *, address: str | None, address_id: int | None) -> Place:
    """The register address chosen (by id) or typed; UnknownAddress with suggestions."""
    if address_id is not None:
        # An id past the column's range is no address either (not a database error).
        row = session.get(Address, address_id) if 0 < address_id <= MAX_ROW_ID else None
        if row is None:
            raise ValidationFailed.on("address_id", _("Adressen finns inte i adressregistret."))
        return Place(row.id, _label_of(row), row.lon, row.lat)
    text = (address or "").strip()
    if not text:
        raise ValidationFailed.on("address", _("Skriv din adress och välj den i listan."))
    resolution = resolve_address(session, text)
    if not resolution.found or resolution.lon is None or resolution.lat is None:
        suggestions = [
            {"id": s.id, "label": s.label, "lon": s.lon, "lat": s.lat}
            for s in autocomplete(session, text, limit=5)
        ]
        raise UnknownAddress(
            _("Adressen finns inte i adressregistret. Välj en adress i listan."), suggestions
        )
    assert resolution.address_id is not None
    return Place(resolution.address_id, resolution.label, resolution.lon, resolution.lat)


def _label_of(row: Address) -> str:
    return format_address(row.street, row.number, row.letter, row.postcode, row.city)


def check_request(
    session: Session,
    config: Settings,
    *,
    address: str | None,
    address_id: int | None,
    phone: str | None,
    email: str | None,
    language: str,
    categories: list[str] | None,
) -> SignupRequest:
    """Every field checked, and every problem raised at once, each naming its field (a
    resident corrects them all in one go): the contacts', the categories', the address's.
    One problem is raised as it is; several as :class:`InvalidSignup`."""
    problems: list[ValidationFailed] = []
    phone_e164 = email_norm = None
    try:
        phone_e164 = mobile_number(phone, config.sms_country_codes) if phone else None
    except ValidationFailed as exc:
        problems.append(exc)
    try:
        email_norm = email_address(email) if email else None
    except ValidationFailed as exc:
        problems.append(exc)
    if not (phone or email):
        problems.append(
            ValidationFailed.on("phone", _("Ange ett mobilnummer, en e-postadress eller båda."))
        )
    if categories is not None and not categories:
        problems.append(ValidationFailed.on("categories", _("Välj minst ett slags störning.")))
    place: Place | None = None
    try:
        place = find_place(session, address=address, address_id=address_id)
    except ValidationFailed as exc:
        problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidSignup(problems)
    assert place is not None
    return SignupRequest(place, phone_e164, email_norm, language, categories)


def _pending_with(session: Session, request: SignupRequest) -> Subscriber | None:
    """An unverified self-service sign-up with the same contact, to reuse."""
    conditions = []
    if request.phone:
        conditions.append(Subscriber.phone == request.phone)
    if request.email:
        conditions.append(Subscriber.email == request.email)
    return session.scalars(
        select(Subscriber)
        .where(or_(*conditions), Subscriber.verified_at.is_(None))
        .order_by(Subscriber.id.desc())
        .limit(1)
    ).first()


def record_consent(
    session: Session,
    subscriber: Subscriber,
    action: ConsentAction,
    source: str,
    now: datetime,
    **details: Any,
) -> None:
    session.add(
        Consent(
            subscriber_id=subscriber.id,
            action=action,
            source=source,
            text_version=CONSENT_TEXT_VERSION,
            details=details,
            created_at=now,
        )
    )


def subscribe(
    session: Session,
    config: Settings,
    request: SignupRequest,
    *,
    source: str,
    ip: str | None,
    now: datetime | None = None,
) -> SignupResult:
    """Create (or refresh) a pending sign-up and the verification messages for it."""
    moment = now or utcnow()
    lims = limits.verification_limits(
        ip=ip, phone=request.phone, email=request.email, budget=config.verify_budget
    )
    limits.check(session, config.secret_key, lims, moment)
    subscriber = _pending_with(session, request)
    if subscriber is None:
        subscriber = Subscriber(
            legal_basis=LegalBasis.CONSENT,
            source=f"self_service:{source}",
            created_at=moment,
            updated_at=moment,
        )
        session.add(subscriber)
    subscriber.phone = request.phone
    subscriber.email = request.email
    subscriber.phone_verified_at = None
    subscriber.email_verified_at = None
    subscriber.language = request.language
    subscriber.categories = category_mask(request.categories)
    session.flush()
    session.execute(
        delete(SubscriberLocation).where(SubscriberLocation.subscriber_id == subscriber.id)
    )
    session.add(
        SubscriberLocation(
            subscriber_id=subscriber.id,
            address_id=request.place.address_id,
            label=request.place.label,
            lon=request.place.lon,
            lat=request.place.lat,
            created_at=moment,
        )
    )
    record_consent(
        session,
        subscriber,
        ConsentAction.GIVEN,
        source,
        moment,
        address=request.place.label,
        channels=[c for c, v in (("sms", request.phone), ("email", request.email)) if v],
        categories=categories_of(subscriber.categories),
        language=request.language,
    )
    limits.spend(session, config.secret_key, lims, moment)
    result = SignupResult(subscriber)
    if request.phone:
        result.outgoing.append(code_sms(session, config, subscriber, moment))
        result.sms_sent = True
    if request.email:
        result.outgoing.append(verification_email(config, subscriber, request.place.label))
        result.email_sent = True
    session.flush()
    logger.info(
        "sign-up %s from %s: sms %s, email %s", subscriber.id, source, result.sms_sent,
        result.email_sent,
    )  # fmt: skip
    return result


def code_sms(session: Session, config: Settings, subscriber: Subscriber, now: datetime) -> Outgoing:
    """A new code for the subscriber's phone, as the SMS to send."""
    assert subscriber.phone is not None
    code = issue_code(session, config.secret_key, subscriber, now)
    with force_locale(subscriber.language):
        text = _(
            "%(code)s är din kod för varningar från %(org)s. Den gäller i %(minutes)d minuter. "
            "Har du inte bett om den kan du strunta i det här sms:et.",
            code=code,
            org=config.org_name,
            minutes=int(CODE_TTL.total_seconds() // 60),
        )
    message = compose_verification_sms(
        text, language=subscriber.language, reference=new_reference("code")
    )
    return Outgoing("sms", subscriber.phone, subscriber.language, message, "code")


def _domain(config: Settings) -> str:
    from urllib.parse import urlsplit

    return urlsplit(config.base_url).hostname or "localhost"


def verification_email(config: Settings, subscriber: Subscriber, address_label: str) -> Outgoing:
    """The email with the link to the page whose button confirms the address."""
    assert subscriber.email is not None
    token = email_token(config.secret_key, subscriber.id, subscriber.email)
    link = f"{config.base_url}/subscriptions/confirm/{token}"
    with force_locale(subscriber.language):
        message = compose_link_email(
            subject=_("Bekräfta din e-postadress för varningar från %(org)s", org=config.org_name),
            paragraphs=[
                _(
                    "Någon, förhoppningsvis du, vill få varningar från %(org)s om störningar "
                    "vid %(address)s till den här e-postadressen.",
                    org=config.org_name,
                    address=address_label,
                ),
                _("Öppna länken och tryck på knappen för att bekräfta. Länken gäller i 24 timmar."),
            ],
            link=link,
            link_text=_("Bekräfta e-postadressen"),
            footer=_(
                "Har du inte bett om det här kan du strunta i mejlet. Du får då inget mer från oss."
            ),
            language=subscriber.language,
            reference=new_reference("verify"),
            domain=_domain(config),
        )
    return Outgoing("email", subscriber.email, subscriber.language, message, "email_link")


def manage_url(config: Settings, subscriber: Subscriber) -> str:
    token = manage_token(config.secret_key, subscriber.id, subscriber.manage_version)
    return f"{config.base_url}/subscriptions/{token}"


def manage_link_messages(config: Settings, subscriber: Subscriber, channel: str) -> Outgoing:
    """The manage link, by SMS or email."""
    url = manage_url(config, subscriber)
    with force_locale(subscriber.language):
        if channel == "sms":
            assert subscriber.phone is not None
            text = _(
                "Här är din länk för att ändra eller avsluta varningarna från %(org)s: %(url)s",
                org=config.org_name,
                url=url,
            )
            message = compose_verification_sms(
                text, language=subscriber.language, reference=new_reference("manage")
            )
            return Outgoing("sms", subscriber.phone, subscriber.language, message, "manage_link")
        assert subscriber.email is not None
        message = compose_link_email(
            subject=_("Din länk till dina varningar från %(org)s", org=config.org_name),
            paragraphs=[
                _(
                    "Med länken kan du lägga till och ta bort adresser, välja vad du vill få, "
                    "pausa, ladda ner dina uppgifter eller avsluta allt."
                )
            ],
            link=url,
            link_text=_("Ändra dina varningar"),
            footer=_("Har du inte bett om länken kan du strunta i mejlet."),
            language=subscriber.language,
            reference=new_reference("manage"),
            domain=_domain(config),
        )
    return Outgoing("email", subscriber.email, subscriber.language, message, "manage_link")


def _merge_into_existing(
    session: Session, pending: Subscriber, channel: str, now: datetime
) -> Subscriber:
    """When a verified subscriber already has the contact just verified, fold the pending
    sign-up into it (no duplicate) and answer the one that stays.

    When both hold a different other contact (another phone number), the sign-up's
    addresses join the existing subscriber for this contact, and the sign-up keeps only
    its other contact: nothing verified is lost, and no one gets a notice twice.
    """
    contact = pending.phone if channel == "sms" else pending.email
    column = Subscriber.phone if channel == "sms" else Subscriber.email
    verified = Subscriber.phone_verified_at if channel == "sms" else Subscriber.email_verified_at
    existing = session.scalars(
        select(Subscriber)
        .where(column == contact, verified.is_not(None), Subscriber.id != pending.id)
        .order_by(Subscriber.id)
        .limit(1)
    ).first()
    if existing is None:
        return pending
    have = {loc.address_id for loc in existing.locations}
    for location in list(pending.locations):
        if location.address_id in have:
            continue
        existing.locations.append(
            SubscriberLocation(
                address_id=location.address_id,
                label=location.label,
                lon=location.lon,
                lat=location.lat,
                created_at=now,
            )
        )
    # The resident's own choice now applies; what they added rests on their consent.
    existing.language = pending.language
    existing.categories = pending.categories
    if existing.legal_basis != LegalBasis.CONSENT:
        existing.source = f"{existing.source}; {pending.source}"[:200]
    existing.legal_basis = LegalBasis.CONSENT
    existing.updated_at = now
    other = "email" if channel == "sms" else "phone"
    mine, theirs = getattr(pending, other), getattr(existing, other)
    if mine is not None and theirs is not None and mine != theirs:
        # Two people's (or two phones') subscriptions share this contact: keep both.
        if channel == "sms":
            pending.phone, pending.phone_verified_at = None, None
        else:
            pending.email, pending.email_verified_at = None, None
        record_consent(session, existing, ConsentAction.GIVEN, "merge", now, channel=channel)
        session.flush()
        logger.info("sign-up %s shares a contact with subscriber %s", pending.id, existing.id)
        return existing
    if theirs is None and mine is not None:
        # The other contact moves along, verified or still waiting for its verification.
        setattr(existing, other, mine)
        setattr(existing, f"{other}_verified_at", getattr(pending, f"{other}_verified_at"))
        session.execute(
            update(VerificationCode)
            .where(VerificationCode.subscriber_id == pending.id)
            .values(subscriber_id=existing.id)
        )
    session.execute(
        update(Consent).where(Consent.subscriber_id == pending.id).values(subscriber_id=existing.id)
    )
    session.flush()
    session.delete(pending)
    session.flush()
    logger.info("sign-up %s merged into subscriber %s", pending.id, existing.id)
    return existing


def mark_verified(
    session: Session, subscriber: Subscriber, channel: str, now: datetime | None = None
) -> Subscriber:
    """The contact on ``channel`` is verified; answers the subscriber that holds it now."""
    moment = now or utcnow()
    if channel == "sms":
        subscriber.phone_verified_at = moment
    else:
        subscriber.email_verified_at = moment
    if subscriber.verified_at is None:
        subscriber.verified_at = moment
    subscriber.updated_at = moment
    session.flush()
    return _merge_into_existing(session, subscriber, channel, moment)


def confirm_email(
    session: Session, subscriber_id: int, email: str, now: datetime | None = None
) -> Subscriber:
    """Confirm the email address a verification link was sent to."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.email != email:
        # Merged, erased or changed since: maybe the address is already confirmed elsewhere.
        kept = session.scalars(
            select(Subscriber).where(
                Subscriber.email == email, Subscriber.email_verified_at.is_not(None)
            )
        ).first()
        if kept is None:
            raise NotFound(_("Länken gäller inte längre. Anmäl dig igen."))
        return kept
    if subscriber.email_verified_at is not None:
        return subscriber
    return mark_verified(session, subscriber, "email", now)


def find_verified(session: Session, *, phone: str | None, email: str | None) -> Subscriber | None:
    """The verified subscriber with this contact (a verified contact), if any."""
    if phone:
        where = (Subscriber.phone == phone, Subscriber.phone_verified_at.is_not(None))
    elif email:
        where = (Subscriber.email == email, Subscriber.email_verified_at.is_not(None))
    else:
        return None
    return session.scalars(
        select(Subscriber).where(*where).order_by(Subscriber.id).limit(1)
    ).first()


def request_manage_link(
    session: Session,
    config: Settings,
    *,
    phone: str | None,
    email: str | None,
    ip: str | None,
    now: datetime | None = None,
) -> list[Outgoing]:
    """The manage link for a known contact; nothing for an unknown one. The caller answers
    the same either way. Limits apply to both, so probing costs the same as asking."""
    moment = now or utcnow()
    lims = limits.verification_limits(ip=ip, phone=phone, email=email, budget=config.verify_budget)
    limits.check(session, config.secret_key, lims, moment)
    limits.spend(session, config.secret_key, lims, moment)
    subscriber = find_verified(session, phone=phone, email=email)
    if subscriber is None:
        return []
    return [manage_link_messages(config, subscriber, "sms" if phone else "email")]


def purge_unverified(session: Session, now: datetime | None = None) -> int:
    """Delete sign-ups never verified within :data:`UNVERIFIED_TTL` (a scheduler job)."""
    cutoff = (now or utcnow()) - UNVERIFIED_TTL
    ids = list(
        session.scalars(
            select(Subscriber.id).where(
                Subscriber.verified_at.is_(None), Subscriber.created_at < cutoff
            )
        )
    )
    if not ids:
        return 0
    erased = erase_subscribers(session, ids, source="purge")
    return erased.subscribers
