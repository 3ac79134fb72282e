"""Limits against SMS pumping and abuse of the sign-up: counters in the database.

Each limit counts uses of a key (a phone number, a number prefix, a client IP,
the whole installation) in fixed windows of an hour. Counters live in the
``rate_counters`` table, so every web process and host shares them, on SQLite
(the embedded default) as on PostgreSQL; one ``INSERT ... ON CONFLICT DO
UPDATE ... RETURNING`` counts atomically. Keys are stored as HMACs under the
secret key: the table holds no phone number, address or email.

:func:`check` refuses before anything is sent; :func:`spend` counts a
verification message that is about to go. Both run in the request's
transaction, so a request that fails counts nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerts.db import is_postgres, rowcount
from alerts.errors import DomainError
from alerts.orm import table_of, utcnow
from alerts.residents.models import RateCounter

WINDOW_S = 3600
#: Codes or links one phone number or email address may be sent per hour.
PER_CONTACT = 5
#: Verification messages per client IP per hour (a household, an office behind one NAT).
PER_IP = 20
#: Verification SMS per number prefix (country code and the first digits) per hour: pumping
#: walks through a range of premium numbers.
PER_PREFIX = 30
PREFIX_DIGITS = 7  # "+467012" of "+46701234567"


class RateLimited(DomainError):
    """Too many requests; ``retry_after_s`` says when the next one may succeed."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, field: str | None = None) -> None:
        from alerts.errors import FieldError

        super().__init__(detail, errors=[FieldError(field, detail)] if field else None)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` uses of ``key`` per window; ``field`` names what the resident gave."""

    key: str
    limit: int
    field: str | None = None


def window_start(now: datetime) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % WINDOW_S, tz=now.tzinfo)


def hashed(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def verification_limits(
    *, ip: str | None, phone: str | None = None, email: str | None = None, budget: int
) -> list[Limit]:
    """The limits a verification message to ``phone``/``email`` from ``ip`` is under."""
    limits = [Limit("verify:all", budget)]
    if ip:
        limits.append(Limit(f"verify:ip:{ip}", PER_IP))
    if phone:
        limits.append(Limit(f"verify:phone:{phone}", PER_CONTACT, "phone"))
        limits.append(Limit(f"verify:prefix:{phone[:PREFIX_DIGITS]}", PER_PREFIX, "phone"))
    if email:
        limits.append(Limit(f"verify:email:{email}", PER_CONTACT, "email"))
    return limits


def _retry_after(now: datetime) -> int:
    end = window_start(now) + timedelta(seconds=WINDOW_S)
    return max(1, math.ceil((end - now).total_seconds()))


def _refuse(limit: Limit, now: datetime) -> RateLimited:
    retry = _retry_after(now)
    minutes = max(1, math.ceil(retry / 60))
    if limit.key == "verify:all":
        detail = _l(
            "Tjänsten har skickat så många koder den här timmen att den tar en paus. "
            "Försök igen om %(minutes)d minuter.",
            minutes=minutes,
        )
    else:
        detail = _l(
            "För många försök. Du kan be om en ny kod om %(minutes)d minuter.",
            minutes=minutes,
        )
    return RateLimited(str(detail), retry_after_s=retry, field=limit.field)


def check(session: Session, secret: str, limits: list[Limit], now: datetime | None = None) -> None:
    """Raise :class:`RateLimited` for the first limit already used up in this window."""
    moment = now or utcnow()
    start = window_start(moment)
    keys = {hashed(secret, limit.key): limit for limit in limits}
    counts = {
        key: count
        for key, count in session.execute(
            select(RateCounter.key, RateCounter.count).where(
                RateCounter.key.in_(list(keys)), RateCounter.window_start == start
            )
        )
    }
    for key, limit in keys.items():
        if counts.get(key, 0) >= limit.limit:
            raise _refuse(limit, moment)


def spend(session: Session, secret: str, limits: list[Limit], now: datetime | None = None) -> None:
    """Count one use against each limit; raise :class:`RateLimited` if one ran out meanwhile
    (two requests at once: the counter, not the earlier check, decides)."""
    moment = now or utcnow()
    start = window_start(moment)
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    for limit in limits:
        table = table_of(RateCounter)
        statement = (
            insert(table)
            .values(key=hashed(secret, limit.key), window_start=start, count=1)
            .on_conflict_do_update(
                index_elements=["key", "window_start"], set_={"count": table.c.count + 1}
            )
            .returning(table.c.count)
        )
        count = session.execute(statement).scalar_one()
        if count > limit.limit:
            raise _refuse(limit, moment)


def purge_counters(session: Session, now: datetime | None = None) -> int:
    """Delete counters of windows that have ended (a scheduler job)."""
    start = window_start(now or utcnow())
    return rowcount(session.execute(delete(RateCounter).where(RateCounter.window_start < start)))
