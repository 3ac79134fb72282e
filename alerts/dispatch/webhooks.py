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

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from alerts.config import settings
from alerts.dispatch.outcomes import apply_status_callback
from alerts.dispatch.worker import DispatcherSettings
from alerts.extensions import db
from alerts.residents.models import Subscriber
from alerts.residents.optout import opt_in, opt_out
from channels.providers.twilio import inbound_keyword, is_valid_signature, twiml_reply

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

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
    if not token:
        logger.warning("twilio webhook refused: TWILIO_AUTH_TOKEN is not configured")
        abort(403)
    params = request.form.to_dict(flat=True)
    if not is_valid_signature(
        token, public_url(), params, request.headers.get("X-Twilio-Signature")
    ):
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
    return Response(twiml_reply(text), mimetype="application/xml")


@bp.post("/twilio/inbound")
def twilio_inbound():
    """An SMS a resident sent us: STOP/SLUTA ends SMS, START resumes, HELP explains."""
    _check_signature()
    phone = (request.form.get("From") or "").strip()
    keyword = inbound_keyword(request.form.get("Body"))
    if not phone:
        return _twiml(None)
    if keyword == "stop":
        changed = opt_out(db.session, channel="sms", phone=phone)
        db.session.commit()
        logger.info("inbound stop word from a subscriber: %d opted out", changed)
        return _twiml(REPLIES["stop"])
    if keyword == "start":
        opt_in(db.session, channel="sms", phone=phone)
        db.session.commit()
        return _twiml(REPLIES["start"])
    if keyword == "help":
        return _twiml(REPLIES["help"])
    known = db.session.scalar(select(Subscriber.id).where(Subscriber.phone == phone).limit(1))
    return _twiml(REPLIES["help"] if known else None)
