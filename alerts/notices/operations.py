"""Notice operations: create, submit, approve, reject, publish, update, cancel, expire.

Every function takes a Session, changes state, flushes and writes audit
events; none commits. The caller (a request, a CLI command, a job) commits
once. Content lives in immutable revisions: an update or an all-clear is a new
revision that passes the same two-person approval as the original.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.db import rowcount
from alerts.errors import Forbidden, InvalidTransition, NotFound, TwoPersonRule, ValidationFailed
from alerts.i18n import N_
from alerts.notices import audit
from alerts.notices.lifecycle import LIVE, move_notice, move_revision
from alerts.notices.models import (
    AuditEvent,
    MsgType,
    Notice,
    NoticeRevision,
    NoticeStatus,
    RevisionState,
)
from alerts.notices.notice_templates import fill_template
from alerts.notices.schemas import (
    REQUIRED_LANGUAGES,
    TEXT_LIMITS,
    CancelIn,
    NoticeChangesIn,
    NoticeIn,
    check_times,
)
from alerts.operators.models import Operator, Role
from alerts.orm import utcnow
from alerts.places.areas import resolve_area
from alerts.places.models import Zone
from alerts.signals import revision_released, revision_submitted
from alerts.text import clean_text

logger = logging.getLogger(__name__)

S = NoticeStatus
R = RevisionState


def get_notice(session: Session, notice_id: Any) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(N_("Meddelandet finns inte"))
    return notice


def _require(by: Operator, *roles: Role) -> None:
    if not by.can(*roles):
        raise Forbidden(N_("Det här kräver rollen %(roles)s"), roles=roles)


def _zone_names(session: Session, slugs: list[str]) -> str:
    if not slugs:
        return ""
    names = dict(session.execute(select(Zone.slug, Zone.name).where(Zone.slug.in_(slugs))).all())
    return ", ".join(names.get(s, s) for s in slugs)


def area_name(session: Session, data: NoticeIn) -> str:
    """The area in words: the place typed (template value or area name), else its zones'."""
    return (
        data.template_values.get("place") or data.area.name or _zone_names(session, data.area.zones)
    )


def _texts(session: Session, data: NoticeIn) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    """Texts from the request, filled from the template where it leaves gaps."""
    defaults: dict[str, Any] = {}
    texts: dict[str, dict[str, str]] = {}
    if data.template:
        place = area_name(session, data)
        if not place:
            # A drawn area has no name of its own: "Koka vattnet i" helps nobody.
            raise ValidationFailed.on(
                "template_values.place",
                N_("ange ett platsnamn: mallen behöver det och området har inga zoner"),
            )
        template, texts = fill_template(
            data.template,
            place=place,
            onset=data.onset,
            expires=data.expires,
            values=data.template_values,
        )
        defaults = {
            "category": template.category,
            "severity": template.severity,
            "urgency": template.urgency,
            "certainty": template.certainty,
        }
    for language, text in data.texts.items():
        texts[language] = text.model_dump()
    return texts, defaults


def _check_texts(texts: dict[str, dict[str, str]]) -> None:
    """Every required language is there, and texts filled in from a template keep within
    the same limits as typed ones (a long place name can push a headline past them)."""
    for required in REQUIRED_LANGUAGES:
        if required not in texts:
            raise ValidationFailed.on(f"texts.{required}", N_("språket måste finnas med"))
    for language, fields in texts.items():
        for name, value in fields.items():
            try:
                clean_text(value, max_length=TEXT_LIMITS.get(name), multiline=name != "headline")
            except ValueError as exc:
                raise ValidationFailed.on(f"texts.{language}.{name}", str(exc)) from None


def create_notice(session: Session, data: NoticeIn, *, by: Operator) -> Notice:
    """A new draft notice with its first revision."""
    _require(by, Role.AUTHOR, Role.APPROVER)
    texts, defaults = _texts(session, data)
    _check_texts(texts)
    fields = {}
    for name in ("category", "severity", "urgency", "certainty"):
        value = getattr(data, name) or defaults.get(name)
        if value is None:
            raise ValidationFailed.on(name, N_("måste anges (eller välj en mall)"))
        fields[name] = value
    now = utcnow()
    if data.expires is not None and data.expires <= now:
        raise ValidationFailed.on("expires", N_("måste ligga i framtiden"))
    _check_promised_times(data.next_update, data.expected_restoration, now=now)
    area_request = data.area.model_dump(exclude_none=True)
    if "name" not in area_request and data.template_values.get("place"):
        area_request["name"] = data.template_values["place"]
    area_geojson, bbox = resolve_area(session, area_request)
    notice = Notice(
        status=S.DRAFT,
        onset=data.onset,
        expires=data.expires,
        severity=fields["severity"],
        category=fields["category"],
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    revision = NoticeRevision(
        number=1,
        msg_type=MsgType.ALERT,
        state=R.DRAFT,
        texts=texts,
        area_request=area_request,
        area_geojson=area_geojson,
        area_bbox=bbox,
        onset=data.onset,
        expires=data.expires,
        next_update=data.next_update,
        expected_restoration=data.expected_restoration,
        channels=list(data.channels),
        template=data.template,
        created_by=by,
        created_at=now,
        **fields,
    )
    notice.revisions.append(revision)
    session.add(notice)
    session.flush()
    audit.record(
        session,
        "create",
        notice=notice,
        by=by,
        revision=1,
        to_status=S.DRAFT,
        template=data.template,
    )
    return notice


def _apply_changes(
    session: Session, base: NoticeRevision, changes: NoticeChangesIn
) -> dict[str, Any]:
    """The fields of a revision made from ``base`` with ``changes`` applied."""
    texts = {lang: dict(text) for lang, text in base.texts.items()}
    if changes.texts is not None:
        for language, text in changes.texts.items():
            texts[language] = text.model_dump()
    area_request = base.area_request
    area_geojson, bbox = base.area_geojson, base.area_bbox
    if changes.area is not None:
        area_request = changes.area.model_dump(exclude_none=True)
        area_geojson, bbox = resolve_area(session, area_request)
    fields: dict[str, Any] = {
        "category": changes.category or base.category,
        "severity": changes.severity or base.severity,
        "urgency": changes.urgency or base.urgency,
        "certainty": changes.certainty or base.certainty,
        "texts": texts,
        "area_request": area_request,
        "area_geojson": area_geojson,
        "area_bbox": bbox,
        "onset": changes.onset or base.onset,
        "expires": changes.expires or base.expires,
        "channels": list(changes.channels) if changes.channels is not None else base.channels,
    }
    now = utcnow()
    for name in PROMISED_TIMES:
        if name in changes.model_fields_set:
            fields[name] = getattr(changes, name)
        else:
            # A promise already due says nothing about the update: it is dropped, not repeated.
            kept = getattr(base, name)
            fields[name] = kept if kept is not None and kept > now else None
    if fields["onset"] and fields["expires"] and fields["expires"] <= fields["onset"]:
        raise ValidationFailed.on("expires", N_("måste vara efter starttiden"))
    if changes.expires is not None and changes.expires <= now:
        raise ValidationFailed.on("expires", N_("måste ligga i framtiden"))
    try:
        check_times(
            fields["onset"],
            fields["expires"],
            fields["next_update"],
            fields["expected_restoration"],
        )
    except ValueError as exc:
        field, _, message = str(exc).partition(" ")
        raise ValidationFailed.on(field, TIME_RULES.get(message, message)) from None
    _check_promised_times(
        changes.next_update if "next_update" in changes.model_fields_set else None,
        changes.expected_restoration
        if "expected_restoration" in changes.model_fields_set
        else None,
        now=now,
    )
    _check_texts(texts)
    return fields


#: Times a revision promises residents; optional, shown by every channel.
PROMISED_TIMES = ("next_update", "expected_restoration")
#: :func:`check_times`'s words as the console's msgids.
TIME_RULES = {
    "must be after onset": N_("måste vara efter starttiden"),
    "must not be after expires": N_("får inte vara efter sluttiden"),
}


def _check_promised_times(
    next_update: datetime | None, expected_restoration: datetime | None, *, now: datetime
) -> None:
    """A promise about the future cannot lie in the past."""
    if next_update is not None and next_update <= now:
        raise ValidationFailed.on("next_update", N_("måste ligga i framtiden"))
    if expected_restoration is not None and expected_restoration <= now:
        raise ValidationFailed.on("expected_restoration", N_("måste ligga i framtiden"))


def _changed(old: NoticeRevision, fields: dict[str, Any]) -> list[str]:
    return sorted(name for name, value in fields.items() if getattr(old, name) != value)


def update_notice(
    session: Session, notice: Notice, changes: NoticeChangesIn, *, by: Operator
) -> Notice:
    """Change a notice: edit a draft in place, or propose an update of a live notice.

    An update of a scheduled or active notice is a new revision waiting for a
    second person's approval; the notice keeps saying what it said until then.
    """
    _require(by, Role.AUTHOR, Role.APPROVER)
    if notice.status == S.DRAFT:
        revision = notice.revisions[-1]
        fields = _apply_changes(session, revision, changes)
        changed = _changed(revision, fields)
        for name, value in fields.items():
            setattr(revision, name, value)
        _sync_notice(notice, revision)
        session.flush()
        audit.record(
            session, "edit", notice=notice, by=by, revision=revision.number, changed=changed
        )
        return notice
    if notice.status not in LIVE:
        raise InvalidTransition(
            N_("Kan inte %(action)s ett meddelande med status %(status)s"),
            action="update",
            status=notice.status,
        )
    if notice.working_revision is not None:
        raise InvalidTransition(
            N_("Revision %(number)s väntar redan; godkänn eller avslå den först"),
            number=notice.working_revision.number,
        )
    base = notice.current_revision
    fields = _apply_changes(session, base, changes)
    changed = _changed(base, fields)
    if not changed:
        raise ValidationFailed.on("body", N_("inget skulle ändras"))
    revision = _new_revision(notice, by, MsgType.UPDATE, fields)
    session.flush()
    audit.record(
        session, "propose_update", notice=notice, by=by, revision=revision.number, changed=changed
    )
    revision_submitted.send(notice, session=session, revision=revision)
    return notice


def _new_revision(
    notice: Notice, by: Operator, msg_type: MsgType, fields: dict[str, Any]
) -> NoticeRevision:
    now = utcnow()
    revision = NoticeRevision(
        number=notice.revisions[-1].number + 1,
        msg_type=msg_type,
        state=R.PENDING_APPROVAL,
        created_by=by,
        created_at=now,
        submitted_by=by,
        submitted_at=now,
        **fields,
    )
    notice.revisions.append(revision)
    notice.updated_at = now
    return revision


def submit_notice(session: Session, notice: Notice, *, by: Operator) -> Notice:
    """Send a draft for approval."""
    _require(by, Role.AUTHOR, Role.APPROVER)
    revision = notice.revisions[-1]
    old = move_notice(notice, S.PENDING_APPROVAL, action="submit")
    move_revision(revision, R.PENDING_APPROVAL, action="submit")
    revision.submitted_by = by
    revision.submitted_at = notice.updated_at = utcnow()
    session.flush()
    _record_move(session, "submit", notice, revision, by=by, old=old)
    revision_submitted.send(notice, session=session, revision=revision)
    return notice


def _record_move(
    session: Session,
    action: str,
    notice: Notice,
    revision: NoticeRevision,
    *,
    by: Operator,
    old: str,
    **details: Any,
) -> None:
    """Audit a lifecycle step of ``revision``: who, and the notice's status before and after."""
    audit.record(
        session,
        action,
        notice=notice,
        by=by,
        revision=revision.number,
        from_status=old,
        to_status=notice.status,
        **details,
    )


def revision_authors(session: Session, notice: Notice, revision: NoticeRevision) -> set[int]:
    """Everyone who wrote, edited or submitted ``revision``: its creator, its submitter and,
    from the audit trail, whoever edited it in place (which makes them an author too)."""
    editors = session.scalars(
        select(AuditEvent.operator_id).where(
            AuditEvent.notice_id == notice.id,
            AuditEvent.revision == revision.number,
            AuditEvent.action == "edit",
            AuditEvent.operator_id.is_not(None),
        )
    ).all()
    people = {revision.created_by_id, revision.submitted_by_id, *editors}
    return {person for person in people if person is not None}


def _awaiting(notice: Notice, action: str) -> NoticeRevision:
    revision = notice.working_revision
    if revision is None:
        raise InvalidTransition(
            N_("Kan inte %(action)s: inget väntar (meddelandet har status %(status)s)"),
            action=action,
            status=notice.status,
        )
    return revision


def approve_notice(session: Session, notice: Notice, *, by: Operator) -> Notice:
    """Approve what waits: a submitted draft, an update or an all-clear.

    Nobody who wrote, edited or submitted any part of a revision can approve it.
    """
    _require(by, Role.APPROVER)
    revision = _awaiting(notice, "approve")
    if by.id in revision_authors(session, notice, revision):
        raise TwoPersonRule(
            N_(
                "Du skrev, redigerade eller skickade in det här; "
                "en annan godkännare måste godkänna det"
            )
        )
    move_revision(revision, R.APPROVED, action="approve")
    old = notice.status
    if notice.status == S.PENDING_APPROVAL:
        move_notice(notice, S.APPROVED, action="approve")
    revision.approved_by = by
    revision.approved_at = notice.updated_at = utcnow()
    session.flush()
    _record_move(session, "approve", notice, revision, by=by, old=old)
    return notice


def reject_notice(session: Session, notice: Notice, *, by: Operator, reason: str) -> Notice:
    """Send a draft back to its author with a reason, or turn down an update."""
    _require(by, Role.APPROVER)
    revision = _awaiting(notice, "reject")
    if revision.state == R.DRAFT:
        raise InvalidTransition(N_("Kan inte avslå ett utkast som inte skickats för godkännande"))
    old = notice.status
    if notice.status in (S.PENDING_APPROVAL, S.APPROVED):
        move_notice(notice, S.DRAFT, action="reject")
        move_revision(revision, R.DRAFT, action="reject")
    else:
        move_revision(revision, R.REJECTED, action="reject")
    revision.reason = reason
    revision.approved_by = None
    revision.approved_at = None
    notice.updated_at = utcnow()
    session.flush()
    _record_move(session, "reject", notice, revision, by=by, old=old, reason=reason)
    return notice


def return_to_draft(session: Session, notice: Notice, *, by: Operator) -> Notice:
    """The author takes a submitted or approved notice back to change it."""
    _require(by, Role.AUTHOR, Role.APPROVER)
    revision = notice.revisions[-1]
    old = move_notice(notice, S.DRAFT, action="return to draft")
    move_revision(revision, R.DRAFT, action="return to draft")
    revision.approved_by = None
    revision.approved_at = None
    notice.updated_at = utcnow()
    session.flush()
    _record_move(session, "return_to_draft", notice, revision, by=by, old=old)
    return notice


def publish_notice(
    session: Session,
    notice: Notice,
    *,
    by: Operator,
    at: datetime | None = None,
    emergency_reason: str | None = None,
) -> Notice:
    """Publish what was approved: now, or at ``at`` (the notice is then scheduled).

    Without approval only an admin may publish, and only by giving an
    emergency reason, which the audit trail keeps.
    """
    _require(by, Role.AUTHOR, Role.APPROVER)
    revision = _awaiting(notice, "publish")
    emergency = revision.state != R.APPROVED
    if emergency:
        if not emergency_reason:
            raise TwoPersonRule(
                N_("Det här måste godkännas av en andra person innan det publiceras")
            )
        if by.role != Role.ADMIN:
            raise Forbidden(
                N_("Bara en administratör får publicera utan godkännande, i ett nödläge")
            )
    now = utcnow()
    if at is not None and at <= now:
        at = None
    if revision.expires is not None and revision.expires <= now:
        raise ValidationFailed.on("expires", N_("har passerat; ändra den innan du publicerar"))
    if revision.next_update is not None and revision.next_update <= now:
        raise ValidationFailed.on("next_update", N_("har passerat; ändra den innan du publicerar"))
    old = notice.status
    was_public = notice.status == S.ACTIVE
    if was_public:
        target = S.ACTIVE
        if at is not None:
            raise ValidationFailed.on(
                "at", N_("en uppdatering av ett aktivt meddelande går ut direkt")
            )
    else:
        if at is None and notice.status == S.SCHEDULED:
            at = notice.publish_at  # an update of a scheduled notice keeps its schedule
        target = S.SCHEDULED if at is not None else S.ACTIVE
    move_notice(notice, target, action="publish")
    move_revision(revision, R.PUBLISHED, action="publish")
    if revision.msg_type != MsgType.CANCEL:
        # Only what people have already seen is "updated"; a schedule revised in time is new.
        revision.msg_type = MsgType.UPDATE if was_public else MsgType.ALERT
    revision.published_by = by
    revision.published_at = now
    if emergency:
        revision.reason = emergency_reason
    notice.publish_at = at
    _sync_notice(notice, revision)
    notice.updated_at = now
    action = "emergency_publish" if emergency else "publish"
    if revision.msg_type == MsgType.CANCEL:
        move_notice(notice, S.CANCELLED, action="publish the all-clear for")
        notice.ended_at = now
        action = "publish_all_clear" if not emergency else "emergency_all_clear"
    session.flush()
    audit.record(
        session,
        action,
        notice=notice,
        by=by,
        revision=revision.number,
        from_status=old,
        to_status=notice.status,
        reason=emergency_reason,
        scheduled_for=at.isoformat() if at else None,
    )
    if notice.status in (S.ACTIVE, S.CANCELLED):
        _release(session, notice, revision, now)
    return notice


def _sync_notice(notice: Notice, revision: NoticeRevision) -> None:
    notice.onset = revision.onset
    notice.expires = revision.expires
    notice.severity = revision.severity
    notice.category = revision.category


def _release(session: Session, notice: Notice, revision: NoticeRevision, now: datetime) -> None:
    if notice.published_at is None:
        notice.published_at = now
    revision_released.send(notice, session=session, revision=revision, now=now)


def cancel_notice(session: Session, notice: Notice, data: CancelIn, *, by: Operator) -> Notice:
    """End a notice.

    A notice nobody has received yet (draft, waiting, approved, scheduled) is
    withdrawn at once. A live one gets an all-clear revision that passes the
    same approval as the original before it goes out to the same people.
    """
    _require(by, Role.AUTHOR, Role.APPROVER)
    if notice.status != S.ACTIVE:
        old = move_notice(notice, S.CANCELLED, action="cancel")
        for revision in notice.revisions:
            if revision.state in (R.DRAFT, R.PENDING_APPROVAL, R.APPROVED):
                move_revision(revision, R.WITHDRAWN, action="withdraw")
        notice.ended_at = notice.updated_at = utcnow()
        session.flush()
        audit.record(
            session, "withdraw", notice=notice, by=by, from_status=old, to_status=notice.status
        )
        return notice
    if notice.working_revision is not None:
        waiting = notice.working_revision
        move_revision(waiting, R.WITHDRAWN, action="withdraw")
        audit.record(session, "withdraw_update", notice=notice, by=by, revision=waiting.number)
    base = notice.current_revision
    texts: dict[str, dict[str, str]]
    if data.texts:
        texts = {lang: text.model_dump() for lang, text in data.texts.items()}
    else:
        place = (
            base.area_request.get("name")
            or _zone_names(session, base.zone_slugs)
            or base.texts.get("sv", {}).get("headline", "")
        )
        _, texts = fill_template("all_clear", place=place, onset=None, expires=None)
    _check_texts(texts)
    fields = {
        "category": base.category,
        "severity": "Minor",
        "urgency": "Past",
        "certainty": "Observed",
        "texts": texts,
        "area_request": base.area_request,
        "area_geojson": base.area_geojson,
        "area_bbox": base.area_bbox,
        "onset": base.onset,
        "expires": base.expires,
        "channels": base.channels,
    }
    revision = _new_revision(notice, by, MsgType.CANCEL, fields)
    session.flush()
    audit.record(session, "propose_all_clear", notice=notice, by=by, revision=revision.number)
    revision_submitted.send(notice, session=session, revision=revision)
    return notice


def activate_due(session: Session, *, now: datetime | None = None) -> list[Notice]:
    """Publish scheduled notices whose time has come. Safe to run anywhere, any number of times.

    The status change is a guarded UPDATE, so when two schedulers race only
    one of them wins each notice and releases it.
    """
    now = now or utcnow()
    due = session.scalars(
        select(Notice.id).where(Notice.status == S.SCHEDULED, Notice.publish_at <= now)
    ).all()
    activated = []
    for notice_id in due:
        claimed = rowcount(
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.status == S.SCHEDULED)
                .values(status=S.ACTIVE, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        if claimed != 1:
            continue
        notice = session.get(Notice, notice_id, populate_existing=True)
        assert notice is not None
        revision = notice.published_revision
        assert revision is not None
        audit.record(
            session,
            "activate",
            notice=notice,
            by=None,
            revision=revision.number,
            from_status=S.SCHEDULED,
            to_status=S.ACTIVE,
        )
        _release(session, notice, revision, now)
        activated.append(notice)
    session.flush()
    return activated


def expire_ended(session: Session, *, now: datetime | None = None) -> list[Notice]:
    """Mark notices whose expiry has passed as expired. Idempotent like ``activate_due``."""
    now = now or utcnow()
    ended = session.scalars(
        select(Notice.id).where(
            Notice.status.in_([S.ACTIVE, S.SCHEDULED]),
            Notice.expires.is_not(None),
            Notice.expires <= now,
        )
    ).all()
    expired = []
    for notice_id in ended:
        claimed = rowcount(
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.status.in_([S.ACTIVE, S.SCHEDULED]))
                .values(status=S.EXPIRED, ended_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        if claimed != 1:
            continue
        notice = session.get(Notice, notice_id, populate_existing=True)
        assert notice is not None
        for revision in notice.revisions:
            if revision.state in (R.DRAFT, R.PENDING_APPROVAL, R.APPROVED):
                revision.state = R.WITHDRAWN
        audit.record(session, "expire", notice=notice, by=None, to_status=S.EXPIRED)
        expired.append(notice)
    session.flush()
    return expired
