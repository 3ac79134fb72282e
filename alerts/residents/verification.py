"""Verifying a contact: a 6-digit SMS code, or a signed link by email.

A code is kept only as an HMAC (keyed with the secret key and bound to the
subscriber), expires after :data:`CODE_TTL`, and allows :data:`MAX_ATTEMPTS`
wrong tries; the comparison is constant-time. Checking a code answers a
:class:`CodeCheck`, not an exception, so the caller can commit the counted
try before it answers the resident.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alerts.residents.models import Subscriber, VerificationCode

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CODE_DIGITS = 6


class CodeCheck(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"  # a try counted
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"  # MAX_ATTEMPTS wrong tries: ask for a new code
    NONE = "none"  # no code pending for this number


def code_hash(secret: str, subscriber_id: int, code: str) -> str:
    message = f"{subscriber_id}:{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def issue_code(session: Session, secret: str, subscriber: Subscriber, now: datetime) -> str:
    """A new SMS code for the subscriber's phone; any earlier code stops working."""
    session.execute(
        delete(VerificationCode).where(
            VerificationCode.subscriber_id == subscriber.id, VerificationCode.channel == "sms"
        )
    )
    code = new_code()
    session.add(
        VerificationCode(
            subscriber_id=subscriber.id,
            channel="sms",
            code_hash=code_hash(secret, subscriber.id, code),
            expires_at=now + CODE_TTL,
            attempts=0,
            created_at=now,
        )
    )
    session.flush()
    return code


def pending_code(session: Session, phone: str) -> tuple[Subscriber, VerificationCode] | None:
    """The newest code pending for ``phone`` and its subscriber."""
    row = session.execute(
        select(Subscriber, VerificationCode)
        .join(VerificationCode, VerificationCode.subscriber_id == Subscriber.id)
        .where(Subscriber.phone == phone, VerificationCode.channel == "sms")
        .order_by(VerificationCode.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def check_code(
    session: Session, secret: str, phone: str, code: str, now: datetime
) -> tuple[CodeCheck, Subscriber | None]:
    """Whether ``code`` is the one pending for ``phone``. A wrong code counts a try
    (flushed: the caller commits it even though it answers with an error)."""
    found = pending_code(session, phone)
    if found is None:
        return CodeCheck.NONE, None
    subscriber, pending = found
    if pending.attempts >= MAX_ATTEMPTS:
        return CodeCheck.EXHAUSTED, subscriber
    if pending.expires_at <= now:
        return CodeCheck.EXPIRED, subscriber
    typed = "".join(code.split())
    if not hmac.compare_digest(pending.code_hash, code_hash(secret, subscriber.id, typed)):
        pending.attempts += 1
        session.flush()
        return (
            CodeCheck.EXHAUSTED if pending.attempts >= MAX_ATTEMPTS else CodeCheck.WRONG
        ), subscriber
    session.delete(pending)
    session.flush()
    return CodeCheck.OK, subscriber
