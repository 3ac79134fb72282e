"""Notices and friends as the JSON API shows them: rows in, :mod:`alerts.notices.responses` out."""

from __future__ import annotations

from alerts.notices import responses
from alerts.notices.models import AuditEvent, Notice, NoticeRevision
from alerts.notices.notice_templates import NoticeTemplate
from alerts.operators.models import Operator


def _who(operator: Operator | None) -> str | None:
    return operator.email if operator else None


def revision_out(revision: NoticeRevision) -> responses.Revision:
    return responses.Revision.model_validate(
        {
            "number": revision.number,
            "identifier": revision.identifier,
            "msg_type": revision.msg_type,
            "state": revision.state,
            "category": revision.category,
            "severity": revision.severity,
            "urgency": revision.urgency,
            "certainty": revision.certainty,
            "texts": revision.texts,
            "area": revision.area_request,
            "onset": revision.onset,
            "expires": revision.expires,
            "next_update": revision.next_update,
            "expected_restoration": revision.expected_restoration,
            "channels": revision.channels,
            "template": revision.template,
            "reason": revision.reason,
            "created_by": _who(revision.created_by),
            "created_at": revision.created_at,
            "submitted_by": _who(revision.submitted_by),
            "submitted_at": revision.submitted_at,
            "approved_by": _who(revision.approved_by),
            "approved_at": revision.approved_at,
            "published_by": _who(revision.published_by),
            "published_at": revision.published_at,
        }
    )


def notice_out(notice: Notice, *, base_url: str = "") -> responses.Notice:
    current = notice.current_revision
    waiting = notice.working_revision
    return responses.Notice.model_validate(
        {
            "id": notice.id,
            "status": notice.status,
            "revision": current.number,
            "category": current.category,
            "severity": current.severity,
            "urgency": current.urgency,
            "certainty": current.certainty,
            "texts": current.texts,
            "area": current.area_request,
            "area_geometry": current.area_geojson,
            "onset": current.onset,
            "expires": current.expires,
            "next_update": current.next_update,
            "expected_restoration": current.expected_restoration,
            "channels": current.channels,
            "publish_at": notice.publish_at,
            "published_at": notice.published_at,
            "ended_at": notice.ended_at,
            "created_by": _who(notice.created_by),
            "created_at": notice.created_at,
            "updated_at": notice.updated_at,
            "pending_revision": (
                {"number": waiting.number, "msg_type": waiting.msg_type, "state": waiting.state}
                if waiting is not None and waiting is not current
                else None
            ),
            "revisions": [revision_out(r) for r in notice.revisions],
            "links": {
                "self": f"{base_url}/api/v1/notices/{notice.id}",
                "page": f"{base_url}/notices/{notice.id}",
                "cap": f"{base_url}/cap/{notice.id}.xml",
            },
        }
    )


def notice_summary_out(notice: Notice, *, base_url: str = "") -> responses.NoticeSummary:
    full = notice_out(notice, base_url=base_url)
    return responses.NoticeSummary.model_validate(
        {
            **full.model_dump(
                include={
                    "id",
                    "status",
                    "revision",
                    "category",
                    "severity",
                    "onset",
                    "expires",
                    "published_at",
                    "ended_at",
                    "created_by",
                    "updated_at",
                    "pending_revision",
                    "links",
                }
            ),
            "headlines": {lang: text.headline for lang, text in full.texts.items()},
            "zones": full.area.zones,
            "drawn_area": full.area.geometry is not None or full.area.circle is not None,
        }
    )


def audit_out(event: AuditEvent) -> responses.AuditEvent:
    return responses.AuditEvent.model_validate(
        {
            "at": event.at,
            "by": _who(event.operator),
            "action": event.action,
            "revision": event.revision,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "details": event.details,
        }
    )


def template_out(template: NoticeTemplate) -> responses.Template:
    return responses.Template.model_validate(
        {
            "key": template.key,
            "category": template.category,
            "severity": template.severity,
            "urgency": template.urgency,
            "certainty": template.certainty,
            "texts": template.texts,
        }
    )
