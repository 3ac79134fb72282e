"""Delivery figures of a notice, whom it reaches, and the SMS preview an operator sees before
publishing."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from alerts.config import settings
from alerts.dispatch.report import delivery_report, revision_reach, revision_sms_preview
from alerts.dispatch.responses import NoticeDeliveries, SmsPreview
from alerts.errors import NotFound, ValidationFailed
from alerts.extensions import db
from alerts.notices.api import (
    NO_SUCH_NOTICE,
    NOTICE_ID_PARAMETER,
    notice_or_404,
    operator_required,
    reach_out,
)
from alerts.notices.models import NoticeRevision
from alerts.notices.responses import Reach as ReachOut
from alerts.web.openapi import Operation, add_to_document

bp = Blueprint("api_deliveries", __name__, url_prefix="/api/v1")


@bp.get("/notices/<notice_id>/deliveries")
@operator_required
def notice_deliveries(notice_id: str):
    """Counts by channel and status (overall and per revision), and failures with reasons."""
    notice = notice_or_404(notice_id)
    report = NoticeDeliveries.model_validate(delivery_report(db.session, notice.id))
    return jsonify(report.to_json())


@bp.get("/notices/<notice_id>/reach")
@operator_required
def notice_reach(notice_id: str):
    """Who the notice's newest revision reaches, as its fan-out will write it: for an update
    or the all-clear, with everyone an earlier revision was sent to (the console's figure)."""
    notice = notice_or_404(notice_id)
    found = revision_reach(db.session, notice, notice.revisions[-1])
    if found is None:
        raise NotFound("The notice has no area")
    return jsonify(reach_out(found).to_json())


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
    preview = revision_sms_preview(db.session, notice, revision, settings().base_url)
    return jsonify(SmsPreview.model_validate(preview).to_json())


def document(app: Flask) -> None:
    """Add this blueprint's paths to the app's OpenAPI document."""
    revision = {
        "name": "revision",
        "in": "query",
        "description": "Which revision (by number); without it, the one waiting for approval "
        "or publication, else the published one. A value that is not a revision number is "
        "a 422; an unknown number is a 404.",
        "schema": {"type": "integer", "minimum": 0, "maximum": 999999},
    }
    add_to_document(
        app,
        paths={
            "/notices/{notice_id}/deliveries": {
                "get": Operation(
                    "Deliveries of a notice: counts by channel and status, failures with reasons",
                    answer=NoticeDeliveries,
                    parameters=[NOTICE_ID_PARAMETER],
                    errors={404: NO_SUCH_NOTICE},
                )
            },
            "/notices/{notice_id}/reach": {
                "get": Operation(
                    "Who the notice reaches: subscribers per channel and language (for an "
                    "update or the all-clear, with everyone an earlier revision was sent to), "
                    "and register addresses inside its area with no subscriber",
                    answer=ReachOut,
                    parameters=[NOTICE_ID_PARAMETER],
                    errors={404: NO_SUCH_NOTICE},
                )
            },
            "/notices/{notice_id}/sms-preview": {
                "get": Operation(
                    "The SMS text per language with its encoding and number of parts",
                    answer=SmsPreview,
                    parameters=[NOTICE_ID_PARAMETER, revision],
                    errors={
                        404: "No such notice, or no such revision",
                        422: "revision is not a revision number",
                    },
                )
            },
        },
    )
