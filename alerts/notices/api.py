"""The JSON API, ``/api/v1``. Views parse, call one service, commit, and answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from alerts.config import settings
from alerts.errors import DomainError, MalformedRequest, NotFound
from alerts.extensions import db
from alerts.notices import audit
from alerts.notices import operations as notices
from alerts.notices.models import Notice
from alerts.notices.notice_templates import TEMPLATES
from alerts.notices.schemas import (
    CancelIn,
    EmptyIn,
    NoticeChangesIn,
    NoticeIn,
    PublishIn,
    RejectIn,
    parse,
)
from alerts.notices.serializers import audit_json, notice_json
from alerts.operators.auth import operator_for_api_key
from alerts.web.pagination import page

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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
    response = jsonify(notice_json(notice, base_url=_base_url()))
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_notice", notice_id=notice.id)
    return response


@bp.get("/notices")
@operator_required
def list_notices():
    """Notices, newest first; ``?status=`` filters."""
    query = select(Notice)
    if status := request.args.get("status"):
        query = query.where(Notice.status == status)
    query = query.order_by(Notice.created_at.desc(), Notice.id)
    return jsonify(page(db.session, query, lambda n: notice_json(n, base_url=_base_url())))


@bp.post("/notices")
@operator_required
def create_notice():
    data = parse(NoticeIn, json_body())
    return _answer(notices.create_notice(db.session, data, by=g.operator), 201)


@bp.get("/notices/<notice_id>")
@operator_required
def get_notice(notice_id: str):
    return jsonify(notice_json(notice_or_404(notice_id), base_url=_base_url()))


@bp.get("/notices/<notice_id>/audit")
@operator_required
def notice_audit(notice_id: str):
    events = audit.trail(db.session, notice_or_404(notice_id))
    return jsonify({"items": [audit_json(e) for e in events], "next": None})


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


@bp.get("/templates")
@operator_required
def list_templates():
    return jsonify(
        {
            "items": [
                {
                    "key": t.key,
                    "category": t.category,
                    "severity": t.severity,
                    "urgency": t.urgency,
                    "certainty": t.certainty,
                    "texts": t.texts,
                }
                for t in TEMPLATES.values()
            ],
            "next": None,
        }
    )
