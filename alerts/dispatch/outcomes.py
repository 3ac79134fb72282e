"""Recording what happened to a send: accepted, retry later, failed, opted out.

Every write is guarded by the lease (``lease_owner``) for results a worker
reports, and by a monotonic status order for provider receipts, so a late or
repeated status callback, or a worker whose lease was taken back, changes
nothing it should not.

A receipt can overtake the worker: Twilio may call back before the worker has
recorded that Twilio accepted the message, while the row is still ``sending``.
The outcome is the same in either order. An "undelivered" for a transient
reason then leaves the row ``sending`` with the receipt's SID and error code
(:func:`_awaits_requeue`), and the worker's record queues it again or fails it;
any other receipt moves the row on, and the record keeps what it said.
"""

from __future__ import annotations

import functools
import logging
import random
from collections import Counter as TallyCounter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Update,
    and_,
    bindparam,
    case,
    false,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from alerts.config import Settings
from alerts.db import is_postgres
from alerts.dispatch.claim import Claimed
from alerts.dispatch.messages import parse_reference
from alerts.dispatch.models import Delivery, DeliveryStatus, OutboxMessage
from alerts.dispatch.states import notice_states, stale_reason
from alerts.orm import table_of, utcnow
from alerts.residents.optout import opt_out
from channels.base import DeliveryResult, Message, Outcome, Recipient
from channels.providers.twilio import (
    TRANSIENT_RECEIPT_ERROR_CODES,
    is_opt_out_error,
    map_status_callback,
)

logger = logging.getLogger(__name__)

D = DeliveryStatus

#: Monotonic order of statuses: a receipt may only move a delivery to a higher rank.
RANK = {
    D.PENDING: 0,
    D.SENDING: 0,
    D.ACCEPTED: 1,
    D.SENT: 2,
    D.DELIVERED: 3,
    D.UNDELIVERED: 3,
    D.FAILED: 3,
    D.DROPPED: 3,
    D.OPTED_OUT: 3,
}

#: Statuses a receipt sets with its reason (error_code, error), which a worker's record keeps.
EXPLAINED = (D.UNDELIVERED, D.FAILED, D.OPTED_OUT)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and jitter."""

    max_attempts: int
    base_s: float
    max_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.max_attempts, settings.retry_base_s, settings.retry_max_s)

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: base·2^(attempt-1), capped, "equal jitter".

        Half the delay is fixed, half random, so a burst of 429s spreads out
        instead of coming back in lockstep; a provider's Retry-After is a floor.
        """
        delay = min(self.max_s, self.base_s * (2 ** max(0, attempt - 1)))
        delay = delay / 2 + random.uniform(0, delay / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_s))
        return delay

    def after_transient_receipt(self, attempt: int, now: datetime) -> tuple[str, datetime, str]:
        """(status, not_before, error prefix) for a send Twilio reported undelivered, transiently.

        Pending again after the backoff, or failed when ``attempt`` was the last.
        """
        if attempt >= self.max_attempts:
            return D.FAILED, now, f"gave up after {attempt} attempts: "
        return D.PENDING, now + timedelta(seconds=self.delay_s(attempt)), ""


@dataclass(frozen=True)
class SendReport:
    """A worker's account of one send: which lease, what came back, what was composed."""

    claimed: Claimed
    result: DeliveryResult
    recipient: Recipient | None = None
    message: Message | None = None
    local_only: bool = False


def apply_reports(
    session: Session,
    owner: str,
    reports: list[SendReport],
    policy: RetryPolicy,
    *,
    now: datetime | None = None,
    tally: TallyCounter[tuple[str, str]] | None = None,
) -> dict[str, int]:
    """Record a batch of outcomes; the caller commits. Returns counts by outcome.

    ``lost`` counts results whose lease had been taken back (the row was
    reclaimed after this worker was presumed dead): the message may then go
    out twice, which the log says. ``tally``, when given, is incremented by
    (channel, outcome) for the metrics.
    """
    tally = tally if tally is not None else TallyCounter()
    now = now or utcnow()
    counts: dict[str, int] = {}
    accepted = [r for r in reports if r.result.outcome is Outcome.ACCEPTED]
    if accepted:
        matched = _record_accepted(session, owner, accepted, now)
        if matched is None or matched < 0 or matched < len(accepted):
            # Fewer rows than sends: leases taken back, or rows a receipt marked.
            requeued = _requeue_marked(session, owner, accepted, policy, now)
            if matched is not None and matched >= 0:
                matched += requeued
        counts["accepted"] = len(accepted)
        tally.update((r.claimed.channel, "accepted") for r in accepted)
        if matched is not None and 0 <= matched < len(accepted):
            counts["lost"] = len(accepted) - matched
            channels = {r.claimed.channel for r in accepted}
            tally[(channels.pop() if len(channels) == 1 else "mixed", "lost")] += (
                len(accepted) - matched
            )
            logger.warning(
                "%d sent deliveries had lost their lease (reclaimed): possible duplicates",
                len(accepted) - matched,
            )
        locals_ = [r for r in accepted if r.local_only and r.message is not None]
        if locals_:
            session.add_all(
                OutboxMessage(
                    delivery_id=r.claimed.id,
                    channel=r.claimed.channel,
                    recipient=r.recipient.address if r.recipient else r.claimed.address,
                    subject=r.message.subject[:300],
                    body=r.message.body,
                    html=r.message.html,
                    created_at=now,
                )
                for r in locals_
                if r.message is not None
            )
    others = [r for r in reports if r.result.outcome is not Outcome.ACCEPTED]
    if others:
        states = notice_states(session, {r.claimed.notice_id for r in others})
    for report in others:
        claimed, result = report.claimed, report.result
        values: dict[str, object] = {
            "error_code": (result.error_code or "")[:40] or None,
            "error": result.error,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if result.outcome is Outcome.RETRY:
            reason = stale_reason(states.get(claimed.notice_id), claimed.revision_number, now)
            if reason is not None:
                values.update(status=D.DROPPED, error=f"not retried: {reason} ({result.error})")
                key = "dropped"
            elif claimed.attempt >= policy.max_attempts:
                values.update(
                    status=D.FAILED,
                    error=f"gave up after {claimed.attempt} attempts: {result.error}",
                )
                key = "failed"
            else:
                delay = policy.delay_s(claimed.attempt, result.retry_after_s)
                values.update(
                    status=D.PENDING,
                    not_before=now + timedelta(seconds=delay),
                    # An early receipt may have set it; the next attempt's receipts would
                    # then look stale.
                    provider_ref=None,
                )
                key = "retry"
        elif result.outcome is Outcome.OPTED_OUT:
            values["status"] = D.OPTED_OUT
            opt_out(
                session,
                channel=claimed.channel,
                subscriber_id=claimed.subscriber_id,
                now=now,
                source="provider",
            )
            key = "opted_out"
        else:
            values["status"] = D.FAILED
            key = "failed"
        session.execute(
            update(Delivery)
            .where(Delivery.id == claimed.id, Delivery.lease_owner == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        counts[key] = counts.get(key, 0) + 1
        tally[(claimed.channel, key)] += 1
    return counts


def _record_accepted(
    session: Session, owner: str, accepted: list[SendReport], now: datetime
) -> int | None:
    """Mark accepted sends accepted under ``owner``'s lease; how many rows that matched.

    A receipt may have arrived first. A transient "undelivered" for this very
    send left the row sending and marked: it is skipped here and queued again
    by the caller. Any other receipt moved it further: its status and the
    reason it gave are kept.
    """
    postgres = is_postgres(session)
    statement = _accepted_update(postgres)
    connection = session.connection()
    if postgres:
        ids = [r.claimed.id for r in accepted]
        refs = [r.result.provider_ref for r in accepted]
        batch = {"b_ids": ids, "b_refs": refs, "b_owner": owner, "b_now": now}
        return connection.execute(statement, batch).rowcount
    params = [
        {"b_id": r.claimed.id, "b_ref": r.result.provider_ref, "b_owner": owner, "b_now": now}
        for r in accepted
    ]
    return connection.execute(statement, params).rowcount


@functools.cache
def _accepted_update(postgres: bool) -> Update:
    """:func:`_record_accepted`'s UPDATE, built once: it runs for every batch, and building
    it and its cache key took 0.9 ms, two fifths of recording a batch of 200."""
    table = table_of(Delivery)
    c = table.c
    if postgres:
        # One statement joined to the batch as two arrays: an executemany ran an UPDATE
        # per row, and parsing, planning and sending each was most of recording a batch.
        values = (
            func.unnest(
                bindparam("b_ids", type_=postgresql.ARRAY(c.id.type)),
                bindparam("b_refs", type_=postgresql.ARRAY(c.provider_ref.type)),
            )
            .table_valued("id", "ref")
            .render_derived()
        )
        ref: ColumnElement[str | None] = values.c.ref
        match: ColumnElement[bool] = c.id == values.c.id
    else:
        ref = bindparam("b_ref", type_=c.provider_ref.type)
        match = c.id == bindparam("b_id")
    marked = func.coalesce(
        and_(
            c.status == _inline(D.SENDING),
            c.provider_ref == ref,
            c.error_code.in_([_inline(code) for code in sorted(TRANSIENT_RECEIPT_ERROR_CODES)]),
        ),
        false(),
    )
    explained = c.status.in_([_inline(status) for status in EXPLAINED])
    now = bindparam("b_now", type_=c.updated_at.type)
    return (
        update(table)
        .where(match, c.lease_owner == bindparam("b_owner", type_=c.lease_owner.type), ~marked)
        .values(
            status=case((c.status == D.SENDING, D.ACCEPTED), else_=c.status),
            provider_ref=ref,
            error_code=case((explained, c.error_code), else_=None),
            error=case((explained, c.error), else_=None),
            lease_owner=None,
            lease_expires_at=None,
            sent_at=now,
            updated_at=now,
        )
    )


def _inline(value: str) -> ColumnElement[str]:
    """One of our own constants as an SQL string literal, written into the statement.

    Not a bind parameter: an executemany sends every bind parameter again with
    each row, and the accepted-sends UPDATE runs for thousands of rows a second.
    """
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return literal_column(f"'{value}'")


def _requeue_marked(
    session: Session, owner: str, accepted: list[SendReport], policy: RetryPolicy, now: datetime
) -> int:
    """Queue again (or fail) accepted sends an early transient receipt marked; returns how many.

    They are the rows of ``accepted`` still under ``owner``'s lease after the
    accepted-sends UPDATE, which skipped them. One query for the batch, and one
    UPDATE statement for the rows it finds.
    """
    table = table_of(Delivery)
    c = table.c
    attempts = dict(
        session.execute(
            select(c.id, c.attempts).where(
                c.id.in_([r.claimed.id for r in accepted]), c.lease_owner == owner
            )
        ).all()
    )
    if not attempts:
        return 0
    params = []
    for report in accepted:
        if report.claimed.id not in attempts:
            continue
        status, not_before, gave_up = policy.after_transient_receipt(
            attempts[report.claimed.id], now
        )
        params.append(
            {
                "b_id": report.claimed.id,
                "b_status": status,
                "b_not_before": not_before,
                # A send that goes again gets a new SID; a failed one keeps its own.
                "b_ref": None if status == D.PENDING else report.result.provider_ref,
                "b_gave_up": gave_up,
            }
        )
    statement = (
        update(table)
        .where(c.id == bindparam("b_id"), c.lease_owner == owner)
        .values(
            status=bindparam("b_status", type_=c.status.type),
            not_before=bindparam("b_not_before", type_=c.not_before.type),
            provider_ref=bindparam("b_ref", type_=c.provider_ref.type),
            error=bindparam("b_gave_up", type_=c.error.type) + c.error,
            lease_owner=None,
            lease_expires_at=None,
            sent_at=now,
            updated_at=now,
        )
    )
    session.connection().execute(statement, params)
    logger.info("%d accepted sends were undelivered (transient) before recorded", len(params))
    return len(params)


def _awaits_requeue(delivery: Delivery) -> bool:
    """Whether a transient "undelivered" for the current send came before the worker's record.

    Such a row is still ``sending``, with the receipt's SID and error code; the
    worker's record (:func:`apply_reports`) then queues it again or fails it.
    """
    return (
        delivery.status == D.SENDING
        and delivery.provider_ref is not None
        and delivery.error_code in TRANSIENT_RECEIPT_ERROR_CODES
    )


def apply_status_callback(
    session: Session,
    params,
    *,
    reference: str | None,
    policy: RetryPolicy,
    now: datetime | None = None,
) -> str:
    """Apply a Twilio status callback; returns what happened.

    "unknown" (no such delivery), "stale" (a receipt for an earlier attempt or
    another message), "ignored" (not newer than what we know: a replay or a
    late receipt), "retry" (undelivered for a transient reason: queued again,
    at once or when the worker records the send), or the new status ("failed"
    when a transient failure came on the last attempt).
    """
    now = now or utcnow()
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    status, error_code = map_status_callback(params)
    delivery: Delivery | None = None
    attempt: int | None = None
    parsed = parse_reference(reference or "")
    if parsed is not None:
        delivery_id, attempt = parsed
        delivery = session.get(Delivery, delivery_id, with_for_update=True)
    elif sid:
        delivery = session.scalar(
            select(Delivery).where(Delivery.provider_ref == sid).with_for_update()
        )
        attempt = delivery.attempts if delivery is not None else None
    if delivery is None or delivery.channel != "sms":
        return "unknown"
    if attempt != delivery.attempts or (delivery.provider_ref and delivery.provider_ref != sid):
        return "stale"
    if status is None:
        return "ignored"
    known = RANK[D.UNDELIVERED] if _awaits_requeue(delivery) else RANK.get(D(delivery.status), 0)
    if RANK.get(D(status), 0) <= known:
        return "ignored"
    transient = status in (D.UNDELIVERED, D.FAILED) and error_code in TRANSIENT_RECEIPT_ERROR_CODES
    if transient and delivery.status == D.PENDING:
        return "ignored"  # this attempt is queued again already: a replay
    delivery.provider_ref = delivery.provider_ref or sid or None
    delivery.updated_at = now
    if status in (D.UNDELIVERED, D.FAILED) and error_code:
        delivery.error_code = error_code[:40]
        delivery.error = f"Twilio {status} ({error_code})"
        if is_opt_out_error(error_code):
            delivery.status = D.OPTED_OUT
            opt_out(
                session,
                channel="sms",
                subscriber_id=delivery.subscriber_id,
                now=now,
                source="provider",
            )
            return D.OPTED_OUT
        if transient:
            return _requeue_after_receipt(session, delivery, policy, now)
    delivery.status = D(status)
    if status == D.DELIVERED:
        delivery.error_code = delivery.error = None
    return status


def _requeue_after_receipt(
    session: Session, delivery: Delivery, policy: RetryPolicy, now: datetime
) -> str:
    """Queue a send again that Twilio reported undelivered for a transient reason.

    As :func:`apply_reports` does for a receipt that came first: pending after
    the backoff, or failed on the last attempt; and dropped when the notice has
    since expired or been superseded.
    """
    if delivery.status == D.SENDING:
        # The worker holds the lease and has not recorded the send yet: leave the row
        # to it, marked (see _awaits_requeue). A claim drops it if it has gone stale.
        return "retry" if delivery.attempts < policy.max_attempts else D.FAILED
    state = notice_states(session, [delivery.notice_id]).get(delivery.notice_id)
    reason = stale_reason(state, delivery.revision_number, now)
    if reason is not None:
        delivery.status = D.DROPPED
        delivery.error = f"not retried: {reason} ({delivery.error})"
        return D.DROPPED
    again, not_before, gave_up = policy.after_transient_receipt(delivery.attempts, now)
    delivery.status = D(again)
    delivery.error = gave_up + (delivery.error or "")
    if again == D.PENDING:
        delivery.provider_ref = None
        delivery.not_before = not_before
        return "retry"
    return again
