"""An SMS a resident sent us: stop words opt out, start words opt back in, help words
explain who sends the messages and how to stop.

The words are the one list in :mod:`channels.providers.twilio`; every reply
names only words from it (:func:`~channels.providers.twilio.reply_words`).
Each inbound message is acted on once: its MessageSid is kept in
``inbound_messages`` (no phone number with it), and a replay changes
nothing and is not answered again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.config import Settings
from alerts.db import rowcount
from alerts.orm import utcnow
from alerts.residents.models import InboundMessage, Subscriber
from alerts.residents.optout import opt_in, opt_out
from channels.providers.twilio import inbound_keyword, reply_words

logger = logging.getLogger(__name__)

#: How long handled MessageSids are kept (Twilio retries a webhook for minutes, not days).
INBOUND_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class InboundOutcome:
    keyword: str | None
    changed: int
    reply: str | None
    replay: bool = False


def reply_text(kind: str, language: str, config: Settings) -> str:
    """The reply to a stop, start or help word, in ``language``."""
    words = reply_words(language)
    with force_locale(language):
        if kind == "stop":
            return _(
                "Du får inga fler sms från %(org)s. Svara %(start)s för att börja igen.",
                org=config.org_name,
                start=words["start"],
            )
        if kind == "start":
            return _(
                "Du får sms från %(org)s igen. Svara %(stop)s för att sluta.",
                org=config.org_name,
                stop=words["stop"],
            )
        contact = (
            _(" Frågor: %(contact)s.", contact=config.org_contact) if config.org_contact else ""
        )
        return (
            _(
                "%(org)s skickar varningar om störningar vid din adress. "
                "Svara %(stop)s för att sluta, %(start)s för att börja igen.",
                org=config.org_name,
                stop=words["stop"],
                start=words["start"],
            )
            + contact
        )


def _seen_before(session: Session, sid: str, keyword: str | None, now: datetime) -> bool:
    """Record ``sid``; True when it was already handled (a replay)."""
    if session.get(InboundMessage, sid) is not None:
        return True
    try:
        with session.begin_nested():
            session.add(InboundMessage(sid=sid, keyword=keyword or "", received_at=now))
    except IntegrityError:
        return True  # the same message, handled by another request at this very moment
    return False


def handle_inbound(
    session: Session,
    config: Settings,
    *,
    sid: str | None,
    phone: str,
    body: str | None,
    now: datetime | None = None,
) -> InboundOutcome:
    """Act on one inbound SMS (the caller commits) and answer the reply to send, if any."""
    moment = now or utcnow()
    keyword = inbound_keyword(body)
    if sid and _seen_before(session, sid, keyword, moment):
        logger.info("inbound sms %s is a replay: nothing done", sid)
        return InboundOutcome(keyword, 0, None, replay=True)
    language = session.scalar(
        select(Subscriber.language)
        .where(Subscriber.phone == phone)
        .order_by(Subscriber.id)
        .limit(1)
    )
    changed = 0
    if keyword == "stop":
        changed = opt_out(session, channel="sms", phone=phone, now=moment, source="sms")
    elif keyword == "start":
        changed = opt_in(session, channel="sms", phone=phone, now=moment, source="sms")
    logger.info("inbound sms %s: %s, %d subscriber(s) changed", sid, keyword, changed)
    if keyword is None:
        # Someone we know wrote something else: tell them what we understand. A stranger's
        # text gets no answer (no SMS to numbers that never signed up).
        return InboundOutcome(None, 0, reply_text("help", language, config) if language else None)
    return InboundOutcome(keyword, changed, reply_text(keyword, language or "sv", config))


def purge_inbound(session: Session, now: datetime | None = None) -> int:
    """Forget MessageSids older than :data:`INBOUND_KEEP` (a scheduler job)."""
    cutoff = (now or utcnow()) - INBOUND_KEEP
    return rowcount(
        session.execute(delete(InboundMessage).where(InboundMessage.received_at < cutoff))
    )
