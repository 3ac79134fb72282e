"""The console's administration pages that read notices: the audit log with filters.

Admins only. Every lifecycle change of every notice is an audit event
(:mod:`alerts.notices.audit`); this page finds them by who, what, when and notice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import Blueprint, g, render_template, request
from sqlalchemy import select

from alerts.errors import Forbidden
from alerts.extensions import db
from alerts.i18n import N_
from alerts.notices.models import AuditEvent
from alerts.operators.models import Operator, Role
from alerts.operators.views import login_required, remember_language
from alerts.web.labels import AUDIT_ACTION
from channels.base import from_local

bp = Blueprint("console_admin", __name__, url_prefix="/console/admin")
bp.after_request(remember_language)

PAGE_SIZE = 200


def _admin() -> None:
    if g.operator.role != Role.ADMIN:
        raise Forbidden(N_("Det här kräver rollen %(roles)s"), roles=(Role.ADMIN,))


def _day(value: str) -> datetime | None:
    try:
        return from_local(datetime.strptime(value, "%Y-%m-%d"))
    except ValueError:
        return None


@bp.get("/audit")
@login_required
def audit_log():
    """Audit events, newest first, filtered by operator, action, notice and dates."""
    _admin()
    filters = {
        name: request.args.get(name, "").strip()
        for name in ("who", "action", "notice", "since", "until")
    }
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters["who"] == "system":
        query = query.where(AuditEvent.operator_id.is_(None))
    elif filters["who"]:
        query = query.join(Operator, Operator.id == AuditEvent.operator_id).where(
            Operator.email == filters["who"]
        )
    if filters["action"] in AUDIT_ACTION:
        query = query.where(AuditEvent.action == filters["action"])
    if filters["notice"]:
        try:
            query = query.where(AuditEvent.notice_id == uuid.UUID(filters["notice"]))
        except ValueError:
            query = query.where(AuditEvent.id.is_(None))
    if since := _day(filters["since"]):
        query = query.where(AuditEvent.at >= since)
    if until := _day(filters["until"]):
        query = query.where(AuditEvent.at < until + timedelta(days=1))
    events = db.session.scalars(query.limit(PAGE_SIZE)).all()
    operators = db.session.scalars(select(Operator.email).order_by(Operator.email)).all()
    return render_template(
        "console/audit.html",
        events=events,
        filters=filters,
        operators=operators,
        actions=list(AUDIT_ACTION),
        page_size=PAGE_SIZE,
    )
