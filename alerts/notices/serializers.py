"""Notices and friends as the JSON API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.notices.models import AuditEvent, Notice, NoticeRevision
from alerts.operators.models import Operator


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _who(operator: Operator | None) -> str | None:
    return operator.email if operator else None


def revision_json(revision: NoticeRevision) -> dict[str, Any]:
    return {
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
        "onset": iso(revision.onset),
        "expires": iso(revision.expires),
        "channels": revision.channels,
        "template": revision.template,
        "reason": revision.reason,
        "created_by": _who(revision.created_by),
        "created_at": iso(revision.created_at),
        "submitted_by": _who(revision.submitted_by),
        "submitted_at": iso(revision.submitted_at),
        "approved_by": _who(revision.approved_by),
        "approved_at": iso(revision.approved_at),
        "published_by": _who(revision.published_by),
        "published_at": iso(revision.published_at),
    }


def notice_json(notice: Notice, *, base_url: str = "") -> dict[str, Any]:
    current = notice.current_revision
    waiting = notice.working_revision
    return {
        "id": str(notice.id),
        "status": notice.status,
        "revision": current.number,
        "category": current.category,
        "severity": current.severity,
        "urgency": current.urgency,
        "certainty": current.certainty,
        "texts": current.texts,
        "area": current.area_request,
        "area_geometry": current.area_geojson,
        "onset": iso(current.onset),
        "expires": iso(current.expires),
        "channels": current.channels,
        "publish_at": iso(notice.publish_at),
        "published_at": iso(notice.published_at),
        "ended_at": iso(notice.ended_at),
        "created_by": _who(notice.created_by),
        "created_at": iso(notice.created_at),
        "updated_at": iso(notice.updated_at),
        "pending_revision": (
            {"number": waiting.number, "msg_type": waiting.msg_type, "state": waiting.state}
            if waiting is not None and waiting is not current
            else None
        ),
        "revisions": [revision_json(r) for r in notice.revisions],
        "links": {
            "self": f"{base_url}/api/v1/notices/{notice.id}",
            "page": f"{base_url}/notices/{notice.id}",
            "cap": f"{base_url}/cap/{notice.id}.xml",
        },
    }


def audit_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "by": _who(event.operator),
        "action": event.action,
        "revision": event.revision,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "details": event.details,
    }
