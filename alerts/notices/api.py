"""The JSON API, ``/api/v1``. Views parse, call one service, commit, and answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, g, jsonify, request, url_for
from pydantic import BaseModel
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from alerts.config import settings
from alerts.errors import DomainError, MalformedRequest, NotFound, ValidationFailed
from alerts.extensions import db
from alerts.notices import audit
from alerts.notices import operations as notices
from alerts.notices.models import Notice, NoticeStatus, RevisionState
from alerts.notices.notice_templates import TEMPLATES
from alerts.notices.reach import PUSH_CHANNELS, reach
from alerts.notices.responses import AuditTrail, NoticePage, TemplateList
from alerts.notices.responses import Notice as NoticeOut
from alerts.notices.responses import Reach as ReachOut
from alerts.notices.schemas import (
    AreaIn,
    CancelIn,
    CategoryName,
    ChannelName,
    EmptyIn,
    NoticeChangesIn,
    NoticeIn,
    PublishIn,
    RejectIn,
    Strict,
    parse,
)
from alerts.notices.serializers import audit_out, notice_out, notice_summary_out, template_out
from alerts.operators.auth import operator_for_api_key
from alerts.signals import approval_requested
from alerts.web.openapi import Operation, add_to_document
from alerts.web.pagination import PAGING_PARAMETERS, page

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: The query parameters GET /notices understands.
LIST_PARAMETERS = frozenset({"status", "cursor", "limit"})


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The request must carry ``Authorization: Bearer <api key>`` of an active operator."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        operator = None
        if scheme.lower() == "bearer" and token:
            operator = operator_for_api_key(db.session, token.strip())
        if operator is None:
            raise Unauthorized("Send a valid API key as 'Authorization: Bearer <key>'")
        g.operator = operator
        return view(*args, **kwargs)

    return wrapper


def json_body() -> Any:
    """The request's JSON; malformed JSON is a 400 naming the body."""
    if not request.data:
        return {}
    try:
        return request.get_json(force=True)
    except BadRequest:
        raise MalformedRequest.on("body", "is not valid JSON") from None


def _base_url() -> str:
    return settings().base_url


def notice_or_404(notice_id: str) -> Notice:
    """The notice a URL names; a malformed id is as unknown as a missing one."""
    try:
        key = uuid.UUID(notice_id)
    except ValueError:
        raise NotFound("No such notice") from None
    return notices.get_notice(db.session, key)


def _answer(notice: Notice, status: int = 200):
    db.session.commit()
    waiting = notice.working_revision
    if waiting is not None and waiting.state == RevisionState.PENDING_APPROVAL:
        # Committed: the dispatch feature tells the approvers now, not at the next tick.
        approval_requested.send(notice)
    response = jsonify(notice_out(notice, base_url=_base_url()).to_json())
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_notice", notice_id=notice.id)
    return response


@bp.get("/notices")
@operator_required
def list_notices():
    """Notices, newest first; ``?status=`` filters (several: ``?status=draft&status=active``)."""
    unknown = sorted(set(request.args) - LIST_PARAMETERS)
    if unknown:
        # Refused, not ignored: a misspelt filter would otherwise list every notice.
        raise ValidationFailed.on(unknown[0], "unknown query parameter")
    statuses = request.args.getlist("status")
    if bad := [s for s in statuses if s not in {v.value for v in NoticeStatus}]:
        raise ValidationFailed.on("status", f"not a notice status: {bad[0]}")
    query = select(Notice)
    if statuses:
        query = query.where(Notice.status.in_(statuses))
    query = query.order_by(Notice.created_at.desc(), Notice.id)
    found = page(
        db.session, query, lambda n: notice_summary_out(n, base_url=_base_url()), NoticePage
    )
    return jsonify(found.to_json())


@bp.post("/notices")
@operator_required
def create_notice():
    data = parse(NoticeIn, json_body())
    return _answer(notices.create_notice(db.session, data, by=g.operator), 201)


@bp.get("/notices/<notice_id>")
@operator_required
def get_notice(notice_id: str):
    return jsonify(notice_out(notice_or_404(notice_id), base_url=_base_url()).to_json())


@bp.get("/notices/<notice_id>/audit")
@operator_required
def notice_audit(notice_id: str):
    events = audit.trail(db.session, notice_or_404(notice_id))
    return jsonify(AuditTrail(items=[audit_out(e) for e in events], next=None).to_json())


@bp.post("/notices/<notice_id>/submit")
@operator_required
def submit(notice_id: str):
    parse(EmptyIn, json_body())
    return _answer(notices.submit_notice(db.session, notice_or_404(notice_id), by=g.operator))


@bp.post("/notices/<notice_id>/approve")
@operator_required
def approve(notice_id: str):
    parse(EmptyIn, json_body())
    return _answer(notices.approve_notice(db.session, notice_or_404(notice_id), by=g.operator))


@bp.post("/notices/<notice_id>/reject")
@operator_required
def reject(notice_id: str):
    data = parse(RejectIn, json_body())
    notice = notices.reject_notice(
        db.session, notice_or_404(notice_id), by=g.operator, reason=data.reason
    )
    return _answer(notice)


@bp.post("/notices/<notice_id>/return-to-draft")
@operator_required
def return_to_draft(notice_id: str):
    parse(EmptyIn, json_body())
    return _answer(notices.return_to_draft(db.session, notice_or_404(notice_id), by=g.operator))


@bp.post("/notices/<notice_id>/publish")
@operator_required
def publish(notice_id: str):
    data = parse(PublishIn, json_body())
    notice = notices.publish_notice(
        db.session,
        notice_or_404(notice_id),
        by=g.operator,
        at=data.at,
        emergency_reason=data.emergency_reason,
    )
    return _answer(notice)


@bp.post("/notices/<notice_id>/update")
@operator_required
def update(notice_id: str):
    data = parse(NoticeChangesIn, json_body())
    return _answer(notices.update_notice(db.session, notice_or_404(notice_id), data, by=g.operator))


@bp.post("/notices/<notice_id>/cancel")
@operator_required
def cancel(notice_id: str):
    data = parse(CancelIn, json_body())
    return _answer(notices.cancel_notice(db.session, notice_or_404(notice_id), data, by=g.operator))


class ReachIn(Strict):
    """``POST /api/v1/reach``: an area not saved yet, in the create shape."""

    area: AreaIn
    channels: list[ChannelName] = list(PUSH_CHANNELS)  # type: ignore[arg-type]
    #: The notice's category: then only residents a new alert of it reaches are counted
    #: (they chose the category and have not paused), as its publish would write them.
    category: CategoryName | None = None


def reach_out(found) -> ReachOut:
    return ReachOut.model_validate(
        {
            "subscribers": found.subscribers,
            "channels": {
                channel: {"total": sum(counts.values()), "by_language": counts}
                for channel, counts in found.by_channel.items()
            },
            "addresses": found.addresses,
            "addresses_without_subscriber": found.addresses_without_subscriber,
        }
    )


@bp.post("/reach")
@operator_required
def area_reach():
    """Who an area would reach, before it is saved."""
    data = parse(ReachIn, json_body())
    area = data.area.model_dump(exclude_none=True)
    found = reach(db.session, area, data.channels, category=data.category)
    return jsonify(reach_out(found).to_json())


@bp.get("/templates")
@operator_required
def list_templates():
    items = [template_out(t) for t in TEMPLATES.values()]
    return jsonify(TemplateList(items=items, next=None).to_json())


NOTICE_ID_PARAMETER = {
    "name": "notice_id",
    "in": "path",
    "required": True,
    "description": "A notice's id; a malformed one is as unknown as a missing one (404)",
    "schema": {"type": "string"},
}
NO_SUCH_NOTICE = "No such notice"
#: Who may act: authors and approvers; approving and rejecting need an approver.
ROLE_MISSING = "The operator lacks the role this needs"


def _action(
    summary: str, body: type[BaseModel], errors: dict[int, str] | None = None
) -> dict[str, Operation]:
    """A lifecycle move: POST with a body, answers the notice; ``errors`` adds or rewords."""
    return {
        "post": Operation(
            summary,
            answer=NoticeOut,
            body=body,
            parameters=[NOTICE_ID_PARAMETER],
            errors={
                400: "The body is not valid JSON",
                403: ROLE_MISSING,
                404: NO_SUCH_NOTICE,
                409: "Not allowed in the notice's current status",
                422: "Invalid input; `field` names the first field at fault",
                **(errors or {}),
            },
        )
    }


def document(app: Flask) -> None:
    """Add the notices API to the app's OpenAPI document."""
    statuses = [s.value for s in NoticeStatus]
    paths: dict[str, dict[str, Operation]] = {
        "/notices": {
            "get": Operation(
                "List notices, newest first",
                answer=NoticePage,
                parameters=[
                    *PAGING_PARAMETERS,
                    {
                        "name": "status",
                        "in": "query",
                        "description": "Only notices in these statuses (repeat the parameter "
                        "for several)",
                        "schema": {"type": "array", "items": {"type": "string", "enum": statuses}},
                        "style": "form",
                        "explode": True,
                    },
                ],
                errors={
                    422: "A bad cursor or limit, a status that is not one, or a query "
                    "parameter this list does not know (named in the problem)"
                },
            ),
            "post": Operation(
                "Create a draft",
                answer=NoticeOut,
                status=201,
                answer_description="The new draft",
                body=NoticeIn,
                headers={"Location": "The notice in the API"},
                errors={
                    400: "The body is not valid JSON",
                    403: ROLE_MISSING,
                    422: "Invalid input; `field` names the first field at fault",
                },
            ),
        },
        "/notices/{notice_id}": {
            "get": Operation(
                "A notice with its revisions",
                answer=NoticeOut,
                parameters=[NOTICE_ID_PARAMETER],
                errors={404: NO_SUCH_NOTICE},
            )
        },
        "/notices/{notice_id}/audit": {
            "get": Operation(
                "The notice's audit trail",
                answer=AuditTrail,
                parameters=[NOTICE_ID_PARAMETER],
                errors={404: NO_SUCH_NOTICE},
            )
        },
        "/notices/{notice_id}/submit": _action("Send a draft for approval", EmptyIn),
        "/notices/{notice_id}/approve": _action(
            "Approve what waits (another person than its author)",
            EmptyIn,
            {
                403: "The operator is no approver, or wrote or submitted what waits (two-person rule)"
            },
        ),
        "/notices/{notice_id}/reject": _action("Send back with a reason", RejectIn),
        "/notices/{notice_id}/return-to-draft": _action("Take back to draft", EmptyIn),
        "/notices/{notice_id}/publish": _action(
            "Publish now or at a time",
            PublishIn,
            {403: "Not approved by a second person, or an emergency publication by a non-admin"},
        ),
        "/notices/{notice_id}/update": _action(
            "Edit a draft, or propose an update of a live notice", NoticeChangesIn
        ),
        "/notices/{notice_id}/cancel": _action(
            "Withdraw, or propose the all-clear of a live notice", CancelIn
        ),
        "/templates": {
            "get": Operation("Notice templates", answer=TemplateList),
        },
        "/reach": {
            "post": Operation(
                "Who an unsaved area would reach; with a category, only residents a new "
                "alert of it reaches (they chose it and have not paused)",
                answer=ReachOut,
                body=ReachIn,
                errors={
                    400: "The body is not valid JSON",
                    422: "Invalid input; `field` names the first field at fault",
                },
            )
        },
    }
    add_to_document(app, paths=paths)
