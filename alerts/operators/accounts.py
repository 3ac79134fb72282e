"""Account administration: listing, deactivating and resetting operators; listing and
revoking API keys. Used by ``varsla operators …`` / ``varsla apikeys …``.

Every change that should end an operator's console sessions (a new password,
deactivation) bumps ``Operator.session_version``; a console session carries the
version it was opened with and ends when the two differ.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from alerts.errors import NotFound, ValidationFailed
from alerts.i18n import N_
from alerts.operators.auth import MIN_PASSWORD_LENGTH, authenticate, hash_password
from alerts.operators.models import ApiKey, Operator
from alerts.orm import utcnow

#: How many characters of a key name it: the prefix stored in clear ("vsk_" + 8).
KEY_PREFIX_LENGTH = 12


def find_operator(session: Session, email: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.email == email.strip().lower()))
    if operator is None:
        raise NotFound(N_("ingen operatör %(email)s"), email=email.strip())
    return operator


def list_operators(session: Session) -> Sequence[Operator]:
    return session.scalars(select(Operator).order_by(Operator.email)).all()


def end_sessions(operator: Operator) -> None:
    """End every console session of ``operator`` (they check the version on each request)."""
    operator.session_version += 1


def deactivate_operator(session: Session, operator: Operator) -> None:
    """The operator can no longer log in, use the console or act through an API key."""
    operator.active = False
    end_sessions(operator)
    session.flush()


def reset_password(session: Session, operator: Operator, password: str | None = None) -> str:
    """Set a new password (a generated one-time password when none is given) and end the
    operator's sessions; answers the password."""
    new = password if password is not None else secrets.token_urlsafe(15)
    if len(new) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.on(
            "password", N_("måste ha minst %(count)s tecken"), count=MIN_PASSWORD_LENGTH
        )
    operator.password_hash = hash_password(new)
    end_sessions(operator)
    session.flush()
    return new


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).options(selectinload(ApiKey.operator)).order_by(ApiKey.created_at)
    ).all()


def revoke_api_key(session: Session, prefix: str) -> ApiKey:
    """Revoke the key whose first characters are ``prefix`` (as ``apikeys list`` shows)."""
    prefix = prefix.strip()
    if len(prefix) != KEY_PREFIX_LENGTH:
        raise ValidationFailed.on(
            "prefix",
            N_("ange nyckelns första %(count)s tecken, som de listas"),
            count=KEY_PREFIX_LENGTH,
        )
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).all()
    if not keys:
        raise NotFound(N_("ingen API-nyckel %(prefix)s"), prefix=prefix)
    if len(keys) > 1:
        raise ValidationFailed.on("prefix", N_("passar flera nycklar; återkalla dem i konsolen"))
    key = keys[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()
    return key


#: Number types that can receive an SMS.
_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def set_phone(session: Session, operator: Operator, text: str) -> None:
    """Set (or, with an empty ``text``, remove) the operator's mobile number, kept as E.164.

    Swedish numbers may be written nationally (070-123 45 67)."""
    text = text.strip()
    if not text:
        operator.phone = None
        session.flush()
        return
    try:
        number = phonenumbers.parse(text, "SE")
    except phonenumbers.NumberParseException:
        raise ValidationFailed.on("phone", N_("Det här är inget telefonnummer.")) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed.on(
            "phone",
            N_("Numret är inte giltigt. Skriv det som 070-123 45 67 eller +46 70 123 45 67."),
        )
    if phonenumbers.number_type(number) not in _MOBILE:
        raise ValidationFailed.on(
            "phone", N_("Det här är inget mobilnummer, så det kan inte ta emot sms.")
        )
    operator.phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    session.flush()


def check_own_password(session: Session, operator: Operator, current: str, *, client: str) -> None:
    """Raise ValidationFailed unless ``current`` is the operator's password; checked and
    throttled like a login (a failure is recorded: the caller commits either way)."""
    if authenticate(session, operator.email, current, client=client) is not operator:
        raise ValidationFailed.on("current_password", N_("Det nuvarande lösenordet stämmer inte."))


def change_own_password(session: Session, operator: Operator, new: str, repeated: str) -> None:
    """The operator's own new password (after :func:`check_own_password`). Ends the
    operator's other sessions; the caller keeps the current one."""
    if new != repeated:
        raise ValidationFailed.on("repeat_password", N_("Lösenorden är inte likadana."))
    try:
        reset_password(session, operator, new)
    except ValidationFailed as exc:
        raise ValidationFailed.on(
            "new_password", N_("måste ha minst %(count)s tecken"), count=MIN_PASSWORD_LENGTH
        ) from exc
