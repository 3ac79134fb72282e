"""Telling approvers that a revision waits for them, by email and SMS, and making sure they
are told.

When a revision is submitted (a draft, a proposed update, an all-clear), the submitting
transaction writes an :class:`ApprovalMessage` per approver and channel
(:func:`on_revision_submitted`): email to every active approver and administrator who did
not write it, SMS to those of them with a mobile number. A submit that commits can
therefore not lose its approval messages, whatever the mail server or Twilio does at
that moment.

:func:`send_due` sends them: right after the commit, the console and the API
(:func:`tell_waiting`, so approvers are told at once), and the scheduler at every tick
for what failed meanwhile. A row is taken with a guarded update and committed before
the provider is called, so no transaction is held across a slow provider (on SQLite
that would stall every writer) and two senders never both send it. A provider that
fails for a while is tried again with a doubling wait; a revision no longer waiting
(approved, rejected, withdrawn) is not announced any more. Twilio's receipts for the SMS
move the row forward (:func:`apply_receipt`), and the console shows per approver what
became of each message (:func:`told_about`).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.config import Settings, settings
from alerts.db import rowcount
from alerts.dispatch.channels_config import email_factory, sms_factory
from alerts.dispatch.models import ApprovalMessage, OutboxMessage
from alerts.dispatch.models import ApprovalMessageStatus as A
from alerts.extensions import db
from alerts.notices.models import Notice, NoticeRevision, RevisionState
from alerts.notices.operations import revision_authors
from alerts.operators.models import Operator, Role
from alerts.orm import utcnow
from channels.base import DeliveryResult, Message, Outcome, PushChannel, Recipient
from channels.providers.twilio import map_status_callback

logger = logging.getLogger(__name__)

#: Sends of one message before it counts as failed; the waits between them double from
#: FIRST_RETRY_S (30 s, 1, 2, 4 min: about eight minutes in all).
MAX_ATTEMPTS = 5
FIRST_RETRY_S = 30.0
#: A row still "sending" after this long belongs to a sender that died: send it again.
STUCK_AFTER = timedelta(minutes=5)
#: The reference of an approval SMS: Twilio's receipt comes back with it.
REFERENCE_PREFIX = "approval-"

#: How far each status has come; a receipt never moves a message back.
RANK = {
    A.PENDING: 0,
    A.SENDING: 1,
    A.ACCEPTED: 2,
    A.SENT: 3,
    A.DELIVERED: 4,
    A.UNDELIVERED: 4,
    A.FAILED: 4,
}


def approvers_of(session: Session, notice: Notice, revision: NoticeRevision) -> list[Operator]:
    """Who may approve ``revision``: active approvers and administrators who did not write,
    edit or submit it (the two-person rule)."""
    authors = revision_authors(session, notice, revision)
    operators = session.scalars(
        select(Operator)
        .where(Operator.active.is_(True), Operator.role.in_([Role.APPROVER, Role.ADMIN]))
        .order_by(Operator.id)
    )
    return [operator for operator in operators if operator.id not in authors]


def queue_for(
    session: Session, notice: Notice, revision: NoticeRevision, *, now: datetime | None = None
) -> list[ApprovalMessage]:
    """Write the approval messages of ``revision`` (email to every approver, SMS to those
    with a number) in the caller's transaction."""
    now = now or utcnow()
    rows = []
    for operator in approvers_of(session, notice, revision):
        contacts = [("email", operator.email)]
        if operator.phone:
            contacts.append(("sms", operator.phone))
        for channel, address in contacts:
            row = ApprovalMessage(
                notice_id=notice.id,
                revision_number=revision.number,
                operator_id=operator.id,
                channel=channel,
                address=address,
                status=A.PENDING,
                not_before=now,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            rows.append(row)
    session.flush()
    return rows


def on_revision_submitted(
    notice: Notice, *, session: Session, revision: NoticeRevision, **_: Any
) -> None:
    """Receiver of :data:`alerts.signals.revision_submitted`."""
    queue_for(session, notice, revision)


def tell_waiting(
    session: Session, sessions: Callable[[], Session], config: Settings, notice: Notice
) -> Counter[str]:
    """Send the approval messages of the revision of ``notice`` that waits for approval,
    once its submit has committed; how many ended in each status (none: nothing waits).
    What fails now waits for the scheduler's next try."""
    waiting = notice.working_revision
    if waiting is None or waiting.state != RevisionState.PENDING_APPROVAL:
        return Counter()
    ids = approval_message_ids(session, notice.id, waiting.number)
    return send_due(sessions, config, ids=ids) if ids else Counter()


def on_approval_requested(notice: Notice, **_: Any) -> None:
    """Receiver of :data:`alerts.signals.approval_requested`: tell the approvers at once.

    The submit has committed and its answer is on its way: a failure here is logged, not
    raised (the client would take an error for a submit that did not happen), and the
    scheduler sends what is still due.
    """
    assert db.sessionmaker is not None
    try:
        tell_waiting(db.session, db.sessionmaker, settings(), notice)
    except Exception:
        logger.exception(
            "telling the approvers of notice %s failed; the scheduler retries", notice.id
        )


@dataclass(frozen=True)
class _Outgoing:
    """One message taken for sending: what to send, composed before the commit."""

    id: int
    channel: str
    recipient: Recipient
    message: Message | None  # None: the revision no longer waits, drop it


def _texts(revision: NoticeRevision, base_url: str) -> tuple[str, str, str]:
    """(email subject, email body, SMS body) for ``revision``; both languages, since an
    operator's language is a browser setting, not something stored."""
    headline = (revision.texts.get("sv") or {}).get("headline", "")
    url = f"{base_url}/console/notices/{revision.notice_id}"
    subject = f"Väntar på godkännande / Waiting for approval: {headline}"
    body = (
        f"{headline}\n\n"
        f"Revision {revision.number} väntar på ditt godkännande. Granska och godkänn eller avslå:\n"
        f"Revision {revision.number} waits for your approval. Review, then approve or reject:\n"
        f"{url}\n"
    )
    sms = (
        f"Varsla: revision {revision.number} väntar på godkännande / waits for approval: "
        f"{headline[:80]}\n{url}"
    )
    return subject, body, sms


def _take(
    session: Session, config: Settings, ids: Collection[int] | None, now: datetime
) -> list[_Outgoing]:
    """Take due messages (all, or those of ``ids``) with a guarded update; the caller
    commits before sending."""
    query = select(ApprovalMessage).where(
        ApprovalMessage.status == A.PENDING, ApprovalMessage.not_before <= now
    )
    if ids is not None:
        query = query.where(ApprovalMessage.id.in_(list(ids)))
    taken = []
    for row in session.scalars(query.order_by(ApprovalMessage.id).limit(500)).all():
        won = session.execute(
            update(ApprovalMessage)
            .where(ApprovalMessage.id == row.id, ApprovalMessage.status == A.PENDING)
            .values(status=A.SENDING, attempts=ApprovalMessage.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(won) != 1:
            continue  # another sender took it first
        revision = session.scalar(
            select(NoticeRevision).where(
                NoticeRevision.notice_id == row.notice_id,
                NoticeRevision.number == row.revision_number,
            )
        )
        message = None
        if revision is not None and revision.state == RevisionState.PENDING_APPROVAL:
            subject, body, sms = _texts(revision, config.base_url)
            reference = f"{REFERENCE_PREFIX}{row.id}"
            message = (
                Message(body=sms, reference=reference)
                if row.channel == "sms"
                else Message(body=body, subject=subject, reference=reference)
            )
        taken.append(_Outgoing(row.id, row.channel, Recipient(address=row.address), message))
    return taken


def _send(config: Settings, taken: list[_Outgoing]) -> dict[int, DeliveryResult | None]:
    """Send what was taken, outside any transaction. None: kept in the local outbox (no
    provider configured) or dropped (the revision no longer waits)."""
    configured = {"sms": config.sms_configured, "email": config.email_configured}
    factories = {"sms": sms_factory(config), "email": email_factory(config)}
    providers: dict[str, PushChannel] = {}
    results: dict[int, DeliveryResult | None] = {}
    try:
        for outgoing in taken:
            if outgoing.message is None or not configured[outgoing.channel]:
                results[outgoing.id] = None
                continue
            provider = providers.get(outgoing.channel)
            if provider is None:
                provider = providers[outgoing.channel] = factories[outgoing.channel]()
            try:
                results[outgoing.id] = provider.send(outgoing.recipient, outgoing.message)
            except Exception as exc:  # a bug must not lose the other approvers' messages
                logger.exception("approval message %s failed", outgoing.id)
                results[outgoing.id] = DeliveryResult(
                    Outcome.RETRY, error_code="exception", error=repr(exc)
                )
    finally:
        for provider in providers.values():
            provider.close()
    return results


def _record(
    session: Session,
    taken: list[_Outgoing],
    results: Mapping[int, DeliveryResult | None],
    now: datetime,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for outgoing in taken:
        row = session.get(ApprovalMessage, outgoing.id)
        if row is None:  # the notice was deleted meanwhile
            continue
        result = results.get(outgoing.id)
        row.updated_at = now
        if outgoing.message is None:
            row.status = A.DROPPED
            row.error = "not sent: the revision no longer waits for approval"
        elif result is None:
            message = outgoing.message
            session.add(
                OutboxMessage(
                    channel=outgoing.channel,
                    recipient=row.address,
                    subject=message.subject,
                    body=message.body,
                )
            )
            row.status = A.OUTBOX
        elif result.outcome is Outcome.ACCEPTED:
            row.status = A.ACCEPTED
            row.provider_ref = result.provider_ref
            row.error_code = row.error = None
        else:
            row.error_code, row.error = result.error_code, result.error
            if result.outcome is Outcome.RETRY and row.attempts < MAX_ATTEMPTS:
                wait = max(FIRST_RETRY_S * 2 ** (row.attempts - 1), result.retry_after_s or 0)
                row.status = A.PENDING
                row.not_before = now + timedelta(seconds=wait)
                logger.warning(
                    "approval %s to operator %s failed (%s); trying again in %.0f s",
                    row.channel,
                    row.operator_id,
                    result.error_code,
                    wait,
                )
            else:
                row.status = A.FAILED
                logger.error(
                    "approval %s to operator %s failed for good: %s %s",
                    row.channel,
                    row.operator_id,
                    result.error_code,
                    result.error,
                )
        counts[str(row.status)] += 1
    return counts


def send_due(
    sessions: Callable[[], Session], config: Settings, *, ids: Collection[int] | None = None
) -> Counter[str]:
    """Send the due approval messages (all, or those of ``ids``) and answer how many ended
    in each status: take them in one transaction, send with none open, record the outcomes
    in another (``sessions`` makes each session)."""
    now = utcnow()
    with sessions() as session, session.begin():
        result = session.execute(
            update(ApprovalMessage)
            .where(
                ApprovalMessage.status == A.SENDING,
                ApprovalMessage.updated_at < now - STUCK_AFTER,
            )
            .values(status=A.PENDING, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if stuck := rowcount(result):
            logger.warning("%d approval messages were left sending by a sender that stopped", stuck)
        taken = _take(session, config, ids, now)
    if not taken:
        return Counter()
    results = _send(config, taken)
    with sessions() as session, session.begin():
        return _record(session, taken, results, utcnow())


def apply_receipt(session: Session, params: Mapping[str, Any], *, reference: str) -> str | None:
    """A Twilio receipt for an approval SMS: the new status, "ignored" (not newer than what
    is known), "unknown" (no such message), or None when ``reference`` is not ours."""
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    number = reference.removeprefix(REFERENCE_PREFIX)
    # Digits within an INTEGER id's range: anything else is no message of ours.
    valid = number.isascii() and number.isdigit() and len(number) <= 10 and 0 < int(number) < 2**31
    row = session.get(ApprovalMessage, int(number)) if valid else None
    if row is None or row.channel != "sms":
        return "unknown"
    status, error_code = map_status_callback(params)
    if status is None or status not in RANK:
        return "ignored"
    new = A(status)
    # Kept in the outbox or dropped: never sent, so no receipt can be about it.
    if row.status not in RANK or RANK[new] <= RANK[row.status]:
        return "ignored"
    row.status = new
    row.updated_at = utcnow()
    if error_code:
        row.error_code = error_code
    return str(new)


def approval_message_ids(session: Session, notice_id: uuid.UUID, revision_number: int) -> list[int]:
    """The approval messages about one revision."""
    return list(
        session.scalars(
            select(ApprovalMessage.id).where(
                ApprovalMessage.notice_id == notice_id,
                ApprovalMessage.revision_number == revision_number,
            )
        )
    )


def approvers_told_by_email(session: Session, notice_id: uuid.UUID, revision_number: int) -> int:
    """How many approvers' emails about one revision went out (or into the local outbox)."""
    return len(
        set(
            session.scalars(
                select(ApprovalMessage.operator_id).where(
                    ApprovalMessage.notice_id == notice_id,
                    ApprovalMessage.revision_number == revision_number,
                    ApprovalMessage.channel == "email",
                    ApprovalMessage.status.in_([A.ACCEPTED, A.OUTBOX]),
                )
            )
        )
    )


@dataclass(frozen=True)
class Told:
    """What became of one approver's messages about one revision."""

    operator: Operator
    statuses: dict[str, A]  # by channel


def told_about(session: Session, notice_id: uuid.UUID, revision_number: int) -> list[Told]:
    """Per approver, the status of each approval message about ``revision_number``."""
    rows = session.execute(
        select(ApprovalMessage, Operator)
        .join(Operator, Operator.id == ApprovalMessage.operator_id)
        .where(
            ApprovalMessage.notice_id == notice_id,
            ApprovalMessage.revision_number == revision_number,
        )
        .order_by(Operator.name, Operator.email, ApprovalMessage.channel)
    ).all()
    told: dict[int, Told] = {}
    for message, operator in rows:
        entry = told.setdefault(operator.id, Told(operator, {}))
        entry.statuses[message.channel] = message.status
    return list(told.values())
