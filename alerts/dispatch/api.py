"""Delivery figures of a notice, and the SMS preview an operator sees before publishing."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request

from alerts.config import settings
from alerts.dispatch.report import FAILURE_LIMIT, delivery_report, revision_sms_preview
from alerts.errors import NotFound, ValidationFailed
from alerts.extensions import db
from alerts.notices.api import notice_or_404, operator_required
from alerts.notices.models import NoticeRevision
from alerts.web import openapi

bp = Blueprint("api_deliveries", __name__, url_prefix="/api/v1")


@bp.get("/notices/<notice_id>/deliveries")
@operator_required
def notice_deliveries(notice_id: str):
    """Counts by channel and status (overall and per revision), and failures with reasons."""
    notice = notice_or_404(notice_id)
    return jsonify(delivery_report(db.session, notice.id))


@bp.get("/notices/<notice_id>/sms-preview")
@operator_required
def notice_sms_preview(notice_id: str):
    """The SMS residents would read, per language, with its encoding and number of parts.

    Shows the revision waiting for approval or publication when there is one
    (what is about to go out), else the published one; ``?revision=N`` picks one.
    """
    notice = notice_or_404(notice_id)
    revision: NoticeRevision | None
    if (raw := request.args.get("revision")) is not None:
        if not raw.isdigit() or len(raw) > 6:
            raise ValidationFailed.on("revision", "must be a revision number (1, 2, …)")
        number = int(raw)
        revision = next((r for r in notice.revisions if r.number == number), None)
        if revision is None:
            raise NotFound("No such revision")
    else:
        revision = notice.working_revision or notice.current_revision
    return jsonify(revision_sms_preview(db.session, notice, revision, settings().base_url))


def document(app: Flask) -> None:
    """Add this blueprint's paths to the app's OpenAPI document."""

    def ok(ref: str, description: str) -> dict:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    counts = {"type": "object", "additionalProperties": {"type": "integer"}}
    schemas: dict[str, Any] = {}
    schemas["NoticeDeliveries"] = {
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
    schemas["SmsPreview"] = {
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
    paths: dict[str, Any] = {}
    paths["/notices/{notice_id}/deliveries"] = {
        "get": openapi._op(
            "Deliveries of a notice: counts by channel and status, failures with reasons",
            ok=ok("NoticeDeliveries", "Delivery figures"),
            params=[openapi.NOTICE_ID],
        )
    }
    paths["/notices/{notice_id}/sms-preview"] = {
        "get": openapi._op(
            "The SMS text per language with its encoding and number of parts (before publishing)",
            ok=ok("SmsPreview", "SMS preview"),
            params=[openapi.NOTICE_ID, revision],
        )
    }
    openapi.add_to_document(app, paths=paths, schemas=schemas)
