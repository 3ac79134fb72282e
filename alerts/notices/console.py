"""The operator console's notice pages: the list, a new notice, one notice, and the lifecycle
actions as forms."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateTimeLocalField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Optional

from alerts.config import settings
from alerts.dispatch.report import delivery_report, revision_sms_preview
from alerts.errors import DomainError, ValidationFailed
from alerts.extensions import db
from alerts.notices import audit
from alerts.notices import operations as notices
from alerts.notices.models import Notice
from alerts.notices.notice_templates import TEMPLATES
from alerts.notices.schemas import CancelIn, NoticeIn, RejectIn, parse
from alerts.operators.views import login_required
from alerts.places.models import Zone
from alerts.web.labels import DELIVERY_STATUS, choices, error_message, label
from channels.base import from_local

bp = Blueprint("console", __name__, url_prefix="/console")


class NewNoticeForm(FlaskForm):
    template = SelectField(lazy_gettext("Mall"), choices=choices("template", TEMPLATES))
    zones = SelectMultipleField(lazy_gettext("Zoner"), validators=[DataRequired()])
    place = StringField(lazy_gettext("Platsnamn (valfritt)"))
    onset = DateTimeLocalField(
        lazy_gettext("Börjar"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    expires = DateTimeLocalField(
        lazy_gettext("Upphör"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


@bp.get("/")
@login_required
def notice_list():
    rows = db.session.scalars(select(Notice).order_by(Notice.created_at.desc()).limit(200)).all()
    return render_template("console/notices.html", notices=rows)


@bp.route("/notices/new", methods=["GET", "POST"])
@login_required
def new_notice():
    form = NewNoticeForm()
    form.zones.choices = [
        (z.slug, z.name) for z in db.session.scalars(select(Zone).order_by(Zone.name))
    ]
    errors: list = []
    if form.validate_on_submit():
        payload = {
            "template": form.template.data,
            "template_values": {"place": form.place.data} if form.place.data else {},
            "area": {"zones": form.zones.data},
            "onset": from_local(form.onset.data) if form.onset.data else None,
            "expires": from_local(form.expires.data) if form.expires.data else None,
        }
        try:
            data = parse(NoticeIn, {k: v for k, v in payload.items() if v is not None})
            notice = notices.create_notice(db.session, data, by=g.operator)
            db.session.commit()
            return redirect(url_for("console.notice_detail", notice_id=notice.id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
    return render_template("console/new.html", form=form, errors=errors)


def _get(notice_id: str) -> Notice:
    try:
        return notices.get_notice(db.session, uuid.UUID(notice_id))
    except (ValueError, DomainError):
        abort(404)


@bp.get("/notices/<notice_id>")
@login_required
def notice_detail(notice_id: str):
    notice = _get(notice_id)
    return render_template(
        "console/notice.html",
        notice=notice,
        events=audit.trail(db.session, notice),
        deliveries=delivery_report(db.session, notice.id),
        sms=revision_sms_preview(
            db.session,
            notice,
            notice.working_revision or notice.current_revision,
            settings().base_url,
        ),
        form=FlaskForm(),
        delivery_statuses=list(DELIVERY_STATUS),
    )


ACTIONS: dict[str, Callable[..., Notice]] = {
    "submit": lambda s, n, by, f: notices.submit_notice(s, n, by=by),
    "approve": lambda s, n, by, f: notices.approve_notice(s, n, by=by),
    "reject": lambda s, n, by, f: notices.reject_notice(
        s, n, by=by, reason=parse(RejectIn, {"reason": f.get("reason", "")}).reason
    ),
    "return-to-draft": lambda s, n, by, f: notices.return_to_draft(s, n, by=by),
    "publish": lambda s, n, by, f: notices.publish_notice(
        s, n, by=by, emergency_reason=f.get("emergency_reason") or None
    ),
    "cancel": lambda s, n, by, f: notices.cancel_notice(s, n, CancelIn(), by=by),
}


@bp.post("/notices/<notice_id>/<action>")
@login_required
def notice_action(notice_id: str, action: str):
    if action not in ACTIONS:
        abort(404)
    notice = _get(notice_id)
    try:
        ACTIONS[action](db.session, notice, g.operator, request.form)
        db.session.commit()
        status = label("notice_status", notice.status)
        if notice.working_revision is not None:
            flash(
                gettext(
                    "Klart. Meddelandet: %(status)s; revision %(number)s: %(state)s.",
                    status=status,
                    number=notice.working_revision.number,
                    state=label("revision_state", notice.working_revision.state),
                ),
                "ok",
            )
        else:
            flash(gettext("Klart. Meddelandet: %(status)s.", status=status), "ok")
    except DomainError as exc:
        db.session.rollback()
        flash(error_message(exc), "error")
    return redirect(url_for("console.notice_detail", notice_id=notice_id))
