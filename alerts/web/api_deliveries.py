"""Delivery figures of a notice, and the SMS preview an operator sees before publishing."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from .. import (
    dispatch,  # noqa: F401  (wires fan-out, jobs, metrics into every app)
)
from ..db import db
from ..dispatch.report import FAILURE_LIMIT, delivery_report, revision_sms_preview
from ..errors import NotFound
from ..models import NoticeRevision
from .api import notice_or_404, operator_required

bp = Blueprint("api_deliveries", __name__, url_prefix="/api/v1")


def _exempt_csrf() -> None:
    from ..app import csrf

    csrf.exempt(bp)


bp.record_once(lambda _state: _exempt_csrf())


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
    if number := request.args.get("revision", type=int):
        revision = next((r for r in notice.revisions if r.number == number), None)
        if revision is None:
            raise NotFound("No such revision")
    else:
        revision = notice.working_revision or notice.current_revision
    return jsonify(
        revision_sms_preview(db.session, notice, revision, current_app.config["VARSLA_BASE_URL"])
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
