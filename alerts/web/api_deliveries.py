"""Delivery figures of a notice, and the SMS preview an operator sees before publishing."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import func, select

from .. import (
    dispatch,  # noqa: F401  (wires fan-out, jobs, metrics into every app)
)
from ..db import db
from ..dispatch.messages import sms_preview
from ..errors import NotFound
from ..models import Delivery, DeliveryStatus, NoticeRevision, Subscriber
from ..snapshots import build_snapshot
from .api import notice_or_404, operator_required

bp = Blueprint("api_deliveries", __name__, url_prefix="/api/v1")

FAILED = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
FAILURE_LIMIT = 100


def _exempt_csrf() -> None:
    from ..app import csrf

    csrf.exempt(bp)


bp.record_once(lambda _state: _exempt_csrf())


def mask(address: str | None) -> str:
    """Enough of a phone number or address to recognise, not to harvest."""
    if not address:
        return ""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:4]}****{address[-2:]}" if len(address) > 6 else "****"


@bp.get("/notices/<notice_id>/deliveries")
@operator_required
def notice_deliveries(notice_id: str):
    """Counts by channel and status (overall and per revision), and failures with reasons."""
    notice = notice_or_404(notice_id)
    rows = db.session.execute(
        select(Delivery.revision_number, Delivery.channel, Delivery.status, func.count())
        .where(Delivery.notice_id == notice.id)
        .group_by(Delivery.revision_number, Delivery.channel, Delivery.status)
    ).all()
    by_channel: dict[str, dict[str, int]] = {}
    by_revision: dict[str, dict[str, dict[str, int]]] = {}
    total = 0
    for number, channel, status, count in rows:
        total += count
        channel_counts = by_channel.setdefault(channel, {})
        channel_counts[status] = channel_counts.get(status, 0) + count
        by_revision.setdefault(str(number), {}).setdefault(channel, {})[status] = count
    reasons = db.session.execute(
        select(Delivery.channel, Delivery.status, Delivery.error_code, func.count())
        .where(
            Delivery.notice_id == notice.id,
            Delivery.status.in_([*FAILED, DeliveryStatus.DROPPED, DeliveryStatus.OPTED_OUT])
            # waiting for another try: why the last one did not go through
            | ((Delivery.status == DeliveryStatus.PENDING) & Delivery.error_code.is_not(None)),
        )
        .group_by(Delivery.channel, Delivery.status, Delivery.error_code)
    ).all()
    failures = db.session.execute(
        select(Delivery, Subscriber.phone, Subscriber.email)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.notice_id == notice.id, Delivery.status.in_(FAILED))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(FAILURE_LIMIT)
    ).all()
    return jsonify(
        {
            "notice_id": str(notice.id),
            "total": total,
            "by_channel": by_channel,
            "by_revision": by_revision,
            "reasons": [
                {"channel": c, "status": s, "error_code": e, "count": n}
                for c, s, e, n in sorted(reasons, key=lambda r: -r[3])
            ],
            "failures": [
                {
                    "delivery_id": d.id,
                    "revision": d.revision_number,
                    "channel": d.channel,
                    "status": d.status,
                    "recipient": mask(phone if d.channel == "sms" else email),
                    "attempts": d.attempts,
                    "error_code": d.error_code,
                    "error": d.error,
                    "updated_at": d.updated_at.isoformat(),
                }
                for d, phone, email in failures
            ],
        }
    )


@bp.get("/notices/<notice_id>/sms-preview")
@operator_required
def notice_sms_preview(notice_id: str):
    """The SMS residents would read, per language, with its encoding and number of parts.

    Shows the revision waiting for approval or publication when there is one
    (what is about to go out), else the published one; ``?revision=N`` picks one.
    """
    notice = notice_or_404(notice_id)
    revision: NoticeRevision | None
    if number := request.args.get("revision", type=int):
        revision = next((r for r in notice.revisions if r.number == number), None)
        if revision is None:
            raise NotFound("No such revision")
    else:
        revision = notice.working_revision or notice.current_revision
    snapshot = build_snapshot(db.session, notice, revision)
    base_url = current_app.config["VARSLA_BASE_URL"]
    return jsonify(
        {
            "notice_id": str(notice.id),
            "revision": revision.number,
            "msg_type": revision.msg_type,
            "languages": sms_preview(snapshot, base_url),
        }
    )


def register(app: Flask) -> None:
    """Register the dispatch blueprints: this API, the Twilio webhooks, short/unsubscribe links."""
    from . import links, webhooks

    app.register_blueprint(bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(links.bp)


def _document() -> None:
    """Add this blueprint's paths to the OpenAPI document (``openapi.extra_paths``)."""
    from . import openapi

    def ok(ref: str, description: str) -> dict:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    counts = {"type": "object", "additionalProperties": {"type": "integer"}}
    openapi.extra_schemas["NoticeDeliveries"] = {
        "type": "object",
        "properties": {
            "notice_id": {"type": "string", "format": "uuid"},
            "total": {"type": "integer"},
            "by_channel": {
                "type": "object",
                "description": "channel -> status -> count",
                "additionalProperties": counts,
            },
            "by_revision": {
                "type": "object",
                "description": "revision number -> channel -> status -> count",
                "additionalProperties": {"type": "object", "additionalProperties": counts},
            },
            "reasons": {
                "type": "array",
                "description": "why deliveries failed, were dropped or opted out; and, for "
                "pending ones waiting for another try, why the last try did not go through",
                "items": {
                    "type": "object",
                    "properties": {
                        "channel": {"type": "string"},
                        "status": {"type": "string"},
                        "error_code": {"type": ["string", "null"]},
                        "count": {"type": "integer"},
                    },
                },
            },
            "failures": {
                "type": "array",
                "description": f"the latest {FAILURE_LIMIT} failed or undelivered",
                "items": {"type": "object"},
            },
        },
        "required": ["notice_id", "total", "by_channel", "failures"],
    }
    openapi.extra_schemas["SmsPreview"] = {
        "type": "object",
        "properties": {
            "notice_id": {"type": "string", "format": "uuid"},
            "revision": {"type": "integer"},
            "msg_type": {"type": "string"},
            "languages": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "body": {"type": "string"},
                        "encoding": {"enum": ["GSM-7", "UCS-2"]},
                        "segments": {"type": "integer"},
                        "length_units": {"type": "integer"},
                        "characters": {"type": "integer"},
                    },
                },
            },
        },
    }
    revision = {"name": "revision", "in": "query", "schema": {"type": "integer"}}
    openapi.extra_paths["/notices/{notice_id}/deliveries"] = {
        "get": openapi._op(
            "Deliveries of a notice: counts by channel and status, failures with reasons",
            ok=ok("NoticeDeliveries", "Delivery figures"),
            params=[openapi.NOTICE_ID],
        )
    }
    openapi.extra_paths["/notices/{notice_id}/sms-preview"] = {
        "get": openapi._op(
            "The SMS text per language with its encoding and number of parts (before publishing)",
            ok=ok("SmsPreview", "SMS preview"),
            params=[openapi.NOTICE_ID, revision],
        )
    }


_document()
