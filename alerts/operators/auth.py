"""Operators, passwords, API keys and login throttling."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, has_app_context
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.errors import DomainError, ValidationFailed
from alerts.operators.models import ApiKey, LoginAttempt, Operator, Role
from alerts.orm import utcnow

logger = logging.getLogger(__name__)

#: Argon2id parameters by ``VARSLA_PASSWORD_HASH_COST``. ``strong``, the default, is RFC 9106's
#: low-memory profile (3 passes over 64 MiB, 4 lanes), pinned here so that a new argon2-cffi
#: cannot change it unnoticed. ``test`` is the cheapest Argon2id there is, for test suites that
#: create operators by the hundred; never for real passwords. A ``test`` hash that reached a
#: strong installation is rehashed at the next login.
PASSWORD_HASH_COSTS = {
    "strong": profiles.RFC_9106_LOW_MEMORY,
    "test": replace(profiles.RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8, parallelism=1),
}
_EXTENSION = "varsla_password_hasher"
API_KEY_PREFIX = "vsk_"
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12


class TooManyAttempts(DomainError):
    status = 429
    title = "Too many attempts"


def password_hasher(config: Mapping[str, Any]) -> PasswordHasher:
    """The Argon2id hasher ``config["VARSLA_PASSWORD_HASH_COST"]`` asks for (``strong``)."""
    cost = config.get("VARSLA_PASSWORD_HASH_COST") or "strong"
    if cost not in PASSWORD_HASH_COSTS:
        raise ValueError(
            f"VARSLA_PASSWORD_HASH_COST is {cost!r}; use one of {', '.join(PASSWORD_HASH_COSTS)}"
        )
    if cost != "strong":
        logger.warning("passwords are hashed at the %r cost: for tests only", cost)
    return PasswordHasher.from_parameters(PASSWORD_HASH_COSTS[cost])


def init_app(app: Flask) -> None:
    """Build the app's password hasher from its config."""
    app.extensions[_EXTENSION] = password_hasher(app.config)


def _hasher() -> PasswordHasher:
    """The current app's hasher; outside an app, the strong default."""
    if has_app_context():
        return current_app.extensions[_EXTENSION]
    return PasswordHasher.from_parameters(PASSWORD_HASH_COSTS["strong"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def create_operator(
    session: Session, email: str, *, role: str, password: str, name: str = ""
) -> Operator:
    """A new operator; the password is stored as an Argon2id hash."""
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed.on("email", "is not an email address")
    if role not in {r.value for r in Role}:
        raise ValidationFailed.on("role", f"must be one of {', '.join(r.value for r in Role)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.on("password", f"needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(Operator).where(Operator.email == email)) is not None:
        raise ValidationFailed.on("email", "an operator with this email exists")
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
        failures = session.execute(
            select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at > since)
        ).scalar_one()
        if failures >= MAX_FAILED_LOGINS * (4 if key.startswith("client:") else 1):
            raise TooManyAttempts("Too many failed logins; wait a few minutes and try again")
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
    hasher = _hasher()
    try:
        hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = hasher.hash(password)
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
