"""Twilio webhooks: delivery receipts and inbound SMS (STOP, SLUTA, START, HELP...).

Both check ``X-Twilio-Signature`` over the public URL Twilio called — built
from ``VARSLA_BASE_URL``, since behind a proxy the URL the app sees is not
the one Twilio signed — and the POSTed form. A missing or wrong signature is
403. A receipt for a message we do not know is 404 (Twilio does not retry
4xx receipts, and an unknown SID is either forged or from another system); a
repeated or late receipt is 200 and changes nothing (statuses only move
forward).
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from alerts.config import settings
from alerts.dispatch.outcomes import apply_status_callback
from alerts.dispatch.worker import DispatcherSettings
from alerts.extensions import db
from alerts.orm import utcnow
from alerts.residents.models import Subscriber

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "SLUTA", "AVSLUTA", "STOPPA"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES", "BÖRJA", "STARTA"})
HELP_WORDS = frozenset({"HELP", "INFO", "HJÄLP", "HJALP"})

REPLIES = {
    "stop": "Du får inga fler SMS från Varsla. Svara START för att börja igen. "
    "/ You will get no more SMS. Reply START to resume.",
    "start": "Du får SMS från Varsla igen. Svara STOPP för att sluta. "
    "/ You will get SMS again. Reply STOP to stop.",
    "help": "Varsla: varningar för din adress. Svara STOPP för att sluta, START för att börja. "
    "/ Alerts for your address. Reply STOP to stop, START to resume.",
}


def public_url() -> str:
    """The URL Twilio called: the public base URL plus the path and query string we got."""
    base = settings().base_url
    url = base + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def _check_signature() -> None:
    token = settings().twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token:
        logger.warning("twilio webhook refused: TWILIO_AUTH_TOKEN is not configured")
        abort(403)
    params = request.form.to_dict(flat=True)
    if not signature or not RequestValidator(token).validate(public_url(), params, signature):
        logger.warning("twilio webhook refused: bad signature from %s", request.remote_addr)
        abort(403)


@bp.post("/twilio/status")
def twilio_status():
    """A delivery receipt: move the delivery forward (never back)."""
    _check_signature()
    policy = DispatcherSettings.from_app(current_app).retry
    outcome = apply_status_callback(
        db.session, request.form, reference=request.args.get("ref"), policy=policy
    )
    db.session.commit()
    logger.info(
        "twilio receipt %s %s (ref %s): %s",
        request.form.get("MessageSid"),
        request.form.get("MessageStatus"),
        request.args.get("ref"),
        outcome,
    )
    if outcome == "unknown":
        return Response("unknown message\n", status=404, mimetype="text/plain")
    return Response(f"{outcome}\n", status=200, mimetype="text/plain")


def _twiml(text: str | None) -> Response:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
    return Response(xml, mimetype="application/xml")


@bp.post("/twilio/inbound")
def twilio_inbound():
    """An SMS a resident sent us: STOP/SLUTA ends SMS, START resumes, HELP explains."""
    _check_signature()
    phone = (request.form.get("From") or "").strip()
    words = (request.form.get("Body") or "").strip().upper().split()
    keyword = words[0].strip(".!") if words else ""
    if not phone:
        return _twiml(None)
    now = utcnow()
    matches = Subscriber.phone == phone
    if keyword in STOP_WORDS:
        changed = db.session.execute(
            update(Subscriber)
            .where(matches, Subscriber.sms_opted_out_at.is_(None))
            .values(sms_opted_out_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        logger.info("inbound %s from a subscriber: %d opted out", keyword, changed)
        return _twiml(REPLIES["stop"])
    if keyword in START_WORDS:
        db.session.execute(
            update(Subscriber)
            .where(matches, Subscriber.sms_opted_out_at.is_not(None))
            .values(sms_opted_out_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return _twiml(REPLIES["start"])
    if keyword in HELP_WORDS:
        return _twiml(REPLIES["help"])
    known = db.session.scalar(select(Subscriber.id).where(matches).limit(1))
    return _twiml(REPLIES["help"] if known else None)
