"""Twilio webhooks: delivery receipts (residents' and approvers' SMS) and inbound SMS (STOP,
SLUTA, START, HELP...).

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

from alerts.config import settings
from alerts.dispatch import approvals
from alerts.dispatch.outcomes import apply_status_callback
from alerts.dispatch.worker import DispatcherSettings
from alerts.extensions import db
from alerts.residents.inbound import handle_inbound
from channels.providers.twilio import is_valid_signature, twiml_reply

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


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
    reference = request.args.get("ref") or ""
    # An approver told that a revision waits for them, or else a resident's delivery.
    outcome = approvals.apply_receipt(db.session, request.form, reference=reference)
    if outcome is None:
        policy = DispatcherSettings.from_app(current_app).retry
        outcome = apply_status_callback(
            db.session, request.form, reference=reference, policy=policy
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
    """An SMS a resident sent us: a stop word ends SMS, a start word resumes, help explains
    (the words and replies: :mod:`alerts.residents.inbound`). A replay changes nothing."""
    _check_signature()
    phone = (request.form.get("From") or "").strip()
    if not phone:
        return _twiml(None)
    outcome = handle_inbound(
        db.session,
        settings(),
        sid=request.form.get("MessageSid") or request.form.get("SmsSid"),
        phone=phone,
        body=request.form.get("Body"),
    )
    db.session.commit()
    return _twiml(outcome.reply)
