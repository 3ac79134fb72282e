"""The residents' JSON API: sign up, verify a code, ask for a manage link.

No API key: residents and the municipality's own web site call it. Every
route is rate-limited (:mod:`alerts.residents.limits`); verification messages
leave after the commit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from alerts.config import settings
from alerts.errors import MalformedRequest, ValidationFailed
from alerts.extensions import db
from alerts.orm import utcnow
from alerts.residents import signup
from alerts.residents.contacts import email_address, mobile_number
from alerts.residents.limits import RateLimited
from alerts.residents.models import Subscriber, categories_of
from alerts.residents.outgoing import send_all
from alerts.residents.schemas import (
    ManageLinkIn,
    ManageLinkOut,
    SubscriptionIn,
    SubscriptionOut,
    VerificationOut,
    VerifiedOut,
    VerifyIn,
    parse,
)
from alerts.residents.verification import CodeCheck, check_code

bp = Blueprint("api_residents", __name__, url_prefix="/api/v1")


def client_ip() -> str | None:
    return request.remote_addr


def _json() -> Any:
    if not request.data:
        return {}
    try:
        return request.get_json(force=True)
    except BadRequest:
        raise MalformedRequest.on("body", "is not valid JSON") from None


@bp.post("/subscriptions")
def create_subscription():
    """Sign up: 202 with the verification sent to each contact."""
    data: SubscriptionIn = parse(SubscriptionIn, _json())
    config = settings()
    checked = signup.check_request(
        db.session,
        config,
        address=data.address,
        address_id=data.address_id,
        phone=data.phone,
        email=data.email,
        language=data.language,
        categories=list(data.categories) if data.categories is not None else None,
    )
    result = signup.subscribe(db.session, config, checked, source="api", ip=client_ip())
    answer = SubscriptionOut(
        id=result.subscriber.id,
        status="pending_verification",
        verification=VerificationOut(
            sms="sent" if result.sms_sent else None, email="sent" if result.email_sent else None
        ),
    )
    db.session.commit()
    send_all(result.outgoing)
    return jsonify(answer.model_dump()), 202


def verify_phone_code(phone_text: str, code: str) -> Subscriber:
    """Check a code (committing the counted try) and verify the phone; raises what to say."""
    config = settings()
    phone = mobile_number(phone_text, config.sms_country_codes)
    outcome, subscriber = check_code(db.session, config.secret_key, phone, code, utcnow())
    if outcome is CodeCheck.OK and subscriber is not None:
        kept = signup.mark_verified(db.session, subscriber, "sms")
        db.session.commit()
        return kept
    db.session.commit()  # the wrong try counts even though the answer is an error
    if outcome is CodeCheck.EXHAUSTED:
        raise RateLimited(
            _("Du har skrivit fel kod för många gånger. Be om en ny kod."),
            retry_after_s=60,
            field="code",
        )
    if outcome is CodeCheck.EXPIRED:
        raise ValidationFailed.on("code", _("Koden har gått ut. Be om en ny kod."))
    if outcome is CodeCheck.NONE:
        raise ValidationFailed.on(
            "code", _("Det finns ingen kod att bekräfta för det numret. Anmäl dig först.")
        )
    raise ValidationFailed.on("code", _("Koden stämmer inte. Kontrollera sms:et och försök igen."))


@bp.post("/subscriptions/verify")
def verify_subscription():
    """Verify the phone with the SMS code: 200, the subscription is active."""
    data: VerifyIn = parse(VerifyIn, _json())
    subscriber = verify_phone_code(data.phone, data.code)
    answer = VerifiedOut(
        id=subscriber.id,
        status="active",
        manage_url=signup.manage_url(settings(), subscriber),
        addresses=[loc.label for loc in subscriber.locations],
        categories=categories_of(subscriber.categories),
        language=subscriber.language,
    )
    return jsonify(answer.model_dump())


@bp.post("/subscriptions/manage-link")
def manage_link():
    """Send the manage link to a known contact; the answer never says whether it is known."""
    data: ManageLinkIn = parse(ManageLinkIn, _json())
    config = settings()
    phone = mobile_number(data.phone, config.sms_country_codes) if data.phone else None
    email = email_address(data.email) if data.email else None
    outgoing = signup.request_manage_link(
        db.session, config, phone=phone, email=email, ip=client_ip()
    )
    db.session.commit()
    send_all(outgoing)
    answer = ManageLinkOut(detail=_("Om uppgiften finns hos oss har vi skickat en länk dit."))
    return jsonify(answer.model_dump()), 202


LIMITED = (
    "Too many requests (per number, client, number prefix or installation); the problem's "
    "retry_after and the Retry-After header say when to try again"
)


def document(app: Flask) -> None:
    """Add these routes to the app's OpenAPI document."""
    from alerts.web.openapi import Operation, add_to_document

    add_to_document(
        app,
        paths={
            "/subscriptions": {
                "post": Operation(
                    "Subscribe an address by SMS and/or email (verification follows)",
                    answer=SubscriptionOut,
                    status=202,
                    body=SubscriptionIn,
                    auth=False,
                    errors={
                        422: "An address not in the register (naming `address`, with "
                        "`suggestions`), a number that is not a mobile number of an allowed "
                        "country (naming `phone`), or another field at fault",
                        429: LIMITED,
                    },
                )
            },
            "/subscriptions/verify": {
                "post": Operation(
                    "Verify the phone with the SMS code",
                    answer=VerifiedOut,
                    body=VerifyIn,
                    auth=False,
                    errors={
                        422: "A wrong or expired code (naming `code`)",
                        429: "Five wrong tries: ask for a new code",
                    },
                )
            },
            "/subscriptions/manage-link": {
                "post": Operation(
                    "Send the manage link to a phone or email",
                    answer=ManageLinkOut,
                    status=202,
                    body=ManageLinkIn,
                    auth=False,
                    description="The answer is the same whether or not the contact is known.",
                    errors={
                        422: "Neither a phone nor an email, or one that is malformed",
                        429: LIMITED,
                    },
                )
            },
        },
    )
