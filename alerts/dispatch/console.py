"""The console's view of the local outbox: what the embedded default kept instead of sending."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.dispatch.channels_config import email_factory, sms_factory
from alerts.dispatch.models import OutboxMessage
from alerts.extensions import db
from alerts.notices.models import Notice, NoticeRevision
from alerts.notices.operations import revision_authors
from alerts.operators.models import Operator, Role
from alerts.operators.views import login_required
from channels.base import Message, Recipient

logger = logging.getLogger(__name__)

bp = Blueprint("dispatch_console", __name__, url_prefix="/console")


@bp.get("/outbox")
@login_required
def outbox():
    """Messages the embedded default kept instead of sending (no provider configured)."""
    rows = db.session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    ).all()
    configured = {
        "sms": settings().sms_configured,
        "email": settings().email_configured,
    }
    return render_template("console/outbox.html", messages=rows, configured=configured)


def tell_approvers(session: Session, notice: Notice, revision: NoticeRevision) -> list[str]:
    """Email every approver who may approve ``revision`` that it waits, with a link to it,
    and send an SMS with the link to those of them with a mobile number.

    Called after the submit is committed; a provider that fails is logged and does not
    undo the submit. With no SMTP or Twilio configured the messages land in the local
    outbox (NOT SENT), like every other message. Answers the addresses told.
    """
    config = settings()
    authors = revision_authors(session, notice, revision)
    approvers = [
        operator
        for operator in session.scalars(
            select(Operator).where(
                Operator.active.is_(True), Operator.role.in_([Role.APPROVER, Role.ADMIN])
            )
        )
        if operator.id not in authors
    ]
    if not approvers:
        return []
    headline = (revision.texts.get("sv") or {}).get("headline", "")
    url = f"{config.base_url}/console/notices/{notice.id}"
    subject = f"Väntar på godkännande / Waiting for approval: {headline}"
    body = (
        f"{headline}\n\n"
        f"Revision {revision.number} väntar på ditt godkännande. Granska och godkänn eller avslå:\n"
        f"Revision {revision.number} waits for your approval. Review, then approve or reject:\n"
        f"{url}\n"
    )
    message = Message(
        body=body, subject=subject, reference=f"approval-{notice.id}-{revision.number}"
    )
    sender = email_factory(config)() if config.email_configured else None
    told = []
    for operator in approvers:
        if sender is None:
            session.add(
                OutboxMessage(channel="email", recipient=operator.email, subject=subject, body=body)
            )
            told.append(operator.email)
            continue
        try:
            result = sender.send(Recipient(address=operator.email), message)
        except Exception:  # a mail server down must not turn a submit into an error page
            logger.exception("approval notice to %s failed", operator.email)
            continue
        logger.info("approval notice to %s: %s", operator.email, result.outcome)
        told.append(operator.email)
    texted = _text_approvers(session, [a for a in approvers if a.phone], headline, url, revision)
    if sender is None or texted:
        session.commit()
    return told


def _text_approvers(
    session: Session, approvers: list[Operator], headline: str, url: str, revision: NoticeRevision
) -> bool:
    """The SMS of :func:`tell_approvers`, through the dispatcher's SMS provider (Twilio, or
    the local outbox). Answers whether anything was added to the session to commit."""
    if not approvers:
        return False
    config = settings()
    body = (
        f"Varsla: revision {revision.number} väntar på godkännande / waits for approval: "
        f"{headline[:80]}\n{url}"
    )
    sender = sms_factory(config)() if config.sms_configured else None
    reference = f"approval-{revision.notice_id}-{revision.number}"
    for operator in approvers:
        assert operator.phone is not None
        if sender is None:
            session.add(OutboxMessage(channel="sms", recipient=operator.phone, body=body))
            continue
        try:
            result = sender.send(
                Recipient(address=operator.phone), Message(body=body, reference=reference)
            )
        except Exception:  # a provider down must not turn a submit into an error page
            logger.exception("approval SMS to operator %s failed", operator.id)
            continue
        logger.info("approval SMS to operator %s: %s", operator.id, result.outcome)
    if sender is not None:
        sender.close()
    return sender is None
