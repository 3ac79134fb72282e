"""The console's view of the local outbox: what the embedded default kept instead of sending."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from alerts.config import settings
from alerts.dispatch.models import OutboxMessage
from alerts.extensions import db
from alerts.operators.views import login_required

bp = Blueprint("dispatch_console", __name__, url_prefix="/console")


@bp.get("/outbox")
@login_required
def outbox():
    """Messages the embedded default kept instead of sending (no provider configured)."""
    rows = db.session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    ).all()
    configured = {
        "sms": settings().sms_configured,
        "email": settings().email_configured,
    }
    return render_template("console/outbox.html", messages=rows, configured=configured)
