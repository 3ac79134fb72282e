"""Sending what the sign-up sends (codes, verification and manage links), after the commit.

Operations return :class:`Outgoing` messages instead of sending them; the
request handler commits first and then calls :func:`send_all` (the pattern
of GOV.UK Notify and Indico: nothing leaves for a change that was rolled
back, and no provider call holds a transaction open). Messages go through the
same push channels the dispatcher uses, so a configured Twilio or SMTP server
gets them; with no provider configured they are kept in the local outbox for
operators, marked NOT SENT, as notices are.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from alerts.config import settings
from alerts.dispatch.channels_config import email_factory, sms_factory
from alerts.dispatch.models import OutboxMessage
from alerts.extensions import db
from channels.base import DeliveryResult, Message, Outcome, Recipient, masked

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message for one contact: ``channel`` is "sms" or "email"."""

    channel: str
    address: str
    language: str
    message: Message
    purpose: str  # "code", "email_link", "manage_link": for the log


def new_reference(purpose: str) -> str:
    """A message reference that is not a delivery's (receipts for it are ignored)."""
    return f"{purpose}-{uuid.uuid4().hex}"


def send_all(messages: list[Outgoing]) -> list[DeliveryResult]:
    """Send each message now (call after the commit); answers what happened to each."""
    if not messages:
        return []
    config = settings()
    factories = {"sms": sms_factory(config), "email": email_factory(config)}
    results = []
    for item in messages:
        channel = factories[item.channel]()
        try:
            result = channel.send(Recipient(item.address, item.language), item.message)
        finally:
            channel.close()
        if channel.local_only and result.outcome is Outcome.ACCEPTED:
            with db.begin() as session:
                session.add(
                    OutboxMessage(
                        delivery_id=None,
                        channel=item.channel,
                        recipient=item.address,
                        subject=item.message.subject,
                        body=item.message.body,
                        html=item.message.html,
                    )
                )
        log = logger.info if result.ok else logger.warning
        log(
            "%s %s to %s: %s %s",
            item.channel,
            item.purpose,
            masked(item.address),
            result.outcome,
            result.error_code or "",
        )
        results.append(result)
    return results
