"""The console's training mode: the test group (admins), "send as exercise" (whoever may
write notices) and the exercise runs with their deliveries (every operator)."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, gettext, ngettext
from flask_wtf import FlaskForm

from alerts.dispatch import exercise
from alerts.errors import DomainError, Forbidden, ValidationFailed
from alerts.extensions import db
from alerts.i18n import N_
from alerts.notices import operations as notices
from alerts.notices.console_rules import may_write
from alerts.notices.models import Notice, NoticeRevision
from alerts.notices.snapshots import build_snapshot
from alerts.operators.models import Operator, Role
from alerts.operators.views import login_required, remember_language
from alerts.residents.contacts import display_phone
from alerts.web.labels import DELIVERY_STATUS, error_message, field_message
from channels.cap import render_cap

bp = Blueprint("exercise_console", __name__, url_prefix="/console")
bp.after_request(remember_language)


def field_errors(exc: ValidationFailed) -> dict[str, list[str]]:
    """Each field's messages in the reader's language (shown next to the field)."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(error.field, []).append(field_message(error))
    return errors or {"form": [error_message(exc)]}


def get_locale_language() -> str:
    return str(get_locale() or "sv")


def _admin() -> None:
    if g.operator.role != Role.ADMIN:
        raise Forbidden(N_("Det här kräver rollen %(roles)s"), roles=(Role.ADMIN,))


def _group_page(status: int = 200, **shown):
    shown.setdefault("errors", {})
    shown.setdefault("values", {})
    return (
        render_template(
            "console/test_group.html",
            members=exercise.list_members(db.session),
            form=FlaskForm(),
            display_phone=display_phone,
            **shown,
        ),
        status,
    )


@bp.route("/admin/test-group", methods=["GET", "POST"])
@login_required
def test_group():
    """Admins add and remove the test group's members (their own phones and mailboxes)."""
    _admin()
    if request.method == "GET":
        return _group_page()
    if not FlaskForm().validate_on_submit():
        abort(400)
    form = request.form
    try:
        if form.get("do") == "remove":
            exercise.remove_member(db.session, int(form.get("member", 0)))
            message = gettext("Mottagaren är borttagen ur testgruppen.")
        elif form.get("do") == "add":
            member = exercise.add_member(
                db.session,
                name=form.get("name", ""),
                phone=form.get("phone", ""),
                email=form.get("email", ""),
                language=form.get("language", "sv"),
            )
            message = gettext("%(name)s är tillagd i testgruppen.", name=member.name)
        else:
            abort(400)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        values = {k: form.get(k, "") for k in ("name", "phone", "email", "language")}
        return _group_page(422, errors=field_errors(exc), values=values)
    except ValueError:
        abort(400)
    flash(message, "ok")
    return redirect(url_for(".test_group"))


def _notice(notice_id: str) -> Notice:
    try:
        return notices.get_notice(db.session, uuid.UUID(notice_id))
    except (ValueError, DomainError):
        abort(404)


@bp.post("/notices/<notice_id>/exercise")
@login_required
def send_exercise(notice_id: str):
    """Send one revision (the latest unless ``revision`` names one) to the test group."""
    notice = _notice(notice_id)
    refused = may_write(g.operator)
    if refused is not None:
        raise refused
    if not FlaskForm().validate_on_submit():
        abort(400)
    wanted = request.form.get("revision", "")
    revisions = {str(r.number): r for r in notice.revisions}
    revision = revisions.get(wanted) if wanted else notice.revisions[-1]
    if revision is None:
        abort(404)
    try:
        run = exercise.send_exercise(db.session, notice, revision, by=g.operator)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        flash(error_message(exc) if not exc.errors else field_errors(exc).popitem()[1][0], "error")
        return redirect(url_for("console.notice_detail", notice_id=notice.id) + "#exercise")
    count = len(run.recipients)
    flash(
        ngettext(
            "Övningen skickas till %(num)d mottagare i testgruppen.",
            "Övningen skickas till %(num)d mottagare i testgruppen.",
            count,
        ),
        "ok",
    )
    return redirect(url_for(".exercise_run", run_id=run.id))


@bp.get("/exercises")
@login_required
def exercise_list():
    runs = exercise.list_runs(db.session)
    notice_ids = {run.notice_id for run in runs}
    headlines = (
        {
            n.id: (n.revisions[-1].texts.get("sv") or {}).get("headline", "")
            for n in db.session.query(Notice).filter(Notice.id.in_(notice_ids))
        }
        if notice_ids
        else {}
    )
    starters = {
        o.id: o.email
        for o in db.session.query(Operator).filter(
            Operator.id.in_({r.started_by_id for r in runs if r.started_by_id})
        )
    }
    return render_template(
        "console/exercises.html", runs=runs, headlines=headlines, starters=starters
    )


@bp.get("/exercises/<run_id>")
@login_required
def exercise_run(run_id: str):
    try:
        run = exercise.get_run(db.session, run_id)
    except DomainError:
        abort(404)
    notice = db.session.get(Notice, run.notice_id)
    starter = db.session.get(Operator, run.started_by_id) if run.started_by_id else None
    revision = db.session.get(NoticeRevision, run.revision_id)
    texts = revision.texts if revision is not None else {}
    headline = (texts.get(get_locale_language()) or texts.get("sv") or {}).get("headline", "")
    return render_template(
        "console/exercise.html",
        run=run,
        notice=notice,
        headline=headline,
        starter=starter,
        report=exercise.run_report(db.session, run),
        delivery_statuses=list(DELIVERY_STATUS),
        display_phone=display_phone,
    )


@bp.get("/exercises/<run_id>/cap.xml")
@login_required
def exercise_cap(run_id: str):
    """The run's revision as a CAP 1.2 document with ``<status>Exercise</status>``: what a
    CAP consumer would be sent in a drill. Only in the console, never a public URL."""
    try:
        run = exercise.get_run(db.session, run_id)
    except DomainError:
        abort(404)
    notice = db.session.get(Notice, run.notice_id)
    revision = db.session.get(NoticeRevision, run.revision_id)
    if notice is None or revision is None:
        abort(404)
    snapshot = build_snapshot(db.session, notice, revision, exercise=True)
    return Response(render_cap(snapshot), mimetype="application/cap+xml")
