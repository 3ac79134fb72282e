"""Training mode: send any revision of any notice, marked as an exercise, to the test group.

An exercise goes through the ordinary outbox and dispatcher, so it rehearses the real
path (composition, Twilio, SMTP, receipts), but it is kept apart from everything real:

* its deliveries carry the run's id as ``notice_id`` and a negative
  :class:`~alerts.dispatch.exercise_models.ExerciseRecipient` id as ``subscriber_id``, so
  no report, reach, CSV, metric per notice or fan-out of the notice ever counts them;
* the notice itself is not touched (its status, revisions and publication stay as they
  are), so no public page, feed, banner, CAP document or ``/api/v1/active`` shows it;
* the dispatcher marks every text it sends for such a row ("ÖVNING – ", CAP
  ``<status>Exercise``) from the claim's ``exercise`` flag (alerts.dispatch.claim).

Exercises go after every real delivery (a lower priority than any severity's), so a
rehearsal never holds up a real alert.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from alerts.config import settings
from alerts.db import rowcount
from alerts.dispatch.exercise_models import ExerciseRecipient, ExerciseRun, TestGroupMember
from alerts.dispatch.models import Delivery, DeliveryStatus, OutboxMessage
from alerts.dispatch.wakeup import announce
from alerts.errors import NotFound, ValidationFailed
from alerts.i18n import N_
from alerts.notices import audit
from alerts.notices.models import Notice, NoticeRevision
from alerts.operators.models import Operator
from alerts.orm import utcnow
from alerts.residents.contacts import email_address, mobile_number
from channels.base import LANGUAGES

logger = logging.getLogger(__name__)

#: After every real delivery: real priorities run 0 (Extreme) to 4 (Unknown).
EXERCISE_PRIORITY = 9
PUSH_CHANNELS = ("sms", "email")


def list_members(session: Session) -> Sequence[TestGroupMember]:
    return session.scalars(select(TestGroupMember).order_by(TestGroupMember.name)).all()


def add_member(
    session: Session, *, name: str, phone: str = "", email: str = "", language: str = "sv"
) -> TestGroupMember:
    """A new test-group member; the phone (E.164 mobile) and email are checked like a
    resident's. Raises ValidationFailed naming every field that is wrong."""
    errors: list[ValidationFailed] = []
    name = " ".join(name.split())[:200]
    if not name:
        errors.append(ValidationFailed.on("name", N_("Skriv ett namn.")))
    checked_phone = checked_email = None
    if phone.strip():
        try:
            checked_phone = mobile_number(phone, settings().sms_country_codes)
        except ValidationFailed as exc:
            errors.append(exc)
    if email.strip():
        try:
            checked_email = email_address(email)
        except ValidationFailed as exc:
            errors.append(exc)
    if not phone.strip() and not email.strip():
        errors.append(
            ValidationFailed.on("phone", N_("Ange ett mobilnummer, en e-post eller båda."))
        )
    if language not in LANGUAGES:
        errors.append(ValidationFailed.on("language", N_("Välj svenska eller engelska.")))
    if errors:
        combined = errors[0]
        for other in errors[1:]:
            combined.errors.extend(other.errors)
        raise combined
    member = TestGroupMember(name=name, phone=checked_phone, email=checked_email, language=language)
    session.add(member)
    session.flush()
    return member


def remove_member(session: Session, member_id: int) -> None:
    member = session.get(TestGroupMember, member_id)
    if member is None:
        raise NotFound(N_("Ingen sådan medlem i testgruppen"))
    session.delete(member)
    session.flush()


def send_exercise(
    session: Session, notice: Notice, revision: NoticeRevision, *, by: Operator
) -> ExerciseRun:
    """Queue ``revision`` of ``notice``, marked as an exercise, for every test-group member on
    the revision's push channels; the caller commits. The notice is not changed."""
    if revision.notice_id != notice.id:
        raise NotFound(N_("Ingen sådan version"))
    members = list_members(session)
    channels = [c for c in PUSH_CHANNELS if c in (revision.channels or [])]
    if not members:
        raise ValidationFailed.on(
            "test_group", N_("Testgruppen är tom; en administratör lägger till mottagare.")
        )
    if not channels:
        raise ValidationFailed.on(
            "channels", N_("Den här versionen skickas inte med sms eller e-post.")
        )
    run = ExerciseRun(
        id=uuid.uuid4(),
        notice_id=notice.id,
        revision_id=revision.id,
        revision_number=revision.number,
        started_by_id=by.id,
    )
    for member in members:
        run.recipients.append(
            ExerciseRecipient(
                name=member.name, phone=member.phone, email=member.email, language=member.language
            )
        )
    session.add(run)
    session.flush()
    now = utcnow()
    rows = [
        Delivery(
            notice_id=run.id,
            revision_id=revision.id,
            revision_number=revision.number,
            subscriber_id=-recipient.id,
            channel=channel,
            status=DeliveryStatus.PENDING,
            priority=EXERCISE_PRIORITY,
            not_before=now,
            created_at=now,
            updated_at=now,
        )
        for recipient in run.recipients
        for channel in channels
        if (recipient.phone if channel == "sms" else recipient.email)
    ]
    session.add_all(rows)
    audit.record(
        session,
        "exercise_sent",
        notice=notice,
        by=by,
        revision=revision.number,
        run=str(run.id),
        deliveries=len(rows),
    )
    session.flush()
    announce(session)
    logger.info("exercise %s of notice %s: %d deliveries", run.id, notice.id, len(rows))
    return run


def list_runs(session: Session, *, limit: int = 100) -> Sequence[ExerciseRun]:
    return session.scalars(
        select(ExerciseRun)
        .options(selectinload(ExerciseRun.recipients))
        .order_by(ExerciseRun.created_at.desc())
        .limit(limit)
    ).all()


def get_run(session: Session, run_id: str) -> ExerciseRun:
    try:
        key = uuid.UUID(run_id)
    except ValueError:
        raise NotFound(N_("Ingen sådan övning")) from None
    run = session.get(ExerciseRun, key)
    if run is None:
        raise NotFound(N_("Ingen sådan övning"))
    return run


@dataclass
class RecipientReport:
    """One test-group recipient of a run and how each channel went."""

    recipient: ExerciseRecipient
    deliveries: dict[str, Delivery] = field(default_factory=dict)


def run_report(session: Session, run: ExerciseRun) -> dict[str, Any]:
    """The run's recipients with their deliveries, and counts by channel and status."""
    deliveries = session.scalars(
        select(Delivery).where(Delivery.notice_id == run.id).order_by(Delivery.id)
    ).all()
    by_recipient = {r.id: RecipientReport(r) for r in run.recipients}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for delivery in deliveries:
        report = by_recipient.get(-delivery.subscriber_id)
        if report is not None:
            report.deliveries[delivery.channel] = delivery
        counts[delivery.channel][str(delivery.status)] += 1
    return {
        "recipients": list(by_recipient.values()),
        "counts": {channel: dict(statuses) for channel, statuses in counts.items()},
        "total": len(deliveries),
    }


def purge_old_runs(session: Session, *, days: float) -> int:
    """Delete exercise runs older than ``days`` (``VARSLA_DELIVERY_RETENTION_DAYS``) with
    their recipients, deliveries and local-outbox copies; the caller commits. Answers the
    runs deleted; ``days`` <= 0 keeps all."""
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    runs = list(session.scalars(select(ExerciseRun.id).where(ExerciseRun.created_at < cutoff)))
    if not runs:
        return 0
    rows = select(Delivery.id).where(Delivery.notice_id.in_(runs))
    session.execute(delete(OutboxMessage).where(OutboxMessage.delivery_id.in_(rows)))
    session.execute(delete(Delivery).where(Delivery.notice_id.in_(runs)))
    session.execute(delete(ExerciseRecipient).where(ExerciseRecipient.run_id.in_(runs)))
    return rowcount(session.execute(delete(ExerciseRun).where(ExerciseRun.id.in_(runs)))) or 0
