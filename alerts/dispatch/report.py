"""For operators: the SMS residents will read, and what happened to the deliveries.

One source for the JSON API (``GET /api/v1/notices/<id>/sms-preview`` and
``.../deliveries``) and the operator console. Recipients are masked: enough to
recognise, not to harvest.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.dispatch.messages import sms_preview
from alerts.dispatch.models import Delivery, DeliveryStatus, FanoutJob, FanoutState
from alerts.notices.models import Notice, NoticeRevision
from alerts.notices.snapshots import build_snapshot
from alerts.residents.models import Subscriber

FAILED = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
#: Failures listed one by one (the counts cover them all).
FAILURE_LIMIT = 100


def revision_sms_preview(
    session: Session, notice: Notice, revision: NoticeRevision, base_url: str
) -> dict[str, Any]:
    """Per language, the SMS of ``revision`` with its encoding and number of parts."""
    return {
        "notice_id": str(notice.id),
        "revision": revision.number,
        "msg_type": revision.msg_type,
        "languages": sms_preview(build_snapshot(session, notice, revision), base_url),
    }


def mask(address: str | None) -> str:
    """Enough of a phone number or address to recognise, not to harvest."""
    if not address:
        return ""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:4]}****{address[-2:]}" if len(address) > 6 else "****"


def fanout_progress(session: Session, notice_id: uuid.UUID) -> list[dict[str, Any]]:
    """Each revision's fan-out: whether its rows are all written, and how far it got."""
    return [
        {
            "revision": job.revision_number,
            "state": job.state,
            "in_progress": job.state in (FanoutState.PENDING, FanoutState.EXPANDING),
            "targets": job.targets,
            "expanded": job.expanded,
            "rows_written": job.rows_written,
            "stopped_because": job.error,
        }
        for job in session.scalars(
            select(FanoutJob)
            .where(FanoutJob.notice_id == notice_id)
            .order_by(FanoutJob.revision_number)
        )
    ]


def delivery_report(session: Session, notice_id: uuid.UUID) -> dict[str, Any]:
    """Counts by channel and status (overall and per revision), reasons, latest failures,
    and each revision's fan-out (the counts are not final while one is in progress)."""
    rows = session.execute(
        select(Delivery.revision_number, Delivery.channel, Delivery.status, func.count())
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.revision_number, Delivery.channel, Delivery.status)
    ).all()
    by_channel: dict[str, dict[str, int]] = {}
    by_revision: dict[str, dict[str, dict[str, int]]] = {}
    total = 0
    for number, channel, status, count in rows:
        total += count
        channel_counts = by_channel.setdefault(channel, {})
        channel_counts[status] = channel_counts.get(status, 0) + count
        by_revision.setdefault(str(number), {}).setdefault(channel, {})[status] = count
    reasons = session.execute(
        select(Delivery.channel, Delivery.status, Delivery.error_code, func.count())
        .where(
            Delivery.notice_id == notice_id,
            Delivery.status.in_([*FAILED, DeliveryStatus.DROPPED, DeliveryStatus.OPTED_OUT])
            # waiting for another try: why the last one did not go through
            | ((Delivery.status == DeliveryStatus.PENDING) & Delivery.error_code.is_not(None)),
        )
        .group_by(Delivery.channel, Delivery.status, Delivery.error_code)
    ).all()
    failures = session.execute(
        select(Delivery, Subscriber.phone, Subscriber.email)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.notice_id == notice_id, Delivery.status.in_(FAILED))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(FAILURE_LIMIT)
    ).all()
    fanout = fanout_progress(session, notice_id)
    return {
        "notice_id": str(notice_id),
        "fanout_in_progress": any(job["in_progress"] for job in fanout),
        "fanout": fanout,
        "total": total,
        "by_channel": by_channel,
        "by_revision": by_revision,
        "reasons": [
            {"channel": c, "status": s, "error_code": e, "count": n}
            for c, s, e, n in sorted(reasons, key=lambda r: -r[3])
        ],
        "failures": [_failure(d, phone, email) for d, phone, email in failures],
    }


def _failure(delivery: Delivery, phone: str | None, email: str | None) -> dict[str, Any]:
    address = phone if delivery.channel == "sms" else email
    error = delivery.error
    if error and address:
        # Providers quote the recipient ("Invalid 'To' Phone Number: +4670...").
        error = error.replace(address, mask(address))
    return {
        "delivery_id": delivery.id,
        "revision": delivery.revision_number,
        "channel": delivery.channel,
        "status": delivery.status,
        "recipient": mask(address),
        "attempts": delivery.attempts,
        "error_code": delivery.error_code,
        "error": error,
        "updated_at": delivery.updated_at.isoformat(),
    }
