"""The console's second factor: time-based one-time codes (TOTP, RFC 6238) from an app.

An operator enrols from their account page (:func:`start_enrolment` makes a secret, shown
as an ``otpauth://`` URI, a QR code and in groups for typing), and the first code they
type confirms it (:func:`confirm_enrolment`). From then on the console asks for a code
after the password (:func:`check_login_code`). A code is accepted one step either side
of now (clock drift) and only once: the step it belonged to is stored, and no code of
that step or an earlier one is accepted again. Wrong codes are throttled like wrong
passwords, per (client, account).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

import pyotp
import segno
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.errors import InvalidTransition, ValidationFailed
from alerts.i18n import N_
from alerts.operators.auth import LOGIN_WINDOW, TooManyAttempts, login_delay_s
from alerts.operators.models import LoginAttempt, Operator
from alerts.orm import utcnow

STEP_S = 30
#: Steps either side of now a code may belong to (a phone's clock a little off).
DRIFT_STEPS = 1


def _throttle_key(operator: Operator, client: str) -> str:
    return "totp:" + hashlib.sha256(f"{client}\n{operator.id}".encode()).hexdigest()[:40]


def matching_step(
    secret: str, code: str, *, after: int | None, now: float | None = None
) -> int | None:
    """The time step ``code`` belongs to, if it is right for a step near now and later than
    ``after`` (the last step used); otherwise None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = int((time.time() if now is None else now) // STEP_S)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _check(session: Session, operator: Operator, secret: str, code: str, client: str) -> bool:
    """Whether ``code`` is right (throttled; a right code is used up)."""
    key = _throttle_key(operator, client)
    now = utcnow()
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.key == key, LoginAttempt.at > now - LOGIN_WINDOW
        )
    ).one()
    wait = login_delay_s(int(count or 0))
    if last is not None and wait and (remaining := (last - now).total_seconds() + wait) > 0:
        raise TooManyAttempts(retry_after_s=math.ceil(remaining))
    step = matching_step(secret, code, after=operator.totp_last_step)
    if step is None:
        session.add(LoginAttempt(key=key, at=now))
        session.flush()
        return False
    operator.totp_last_step = step
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
    session.flush()
    return True


def check_login_code(session: Session, operator: Operator, code: str, *, client: str) -> bool:
    """The second step of a login: whether ``code`` is the operator's current one."""
    if not operator.totp_enabled or operator.totp_secret is None:
        return False
    return _check(session, operator, operator.totp_secret, code, client)


def start_enrolment(session: Session, operator: Operator) -> str:
    """A new secret for ``operator``, not in force until a code confirms it."""
    if operator.totp_enabled:
        raise InvalidTransition(
            N_("Tvåstegsverifiering är redan på; en administratör kan återställa den")
        )
    operator.totp_secret = pyotp.random_base32()
    operator.totp_enabled_at = None
    operator.totp_last_step = None
    session.flush()
    return operator.totp_secret


def confirm_enrolment(session: Session, operator: Operator, code: str, *, client: str) -> None:
    """Put the pending secret in force when ``code`` matches it; else ValidationFailed."""
    if operator.totp_enabled or operator.totp_secret is None:
        raise InvalidTransition(N_("Starta registreringen först"))
    if not _check(session, operator, operator.totp_secret, code, client):
        raise ValidationFailed.on(
            "code", N_("Koden stämmer inte. Skriv de sex siffrorna som appen visar nu.")
        )
    operator.totp_enabled_at = utcnow()
    session.flush()


def reset(session: Session, operator: Operator) -> None:
    """Turn the operator's second factor off (an admin's reset; they enrol again)."""
    operator.totp_secret = None
    operator.totp_enabled_at = None
    operator.totp_last_step = None
    session.flush()


def provisioning_uri(operator: Operator, issuer: str) -> str:
    assert operator.totp_secret is not None
    return pyotp.TOTP(operator.totp_secret, interval=STEP_S).provisioning_uri(
        name=operator.email, issuer_name=issuer
    )


def grouped(secret: str) -> str:
    """``ABCD EFGH …``: the secret in groups of four, for typing into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str, title: str) -> str:
    """The URI as an inline SVG QR code (no script, no image request: CSP-friendly)."""
    return segno.make(uri, error="m").svg_inline(scale=4, title=title, border=2)
