"""Operators, passwords, API keys and login throttling."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.errors import DomainError, ValidationFailed
from alerts.i18n import N_
from alerts.operators.models import ApiKey, LoginAttempt, Operator, Role
from alerts.orm import utcnow

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
API_KEY_PREFIX = "vsk_"
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12


class TooManyAttempts(DomainError):
    status = 429
    title = N_("För många försök")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_operator(
    session: Session, email: str, *, role: str, password: str, name: str = ""
) -> Operator:
    """A new operator; the password is stored as an Argon2id hash."""
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed.on("email", N_("är ingen e-postadress"))
    if role not in {r.value for r in Role}:
        raise ValidationFailed.on(
            "role", N_("måste vara en av %(choices)s"), choices=", ".join(r.value for r in Role)
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.on(
            "password", N_("måste ha minst %(count)s tecken"), count=MIN_PASSWORD_LENGTH
        )
    if session.scalar(select(Operator).where(Operator.email == email)) is not None:
        raise ValidationFailed.on("email", N_("det finns redan en operatör med den e-postadressen"))
    operator = Operator(email=email, role=role, name=name, password_hash=hash_password(password))
    session.add(operator)
    session.flush()
    return operator


def authenticate(session: Session, email: str, password: str, *, client: str) -> Operator | None:
    """The operator with these credentials, or None. Raises TooManyAttempts when throttled.

    Failed attempts are counted per email and per client address in the
    database, so the limit holds across processes and hosts.
    """
    email = email.strip().lower()
    keys = [f"email:{email}", f"client:{client}"]
    since = utcnow() - LOGIN_WINDOW
    for key in keys:
        failures = session.scalar(
            select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at > since)
        )
        if failures >= MAX_FAILED_LOGINS * (4 if key.startswith("client:") else 1):
            raise TooManyAttempts(
                N_("För många misslyckade inloggningar; vänta några minuter och försök igen")
            )
    operator = session.scalar(select(Operator).where(Operator.email == email))
    if operator is not None and operator.active and _verify(operator, password):
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == keys[0]))
        return operator
    for key in keys:
        session.add(LoginAttempt(key=key))
    session.flush()
    logger.warning("failed login for %s from %s", email, client)
    return None


def _verify(operator: Operator, password: str) -> bool:
    try:
        _hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = hash_password(password)
    return True


def _digest(token: str) -> str:
    # API keys are long random strings, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(session: Session, operator: Operator, *, label: str = "") -> str:
    """A new API key for ``operator``. The key is returned once and stored only hashed."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(operator=operator, prefix=token[:12], key_hash=_digest(token), label=label))
    session.flush()
    return token


def operator_for_api_key(session: Session, token: str) -> Operator | None:
    """The active operator a (not revoked) key acts as, or None."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    key = session.scalar(
        select(ApiKey).where(ApiKey.prefix == token[:12]).where(ApiKey.key_hash == _digest(token))
    )
    if key is None or key.revoked_at is not None or not key.operator.active:
        return None
    if not hmac.compare_digest(key.key_hash, _digest(token)):
        return None
    key.last_used_at = utcnow()
    return key.operator
