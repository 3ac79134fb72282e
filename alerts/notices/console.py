"""The operator console's notice pages: the dashboard, the editor (new, edit, update,
all-clear), one notice with its previews, reach and delivery, and the lifecycle actions.

Which actions a page offers and which POSTs are accepted is one answer
(:mod:`alerts.notices.console_rules`). The editor's form handling lives in
:mod:`alerts.notices.console_editor`, the channel previews in
:mod:`alerts.notices.console_previews`, the reach in :mod:`alerts.notices.reach`.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from alerts.config import settings
from alerts.dispatch.approvals import approvers_told_by_email, tell_waiting, told_about
from alerts.dispatch.models import ApprovalMessageStatus, Delivery, FanoutJob, FanoutState
from alerts.dispatch.report import (
    TIMELINE_KINDS,
    delivery_report,
    delivery_timeline,
    revision_reach,
)
from alerts.errors import DomainError, FieldError, ValidationFailed
from alerts.extensions import db
from alerts.i18n import N_
from alerts.notices import audit, console_previews, console_rules
from alerts.notices import operations as notices
from alerts.notices.console_editor import (
    CHOICE_FIELDS,
    LANGUAGES,
    PROMISED,
    TEXT_FIELDS,
    Draft,
    console_message,
    errors_by_field,
    field_labels,
    municipalities,
    parse_local,
)
from alerts.notices.lifecycle import LIVE
from alerts.notices.models import (
    Category,
    Notice,
    NoticeRevision,
    NoticeStatus,
    RevisionState,
)
from alerts.notices.notice_templates import TEMPLATES, fill_template
from alerts.notices.reach import Reach, reach
from alerts.notices.schemas import (
    ALL_CHANNELS,
    REASON_MAX,
    AreaIn,
    CancelIn,
    NoticeChangesIn,
    NoticeIn,
    RejectIn,
    parse,
)
from alerts.operators.views import login_required, remember_language
from alerts.places.areas import resolve_area
from alerts.places.models import Zone
from alerts.web.labels import DELIVERY_STATUS, TABLES, error_message, label
from channels.base import from_local, local_time

bp = Blueprint("console", __name__, url_prefix="/console")
bp.after_request(remember_language)

S = NoticeStatus
R = RevisionState
#: Delivery statuses that are done (one way or the other), for progress figures.
FINISHED = ("sent", "delivered", "undelivered", "failed", "dropped", "opted_out", "accepted")


def _get(notice_id: str) -> Notice:
    try:
        return notices.get_notice(db.session, uuid.UUID(notice_id))
    except (ValueError, DomainError):
        abort(404)


def _progress(ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int, bool]]:
    """Per notice: deliveries finished, in all, and whether more are still being written."""
    if not ids:
        return {}
    writing = set(
        db.session.scalars(
            select(FanoutJob.notice_id).where(
                FanoutJob.notice_id.in_(ids),
                FanoutJob.state.in_([FanoutState.PENDING, FanoutState.EXPANDING]),
            )
        )
    )
    rows = db.session.execute(
        select(Delivery.notice_id, Delivery.status, func.count())
        .where(Delivery.notice_id.in_(ids))
        .group_by(Delivery.notice_id, Delivery.status)
    ).all()
    found: dict[uuid.UUID, tuple[int, int, bool]] = {
        notice_id: (0, 0, True) for notice_id in writing
    }
    for notice_id, status, count in rows:
        done, total, _ = found.get(notice_id, (0, 0, False))
        found[notice_id] = (
            done + (count if status in FINISHED else 0),
            total + count,
            notice_id in writing,
        )
    return found


def area_words(revision: NoticeRevision) -> str:
    """The area in words, as its texts and CAP ``areaDesc`` name it."""
    names = dict(db.session.execute(select(Zone.slug, Zone.name)).all())
    return (
        revision.area_request.get("name")
        or ", ".join(names.get(s, s) for s in revision.zone_slugs)
        or gettext("Område ritat på kartan")
    )


@bp.get("/")
@login_required
def notice_list():
    """The dashboard: what waits for me first, then active, waiting, scheduled and drafts."""
    rows = db.session.scalars(
        select(Notice)
        .where(Notice.status.not_in([S.CANCELLED, S.EXPIRED]))
        .order_by(Notice.updated_at.desc())
        .limit(500)
    ).all()
    ended = db.session.scalars(
        select(Notice)
        .where(Notice.status.in_([S.CANCELLED, S.EXPIRED]))
        .order_by(Notice.updated_at.desc())
        .limit(20)
    ).all()
    sections: dict[str, list[Notice]] = {
        "mine": [],
        "active": [],
        "waiting": [],
        "scheduled": [],
        "drafts": [],
        "ended": list(ended),
    }
    for notice in rows:
        if console_rules.waits_for(db.session, notice, g.operator):
            sections["mine"].append(notice)
        working = notice.working_revision
        if notice.status == S.ACTIVE:
            sections["active"].append(notice)
        elif notice.status == S.SCHEDULED:
            sections["scheduled"].append(notice)
        elif notice.status == S.DRAFT:
            sections["drafts"].append(notice)
        if working is not None and working.state in (R.PENDING_APPROVAL, R.APPROVED):
            sections["waiting"].append(notice)
    progress = _progress([n.id for n in rows] + [n.id for n in ended])
    return render_template(
        "console/notices.html",
        sections=sections,
        progress=progress,
        area_words=area_words,
    )


# --- the editor -----------------------------------------------------------------------


def _editor(draft: Draft, *, mode: str, notice: Notice | None = None, errors=None, status=200):
    zones = list(db.session.scalars(select(Zone).order_by(Zone.kind, Zone.name)))
    needs_confirmation = len(municipalities(db.session, draft.zones)) > 1
    return (
        render_template(
            "console/editor.html",
            draft=draft,
            mode=mode,
            notice=notice,
            zones=zones,
            errors=errors or {},
            templates=list(TEMPLATES),
            choices={name: list(TABLES[name]) for name in CHOICE_FIELDS},
            channels=list(ALL_CHANNELS),
            languages=LANGUAGES,
            text_fields=TEXT_FIELDS,
            field_labels=field_labels(),
            form=FlaskForm(),
            needs_confirmation=needs_confirmation,
            municipalities=municipalities(db.session, draft.zones),
            zones_json=_zones_geojson(zones),
            tile_url=settings().tile_url,
            tile_attribution=settings().tile_attribution,
        ),
        status,
    )


def _zones_geojson(zones: list[Zone]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"slug": z.slug, "name": z.name, "kind": z.kind},
                "geometry": z.geometry,
            }
            for z in zones
        ],
    }


def _check_municipalities(draft: Draft) -> None:
    found = municipalities(db.session, draft.zones)
    if len(found) > 1 and not draft.confirm_municipalities:
        raise ValidationFailed.on(
            "zones",
            N_(
                "Zonerna ligger i olika kommuner (%(names)s). "
                "Bekräfta att meddelandet ska gå till alla."
            ),
            names=", ".join(found),
        )


def _editor_post(mode: str, notice: Notice | None):
    """Save the editor's form: create, edit a draft or propose an update."""
    draft = Draft.from_form(request.form)
    if not FlaskForm().validate_on_submit():
        abort(400)
    if request.form.get("do") == "fill":
        try:
            draft.fill_from_template(db.session)
        except ValidationFailed as exc:
            refused = errors_by_field(exc.errors or [])
            return _editor(draft, mode=mode, notice=notice, errors=refused, status=422)
        return _editor(draft, mode=mode, notice=notice)
    try:
        _check_municipalities(draft)
        if mode == "new":
            data = parse(NoticeIn, draft.create_payload())
            notice = notices.create_notice(db.session, data, by=g.operator)
            message = gettext("Utkastet är sparat. Granska det och skicka det för godkännande.")
        else:
            assert notice is not None
            changes = parse(NoticeChangesIn, draft.change_payload())
            notices.update_notice(db.session, notice, changes, by=g.operator)
            message = (
                gettext("Utkastet är sparat.")
                if mode == "edit"
                else gettext("Uppdateringen väntar nu på godkännande.")
            )
        db.session.commit()
        if mode == "update":
            _tell(notice)
    except ValidationFailed as exc:
        db.session.rollback()
        errors = [*(exc.errors or []), *_area_problems(exc, draft, mode)]
        return _editor(draft, mode=mode, notice=notice, errors=errors_by_field(errors), status=422)
    except DomainError as exc:
        db.session.rollback()
        return _editor(
            draft, mode=mode, notice=notice, errors={"form": [error_message(exc)]}, status=409
        )
    flash(message, "ok")
    return redirect(url_for("console.notice_detail", notice_id=notice.id))


def _area_problems(refused: ValidationFailed, draft: Draft, mode: str) -> list[FieldError]:
    """The area's own check (unknown zones, a drawn boundary that crosses itself) when the
    form was refused for other fields: it runs only once they are valid, and an author in a
    hurry should mend everything in one go, not learn of the area one save later."""
    if any(e.field == "area" or e.field.startswith("area.") for e in refused.errors or []):
        return []
    payload = draft.create_payload() if mode == "new" else draft.change_payload()
    if not payload.get("area"):
        return []
    try:
        area = parse(AreaIn, payload["area"])
        resolve_area(db.session, area.model_dump(exclude_none=True))
    except ValidationFailed as exc:
        # parse() names the area's own fields from the area's root: put them back under it.
        return [
            e if e.field.startswith("area") else FieldError(f"area.{e.field}", e.message)
            for e in exc.errors or []
        ]
    return []


@bp.route("/notices/new", methods=["GET", "POST"])
@login_required
def new_notice():
    refused = console_rules.may_write(g.operator)
    if refused is not None:
        raise refused
    if request.method == "POST":
        return _editor_post("new", None)
    draft = Draft(template=request.args.get("template", ""))
    if draft.template not in TEMPLATES:
        draft.template = ""
    return _editor(draft, mode="new")


def _tell(notice: Notice) -> None:
    """Send the approval messages the committed submit wrote (the scheduler tries again
    what fails now), and say what became of them."""
    assert db.sessionmaker is not None
    counts = tell_waiting(db.session, db.sessionmaker, settings(), notice)
    waiting = notice.working_revision
    if waiting is None or waiting.state != R.PENDING_APPROVAL:
        return
    told = approvers_told_by_email(db.session, notice.id, waiting.number)
    if told:
        flash(
            ngettext(
                "%(num)d godkännare har fått e-post om att det väntar.",
                "%(num)d godkännare har fått e-post om att det väntar.",
                told,
            ),
            "ok",
        )
    if counts[ApprovalMessageStatus.PENDING]:
        flash(
            ngettext(
                "%(num)d meddelande till godkännare kunde inte skickas nu. Varsla försöker "
                "igen om en stund.",
                "%(num)d meddelanden till godkännare kunde inte skickas nu. Varsla försöker "
                "igen om en stund.",
                counts[ApprovalMessageStatus.PENDING],
            ),
            "error",
        )


def _guard(notice: Notice, action: str) -> None:
    problem = console_rules.refusal(db.session, notice, g.operator, action)
    if problem is not None:
        raise problem


@bp.route("/notices/<notice_id>/edit", methods=["GET", "POST"])
@login_required
def edit_notice(notice_id: str):
    notice = _get(notice_id)
    _guard(notice, "edit")
    if request.method == "POST":
        return _editor_post("edit", notice)
    return _editor(Draft.from_revision(notice.revisions[-1]), mode="edit", notice=notice)


@bp.route("/notices/<notice_id>/update", methods=["GET", "POST"])
@login_required
def update_notice(notice_id: str):
    notice = _get(notice_id)
    _guard(notice, "update")
    if request.method == "POST":
        return _editor_post("update", notice)
    return _editor(Draft.from_revision(notice.current_revision), mode="update", notice=notice)


def _all_clear_texts(notice: Notice) -> dict[str, dict[str, str]]:
    base = notice.current_revision
    _, texts = fill_template("all_clear", place=area_words(base), onset=None, expires=None)
    return texts


@bp.route("/notices/<notice_id>/all-clear", methods=["GET", "POST"])
@login_required
def all_clear(notice_id: str):
    """The all-clear, prefilled from its template and editable; it waits for approval."""
    notice = _get(notice_id)
    _guard(notice, "all-clear")
    texts = _all_clear_texts(notice)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not FlaskForm().validate_on_submit():
            abort(400)
        draft = Draft.from_form(request.form)
        texts = draft.texts
        try:
            data = parse(CancelIn, {"texts": draft.texts_in()})
            notices.cancel_notice(db.session, notice, data, by=g.operator)
            db.session.commit()
            _tell(notice)
            flash(gettext("Avblåsningen väntar nu på godkännande."), "ok")
            return redirect(url_for("console.notice_detail", notice_id=notice.id))
        except ValidationFailed as exc:
            db.session.rollback()
            errors, status = errors_by_field(exc.errors or []), 422
    return (
        render_template(
            "console/all_clear.html",
            notice=notice,
            texts=texts,
            errors=errors,
            languages=LANGUAGES,
            text_fields=TEXT_FIELDS,
            field_labels=field_labels(),
            form=FlaskForm(),
        ),
        status,
    )


# --- JSON helpers for the editor's script (session login, CSRF header) ------------------


def _reach_json(found: Reach) -> dict[str, Any]:
    return {
        "subscribers": found.subscribers,
        "channels": {
            channel: {"total": sum(counts.values()), "by_language": counts}
            for channel, counts in found.by_channel.items()
        },
        "addresses": found.addresses,
        "addresses_without_subscriber": found.addresses_without_subscriber,
    }


@bp.post("/reach")
@login_required
def area_reach():
    """The reach of the editor's area as it is now (``{"area": ..., "channels": [...],
    "category": ...}``); with a known category, of a new alert of it, as the fan-out
    writes it (an update's editor sends none: its earlier recipients count too)."""
    body = request.get_json(silent=True) or {}
    category = body.get("category")
    try:
        area = parse(NoticeIn, {"area": body.get("area"), "texts": {}}).area
        found = reach(
            db.session,
            area.model_dump(exclude_none=True),
            body.get("channels") or ALL_CHANNELS,
            category=category if isinstance(category, str) and category in set(Category) else None,
        )
    except ValidationFailed as exc:
        return jsonify(
            {"error": gettext("Området går inte att räkna på ännu."), "detail": str(exc.message)}
        ), 422
    return jsonify(_reach_json(found))


@bp.post("/sms-parts")
@login_required
def sms_parts():
    """Per language, the SMS the typed texts make: body, parts, encoding."""
    body = request.get_json(silent=True) or {}
    texts = body.get("texts") if isinstance(body, dict) else None
    if not isinstance(texts, dict):
        return jsonify({}), 422
    times = body.get("times") if isinstance(body.get("times"), dict) else {}
    promised = {name: parse_local(str(times.get(name) or "")) for name in PROMISED}
    return jsonify(console_previews.typed_sms(texts, **promised))


# --- one notice -----------------------------------------------------------------------


def _changes(notice: Notice) -> dict[str, Any] | None:
    """What the waiting revision changes in the published one (texts, area, fields)."""
    waiting, published = notice.working_revision, notice.published_revision
    if waiting is None or published is None:
        return None
    fields = [
        name
        for name in (*CHOICE_FIELDS, "onset", "expires", *PROMISED, "channels")
        if getattr(waiting, name) != getattr(published, name)
    ]
    texts = [
        (lang, name)
        for lang in LANGUAGES
        for name in TEXT_FIELDS
        if (waiting.texts.get(lang) or {}).get(name, "")
        != (published.texts.get(lang) or {}).get(name, "")
    ]
    return {
        "old": published,
        "new": waiting,
        "fields": fields,
        "texts": texts,
        "area": waiting.area_geojson != published.area_geojson
        or waiting.area_request.get("name") != published.area_request.get("name"),
        "old_area": area_words(published),
        "new_area": area_words(waiting),
    }


def _map_data(notice: Notice, shown: NoticeRevision) -> dict[str, Any]:
    features = []
    changes = _changes(notice)
    if changes and changes["area"]:
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "role": "old",
                    "severity": "ended",
                    "headline": gettext("Publicerat område"),
                },
                "geometry": changes["old"].area_geojson,
            }
        )
    if shown.area_geojson:
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "role": "new",
                    "severity": shown.severity,
                    "headline": area_words(shown),
                },
                "geometry": shown.area_geojson,
            }
        )
    return {"type": "FeatureCollection", "features": features}


@bp.get("/notices/<notice_id>")
@login_required
def notice_detail(notice_id: str):
    notice = _get(notice_id)
    shown = notice.working_revision or notice.current_revision
    found = revision_reach(db.session, notice, shown)
    sms_recipients = found.by_channel.get("sms", {}) if found else {}
    previews: dict[str, Any] = {}
    if notice.status not in (S.CANCELLED, S.EXPIRED) or notice.working_revision is not None:
        previews = {
            "sms": console_previews.sms_previews(db.session, notice, shown, sms_recipients)
            if "sms" in shown.channels
            else {},
            "email": {
                lang: console_previews.email_preview(db.session, notice, shown, lang)
                for lang in LANGUAGES
                if lang in shown.texts
            }
            if "email" in shown.channels
            else {},
            "documents": True,
        }
    return render_template(
        "console/notice.html",
        notice=notice,
        shown=shown,
        area=area_words(shown),
        events=audit.trail(db.session, notice),
        deliveries=_worded(delivery_report(db.session, notice.id)),
        timeline=_timeline_worded(delivery_timeline(db.session, notice.id)),
        reach=found,
        previews=previews,
        sms_price=settings().sms_price,
        reason_max=REASON_MAX,
        changes=_changes(notice),
        can=console_rules.allowed(db.session, notice, g.operator),
        map_data=_map_data(notice, shown),
        tile_url=settings().tile_url,
        tile_attribution=settings().tile_attribution,
        form=FlaskForm(),
        delivery_statuses=list(DELIVERY_STATUS),
        live=notice.status in LIVE,
        configured={"sms": settings().sms_configured, "email": settings().email_configured},
        reason_words=reason_words,
        told=told_about(db.session, notice.id, shown.number)
        if shown.state == R.PENDING_APPROVAL
        else [],
    )


PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)


@bp.get("/notices/<notice_id>/preview/<kind>")
@login_required
def preview(notice_id: str, kind: str):
    """One channel's rendering of what waits (or is current), framed by the notice page:
    ``email-sv``/``email-en`` (HTML), ``banner-sv``/``banner-en``, ``feed-sv``, ``cap``."""
    notice = _get(notice_id)
    shown = notice.working_revision or notice.current_revision
    name, _, lang = kind.partition("-")
    if kind != "cap" and lang not in LANGUAGES:
        abort(404)
    if name == "email":
        body, mimetype = (
            console_previews.email_preview(db.session, notice, shown, lang).html,
            "text/html",
        )
    elif name == "banner":
        body, mimetype = (
            console_previews.banner_preview(db.session, notice, shown, lang),
            "text/html",
        )
    elif name == "feed":
        body, mimetype = (
            console_previews.feed_preview(db.session, notice, shown, lang),
            "text/plain",
        )
    elif kind == "cap":
        body, mimetype = console_previews.cap_preview(db.session, notice, shown), "text/plain"
    else:
        abort(404)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# --- lifecycle actions ----------------------------------------------------------------


def _publish_at(form) -> datetime | None:
    value = (form.get("at") or "").strip()
    if not value:
        return None
    try:
        return from_local(datetime.strptime(value, "%Y-%m-%dT%H:%M"))
    except ValueError:
        raise ValidationFailed.on("at", N_("måste vara en tid, som 2026-12-24 08:00")) from None


def _act(action: str, notice: Notice, form) -> None:
    session, by = db.session, g.operator
    if action == "submit":
        notices.submit_notice(session, notice, by=by)
    elif action == "approve":
        notices.approve_notice(session, notice, by=by)
    elif action == "reject":
        reason = parse(RejectIn, {"reason": form.get("reason", "")}).reason
        notices.reject_notice(session, notice, by=by, reason=reason)
    elif action == "return-to-draft":
        notices.return_to_draft(session, notice, by=by)
    elif action == "publish":
        notices.publish_notice(session, notice, by=by, at=_publish_at(form))
    elif action == "emergency-publish":
        notices.publish_notice(
            session, notice, by=by, emergency_reason=(form.get("emergency_reason") or "").strip()
        )
    elif action == "withdraw":
        notices.cancel_notice(session, notice, CancelIn(), by=by)


POST_ACTIONS = (
    "submit",
    "approve",
    "reject",
    "return-to-draft",
    "publish",
    "emergency-publish",
    "withdraw",
)


@bp.post("/notices/<notice_id>/<action>")
@login_required
def notice_action(notice_id: str, action: str):
    if action == "cancel":
        action = "withdraw"  # the old console's name
    if action not in POST_ACTIONS:
        abort(404)
    notice = _get(notice_id)
    _guard(notice, action)
    try:
        _act(action, notice, request.form)
        db.session.commit()
        if action == "submit":
            _tell(notice)
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
    except ValidationFailed as exc:
        db.session.rollback()
        flash(
            "; ".join(errors_by_field_text(exc)) or error_message(exc),
            "error",
        )
    except DomainError as exc:
        db.session.rollback()
        flash(error_message(exc), "error")
    return redirect(url_for("console.notice_detail", notice_id=notice_id))


#: The lifecycle forms' typed fields, as their labels read, to name them in a refusal.
_ACTION_FIELDS = {
    "reason": N_("Skäl att avslå"),
    "emergency_reason": N_("Nödläge, skäl"),
}


def errors_by_field_text(exc: ValidationFailed) -> list[str]:
    """Each refused field's messages, led by the field's label where the form shows one
    ("Skäl att avslå: får vara högst 2000 tecken", not the message alone)."""
    found: dict[str, list[str]] = {}
    for error in exc.errors or []:
        found.setdefault(error.field, []).append(console_message(error))
    return [
        f"{gettext(_ACTION_FIELDS[field])}: {' '.join(messages)}"
        if field in _ACTION_FIELDS
        else " ".join(messages)
        for field, messages in found.items()
    ]


# --- delivery -------------------------------------------------------------------------


def fanout_words(report: dict[str, Any]) -> str:
    """While deliveries are still being written: how far, in words (else "")."""
    words = []
    for job in report["fanout"]:
        if not job["in_progress"]:
            continue
        if job.get("retry_at") is not None:
            words.append(
                gettext(
                    "Utskicken för revision %(revision)s kunde inte skrivas (misslyckade "
                    "försök: %(failures)s, det senaste: %(error)s). De försöks igen av sig själva, "
                    "och andra meddelanden skickas under tiden. Kontakta driften om det "
                    "inte går över.",
                    revision=job["revision"],
                    failures=job["failures"],
                    error=job["last_failure"],
                )
            )
        elif job["targets"] is None:
            words.append(
                gettext(
                    "Utskicken för revision %(revision)s väntar på att skrivas.",
                    revision=job["revision"],
                )
            )
        else:
            words.append(
                gettext(
                    "Utskicken för revision %(revision)s skrivs: %(done)s av %(total)s "
                    "mottagare klara.",
                    revision=job["revision"],
                    done=job["expanded"],
                    total=job["targets"],
                )
            )
    return " ".join(words)


def _worded(report: dict[str, Any]) -> dict[str, Any]:
    report = dict(report)
    report["fanout_words"] = fanout_words(report)
    report["labels"] = {
        "status": {k: str(v) for k, v in DELIVERY_STATUS.items()},
        "channel": {c: label("channel", c) for c in report["by_channel"]},
    }
    report["reasons"] = [
        {
            **r,
            "status_label": label("delivery_status", r["status"]),
            "reason": reason_words(r["error_code"], r["status"]),
        }
        for r in report["reasons"]
    ]
    report["failures"] = [
        {**f, "reason": reason_words(f["error_code"], f["status"])} for f in report["failures"]
    ]
    return report


#: Provider error codes in words (Twilio's and our own).
REASONS = {
    "21211": N_("Ogiltigt telefonnummer"),
    "21610": N_("Mottagaren har avregistrerat sig (STOP)"),
    "21614": N_("Numret kan inte ta emot SMS"),
    "30003": N_("Telefonen är avstängd eller utom räckhåll"),
    "30005": N_("Okänt eller inaktivt nummer"),
    "30006": N_("Fast telefon eller nummer som inte kan nå SMS"),
    "30007": N_("Stoppat av operatören som skräppost"),
    "30008": N_("Okänt fel hos operatören"),
    "timeout": N_("Leverantören svarade inte i tid"),
    "expired": N_("Meddelandet hann gå ut innan det skickades"),
}


def reason_words(code: str | None, status: str) -> str:
    if code and code in REASONS:
        return gettext(REASONS[code])
    if code:
        return gettext("Felkod %(code)s", code=code)
    return label("delivery_status", status)


@bp.get("/notices/<notice_id>/deliveries.json")
@login_required
def deliveries_json(notice_id: str):
    """The delivery counts the notice page polls every few seconds."""
    notice = _get(notice_id)
    return jsonify(_worded(delivery_report(db.session, notice.id)))


#: The delivery chart's series in words.
TIMELINE_WORDS = {
    "sent": N_("Skickade"),
    "delivered": N_("Levererade"),
    "failed": N_("Misslyckade"),
}


def _timeline_worded(timeline: dict[str, Any]) -> dict[str, Any]:
    """The timeline with its labels in the reader's language: each bucket's Swedish time
    (``14:05``, or ``24 nov 14:00`` when buckets are hours or more), channels and series."""
    fmt = "%H:%M" if timeline["bucket_s"] < 3600 else "%d/%m %H:%M"
    return {
        **timeline,
        "bucket_labels": [local_time(b, fmt) for b in timeline["buckets"]],
        "bucket_words": gettext("per minut")
        if timeline["bucket_s"] == 60
        else gettext("per %(num)s minuter", num=timeline["bucket_s"] // 60),
        "labels": {
            "kinds": {kind: gettext(TIMELINE_WORDS[kind]) for kind in TIMELINE_KINDS},
            "channels": {c: label("channel", c) for c in timeline["series"]},
        },
    }


@bp.get("/notices/<notice_id>/deliveries/timeline.json")
@login_required
def delivery_timeline_json(notice_id: str):
    """Sent, delivered and failed per minute (or wider bucket) and channel, for the chart."""
    notice = _get(notice_id)
    return jsonify(_timeline_worded(delivery_timeline(db.session, notice.id)))


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ (or tab, CR) could start a
    formula, so such a cell gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/notices/<notice_id>/deliveries.csv")
@login_required
def deliveries_csv(notice_id: str):
    notice = _get(notice_id)
    report = _worded(delivery_report(db.session, notice.id))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([gettext("Revision"), gettext("Kanal"), gettext("Status"), gettext("Antal")])
    for number, channels in sorted(report["by_revision"].items()):
        for channel, counts in channels.items():
            for status, count in counts.items():
                writer.writerow(
                    [
                        csv_cell(v)
                        for v in (
                            number,
                            label("channel", channel),
                            label("delivery_status", status),
                            count,
                        )
                    ]
                )
    writer.writerow([])
    writer.writerow(
        [
            gettext("Mottagare"),
            gettext("Kanal"),
            gettext("Rev."),
            gettext("Status"),
            gettext("Försök"),
            gettext("Orsak"),
            gettext("Fel"),
            gettext("Tid"),
        ]
    )
    for f in report["failures"]:
        writer.writerow(
            [
                csv_cell(v)
                for v in (
                    f["recipient"],
                    label("channel", f["channel"]),
                    f["revision"],
                    label("delivery_status", f["status"]),
                    f["attempts"],
                    f["reason"],
                    f["error"],
                    f["updated_at"],
                )
            ]
        )
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="utskick-{notice.id}.csv"'
    return response
