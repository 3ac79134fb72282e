"""Operators, passwords, API keys and login throttling."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import replace
from datetime import timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, has_app_context
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.errors import DomainError, ValidationFailed
from alerts.i18n import N_
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
_DUMMY = "varsla_password_dummy_hash"
API_KEY_PREFIX = "vsk_"
#: Failures per (client, account) before each further try waits; the wait doubles.
FREE_FAILURES = 5
MAX_LOGIN_DELAY_S = 900
LOGIN_WINDOW = timedelta(hours=24)
MIN_PASSWORD_LENGTH = 12


class TooManyAttempts(DomainError):
    status = 429
    title = N_("För många försök")

    def __init__(self, *, retry_after_s: int) -> None:
        super().__init__(
            N_("För många misslyckade inloggningar; försök igen om %(seconds)s sekunder"),
            seconds=retry_after_s,
        )
        self.retry_after_s = retry_after_s


def password_hasher(cost: str) -> PasswordHasher:
    """The Argon2id hasher of ``cost`` (``VARSLA_PASSWORD_HASH_COST``: ``strong``)."""
    if cost not in PASSWORD_HASH_COSTS:
        raise ValueError(
            f"VARSLA_PASSWORD_HASH_COST is {cost!r}; use one of {', '.join(PASSWORD_HASH_COSTS)}"
        )
    if cost != "strong":
        logger.warning("passwords are hashed at the %r cost: for tests only", cost)
    return PasswordHasher.from_parameters(PASSWORD_HASH_COSTS[cost])


def init_app(app: Flask) -> None:
    """Build the app's password hasher from its settings, and the hash an unknown email is
    checked against (made by the same hasher, so it costs the same)."""
    hasher = password_hasher(settings(app).password_hash_cost)
    app.extensions[_EXTENSION] = hasher
    app.extensions[_DUMMY] = _unmatchable_hash(hasher)


def _unmatchable_hash(hasher: PasswordHasher) -> str:
    """An Argon2id hash with the hasher's parameters that no password matches: random salt
    and digest. Checking a password against it costs a real verification, as the timing
    defence needs, while building it costs nothing (hashing a random password at the
    strong cost added 0.3-0.6 s to every start of the app: each CLI command, each worker).
    """

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode().rstrip("=")

    return (
        f"$argon2id$v=19$m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
        f"${b64(secrets.token_bytes(hasher.salt_len))}${b64(secrets.token_bytes(hasher.hash_len))}"
    )


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


def _throttle_key(email: str, client: str) -> str:
    # Hashed: the table should not collect what people typed into the email field.
    return "pair:" + hashlib.sha256(f"{client}\n{email}".encode()).hexdigest()[:40]


def login_delay_s(failures: int) -> float:
    """Seconds a (client, account) pair waits after its last failure: nothing for the
    first :data:`FREE_FAILURES`, then doubling from one second up to a quarter hour."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(2 ** (failures - FREE_FAILURES), MAX_LOGIN_DELAY_S))


def authenticate(session: Session, email: str, password: str, *, client: str) -> Operator | None:
    """The operator with these credentials, or None. Raises TooManyAttempts when throttled.

    Failures are counted per (client address, account) in the database, so the
    limit holds across processes: guessing one account from one address slows down
    more and more, while the operator at another desk (or behind the same proxy,
    with ``VARSLA_TRUSTED_PROXIES`` set) can still log in. A known and an unknown
    email cost the same work, so timing does not tell which accounts exist.
    """
    email = email.strip().lower()
    key = _throttle_key(email, client)
    now = utcnow()
    failures = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.key == key, LoginAttempt.at > now - LOGIN_WINDOW
        )
    ).one()
    count, last = int(failures[0] or 0), failures[1]
    wait = login_delay_s(count)
    if last is not None and wait and (remaining := (last - now).total_seconds() + wait) > 0:
        raise TooManyAttempts(retry_after_s=math.ceil(remaining))
    operator = session.scalar(select(Operator).where(Operator.email == email))
    if operator is None:
        _spend_the_same_work(password)
    elif operator.active and _verify(operator, password):
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
        return operator
    session.add(LoginAttempt(key=key, at=now))
    session.flush()
    logger.warning("failed login (attempt %d) from %s", count + 1, client)
    return None


def _spend_the_same_work(password: str) -> None:
    dummy = current_app.extensions[_DUMMY] if has_app_context() else _unmatchable_hash(_hasher())
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher().verify(dummy, password)


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
