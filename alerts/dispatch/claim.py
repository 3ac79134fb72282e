"""Claiming due deliveries under a lease, and taking back leases of workers that died.

A claim is one short transaction: pick due ``pending`` rows (most severe
first), turn them into ``sending`` with our name and a lease expiry, and
commit. On PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``, so any number of
workers on any hosts take disjoint batches without waiting on each other; on
SQLite (one embedded dispatcher) the guarded UPDATE alone is enough. The row
is only ever changed by its lease holder afterwards (guarded by
``lease_owner``). A worker that dies leaves ``sending`` rows whose lease
expires; :func:`reclaim_expired` makes them ``pending`` again.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    bindparam,
    case,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, aliased

from alerts.db import is_postgres, rowcount
from alerts.dispatch.exercise_models import ExerciseRecipient
from alerts.dispatch.models import Delivery, DeliveryStatus, FanoutJob, FanoutState
from alerts.dispatch.states import notice_states, stale_reason
from alerts.notices.models import Notice, NoticeRevision, RevisionState
from alerts.orm import table_of, utcnow
from alerts.residents.models import Subscriber, wants_channel

logger = logging.getLogger(__name__)

D = DeliveryStatus


class Claimed(NamedTuple):
    """One delivery a worker holds the lease of, with what it needs to send it.

    A named tuple, not a dataclass: a claim makes one per row, and a frozen
    dataclass's ``__init__`` costs several times a tuple's.
    """

    id: int
    notice_id: uuid.UUID
    revision_id: int
    revision_number: int
    subscriber_id: int
    channel: str
    attempt: int
    address: str
    language: str
    manage_version: int = 1
    # A training-mode delivery to a test-group member (alerts.dispatch.exercise).
    exercise: bool = False


def _blocked_by_earlier() -> ColumnElement[bool]:
    """True for a row whose subscriber still has an unfinished earlier revision of the notice.

    This is what keeps an update or the all-clear from overtaking the original
    for the same person: it waits until the earlier send has an outcome.
    """
    # Through the earlier revisions' ids, so each look-up is one probe of the unique
    # (revision, subscriber, channel) index: by notice it walked every unsent row of the
    # notice, and while an update's fan-out is still dropping the original's unsent rows
    # there are 100,000 of them.
    older = aliased(NoticeRevision)
    earlier = aliased(Delivery)
    return exists().where(
        older.notice_id == Delivery.notice_id,
        older.number < Delivery.revision_number,
        earlier.revision_id == older.id,
        earlier.subscriber_id == Delivery.subscriber_id,
        earlier.channel == Delivery.channel,
        earlier.status.in_([D.PENDING, D.SENDING]),
    )


def _superseded_revisions() -> Select[int]:
    """Revisions whose notice has a newer revision still fanning out: their pending rows
    are dropped by that fan-out, chunk by chunk. Usually none."""
    newer = aliased(FanoutJob)
    return select(FanoutJob.revision_id).where(
        exists().where(
            newer.notice_id == FanoutJob.notice_id,
            newer.revision_number > FanoutJob.revision_number,
            newer.state.in_([FanoutState.PENDING, FanoutState.EXPANDING]),
        )
    )


def being_superseded(session: Session) -> list[int]:
    """The revisions of :func:`_superseded_revisions` (one small query)."""
    return list(session.scalars(_superseded_revisions()))


#: What a claim hands back per row; the statements below select exactly these labels.
_CLAIMED_COLUMNS = (
    "id",
    "notice_id",
    "revision_id",
    "revision_number",
    "subscriber_id",
    "channel",
    "attempts",
    "priority",
)
#: How many of them are :class:`Claimed`'s first fields (id to attempts), in its order.
_CLAIMED_HEAD = 7


@functools.cache
def _pick() -> Select[int]:
    """The due pending rows a claim takes, most urgent first (``:now``, ``:limit``).

    Built once: the aliases and the ORM's adaptation of them were a sixth of a
    claim's time when the statement was built for every claim.
    """
    # An update's fan-out drops the original's unsent rows chunk by chunk; until it has,
    # they would stand in front of the update's rows (older, as urgent), and each claim
    # would only settle a batch of them as superseded. NOT IN an uncorrelated subquery:
    # evaluated once per claim (a hashed subplan on PostgreSQL), usually empty.
    return (
        select(Delivery.id)
        .where(
            Delivery.status == D.PENDING,
            Delivery.not_before <= bindparam("now", type_=Delivery.not_before.type),
            or_(Delivery.revision_number == 1, ~_blocked_by_earlier()),
            Delivery.revision_id.not_in(_superseded_revisions().scalar_subquery()),
        )
        # Not by id as well: (status, priority, not_before) is the index's order, so
        # PostgreSQL walks the index instead of sorting every pending row.
        .order_by(Delivery.priority, Delivery.not_before)
        .limit(bindparam("limit", type_=Integer()))
    )


def _lease_values() -> dict[str, Any]:
    return {
        "status": D.SENDING,
        "lease_owner": bindparam("owner", type_=Delivery.lease_owner.type),
        "lease_expires_at": bindparam("expires", type_=Delivery.lease_expires_at.type),
        "attempts": Delivery.attempts + 1,
        "updated_at": bindparam("now", type_=Delivery.updated_at.type),
    }


def _with_recipients(claimed: FromClause) -> Select[Any]:
    """The claimed rows with their recipient's contact details, most urgent first.

    :func:`claim_batch` unpacks the columns in this order.
    """
    return (
        select(
            *(claimed.c[name] for name in _CLAIMED_COLUMNS),
            # Columns, not Subscriber objects: building an ORM object per row made
            # the claim a third of the dispatcher's main thread.
            Subscriber.id.label("found"),
            Subscriber.phone,
            Subscriber.email,
            Subscriber.language,
            Subscriber.manage_version,
            case(
                (claimed.c.channel == "sms", wants_channel("sms")), else_=wants_channel("email")
            ).label("wanted"),
            # Exercise rows name a test-group recipient by its negative id.
            ExerciseRecipient.id.label("rehearsed"),
            ExerciseRecipient.phone.label("exercise_phone"),
            ExerciseRecipient.email.label("exercise_email"),
            ExerciseRecipient.language.label("exercise_language"),
        )
        .select_from(claimed)
        .outerjoin(Subscriber, Subscriber.id == claimed.c.subscriber_id)
        .outerjoin(ExerciseRecipient, ExerciseRecipient.id == -claimed.c.subscriber_id)
        .order_by(claimed.c.priority, claimed.c.id)
    )


@functools.cache
def _claim_postgres() -> Select[Any]:
    """Pick, lease and read the claimed rows with their recipients in one statement.

    One round trip instead of three: the picked rows are locked (``FOR UPDATE
    SKIP LOCKED``), so they are still pending when the UPDATE in the same
    statement takes them.
    """
    table = table_of(Delivery)
    picked = _pick().with_for_update(skip_locked=True, of=Delivery).cte("picked")
    claimed = (
        update(table)
        .where(table.c.id.in_(select(picked.c.id)))
        .values(**_lease_values())
        .returning(*(table.c[name] for name in _CLAIMED_COLUMNS))
        .cte("claimed")
    )
    return _with_recipients(claimed)


#: Planner settings for the claim, in its own transaction (SET LOCAL).
#: The planner prices the NOT EXISTS per pending row, so with 100,000 pending the
#: estimate passes jit_above_cost and every claim compiled the query (~200 ms of LLVM
#: for a 1 ms index walk). A claim is short OLTP: never worth JIT. Right after a big
#: fan-out, before autovacuum has analysed the new rows, the planner guessed a dozen
#: pending rows and sorted all 100,000 (~80 ms, on disk), in the path of the first SMS.
#: Walking the claim index in order is always right for "the first N of a queue".
_CLAIM_PLANNER = sql_text(
    "SET LOCAL jit = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"
)


def _claim_rows(
    session: Session, owner: str, limit: int, lease_s: float, now: datetime
) -> Sequence[Any]:
    params = {
        "now": now,
        "limit": limit,
        "owner": owner,
        "expires": now + timedelta(seconds=lease_s),
    }
    # On the session's connection, not through the ORM: the statements select columns, and
    # the ORM's compile and result steps were a sixth of a worker's main thread.
    connection = session.connection()
    if is_postgres(session):
        connection.execute(_CLAIM_PLANNER)
        return connection.execute(_claim_postgres(), params).all()
    # SQLite (one embedded dispatcher) has no row locks: the guarded UPDATE is what makes
    # a claim exclusive, and no UPDATE in a WITH clause: pick, lease, then read.
    ids = connection.execute(_pick(), params).scalars().all()
    if not ids:
        return []
    table = table_of(Delivery)
    connection.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c.status == D.PENDING)
        .values(**_lease_values()),
        params,
    )
    leased = (
        select(*(table.c[name] for name in _CLAIMED_COLUMNS))
        .where(table.c.id.in_(ids), table.c.status == D.SENDING, table.c.lease_owner == owner)
        .subquery("claimed")
    )
    return connection.execute(_with_recipients(leased)).all()


def claim_batch(
    session: Session,
    owner: str,
    limit: int,
    *,
    lease_s: float,
    now: datetime | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries for ``owner``; the caller commits.

    Deliveries that must not go out any more (notice expired or superseded,
    subscriber opted out meanwhile) are settled here instead of returned.
    """
    now = now or utcnow()
    rows = _claim_rows(session, owner, limit, lease_s, now)
    if not rows:
        return []
    states = notice_states(session, {row.notice_id for row in rows})
    claimed: list[Claimed] = []
    settle: dict[int, tuple[str, str, str]] = {}
    # Per (notice, revision) rather than per row: a claim's rows are nearly all of one.
    reasons: dict[tuple[uuid.UUID, int], str | None] = {}
    for row in rows:
        # Unpacked, not read by name: this loop runs for every message sent. The first
        # columns are Claimed's first fields, in its order.
        head = row[:_CLAIMED_HEAD]
        delivery_id, notice_id, _, revision_number, subscriber_id, channel, _ = head
        (
            _priority,
            found,
            phone,
            email,
            language,
            manage_version,
            wanted,
            rehearsed,
            exercise_phone,
            exercise_email,
            exercise_language,
        ) = row[_CLAIMED_HEAD:]
        exercise = subscriber_id < 0
        if exercise:  # a test-group member's copy: no notice state or consent applies
            if rehearsed is None:
                settle[delivery_id] = (D.DROPPED, "erased", "not sent: the exercise was deleted")
                continue
            phone, email, language = exercise_phone, exercise_email, exercise_language
            manage_version = 1
        else:
            key = (notice_id, revision_number)
            if key in reasons:
                reason = reasons[key]
            else:
                reason = reasons[key] = stale_reason(states.get(notice_id), revision_number, now)
            if reason is not None:
                settle[delivery_id] = (D.DROPPED, reason, f"not sent: {reason}")
                continue
            if found is None:  # erased while the row was being written
                settle[delivery_id] = (D.DROPPED, "erased", "not sent: the resident was erased")
                continue
            if not wanted:
                settle[delivery_id] = (
                    D.OPTED_OUT,
                    "opted_out",
                    "the subscriber no longer wants this",
                )
                continue
        claimed.append(
            Claimed._make(
                (
                    *head,
                    (phone if channel == "sms" else email) or "",
                    language or "sv",
                    manage_version or 1,
                    exercise,
                )
            )
        )
    if settle:
        _settle(session, owner, settle, now)
    return claimed


def _settle(
    session: Session, owner: str, settle: dict[int, tuple[str, str, str]], now: datetime
) -> None:
    """Close claimed rows that are not to be sent, one executemany for them all."""
    table = table_of(Delivery)
    c = table.c
    session.connection().execute(
        update(table)
        .where(c.id == bindparam("b_id"), c.lease_owner == owner)
        .values(
            status=bindparam("b_status", type_=c.status.type),
            error_code=bindparam("b_code", type_=c.error_code.type),
            error=bindparam("b_error", type_=c.error.type),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        ),
        [
            {"b_id": delivery_id, "b_status": status, "b_code": code, "b_error": text}
            for delivery_id, (status, code, text) in settle.items()
        ],
    )
    logger.info("claim: %d deliveries settled without sending", len(settle))


def renew_leases(
    session: Session, owner: str, *, lease_s: float, now: datetime | None = None
) -> int:
    """Push back the expiry of every lease ``owner`` holds (a live worker's heartbeat)."""
    now = now or utcnow()
    result = session.execute(
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status == D.SENDING)
        .values(lease_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def reclaim_expired(session: Session, *, max_attempts: int = 6, now: datetime | None = None) -> int:
    """Give the deliveries of dead workers (lease expired) back to the queue.

    A delivery that has already used all its attempts fails instead, so a
    message that kills workers cannot kill them forever. Safe to run anywhere,
    any number of times.
    """
    now = now or utcnow()
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == D.SENDING, Delivery.lease_expires_at < now)
        .values(
            status=case((Delivery.attempts >= max_attempts, D.FAILED), else_=D.PENDING),
            error_code="lease_expired",
            error="the worker sending it stopped before recording an outcome",
            # An early receipt may have stored the dead attempt's SID; the next attempt
            # gets its own, whose receipts must not look stale.
            provider_ref=None,
            lease_owner=None,
            lease_expires_at=None,
            not_before=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    count = rowcount(result)
    if count:
        logger.warning("reclaimed %d deliveries whose lease expired", count)
    return count


def drop_stale(session: Session, *, now: datetime | None = None) -> int:
    """Drop unsent deliveries of notices that expired or were superseded. Idempotent."""
    now = now or utcnow()
    ended = select(Notice.id).where(
        or_(
            Notice.status == "expired",
            (Notice.expires.is_not(None))
            & (Notice.expires <= now)
            & (Notice.status != "cancelled"),
        )
    )
    expired = (
        rowcount(
            session.execute(
                update(Delivery)
                .where(Delivery.status == D.PENDING, Delivery.notice_id.in_(ended))
                .values(
                    status=D.DROPPED,
                    error_code="expired",
                    error="not sent: expired",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        )
        or 0
    )
    newer = aliased(NoticeRevision)
    superseded = (
        rowcount(
            session.execute(
                update(Delivery)
                .where(
                    Delivery.status == D.PENDING,
                    exists().where(
                        newer.notice_id == Delivery.notice_id,
                        newer.number > Delivery.revision_number,
                        newer.state == RevisionState.PUBLISHED,
                    ),
                )
                .values(
                    status=D.DROPPED,
                    error_code="superseded",
                    error="not sent: superseded",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        )
        or 0
    )
    return expired + superseded
