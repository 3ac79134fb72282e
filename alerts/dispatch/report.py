"""For operators: the SMS residents will read, and what happened to the deliveries.

One source for the JSON API (``GET /api/v1/notices/<id>/sms-preview`` and
``.../deliveries``) and the operator console. Recipients are masked: enough to
recognise, not to harvest.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, cast, extract, func, literal, select, union_all
from sqlalchemy.orm import Session

from alerts.dispatch.fanout import earlier_recipients
from alerts.dispatch.messages import sms_preview
from alerts.dispatch.models import Delivery, DeliveryStatus, FanoutJob, FanoutState
from alerts.notices.models import Notice, NoticeRevision
from alerts.notices.reach import PUSH_CHANNELS, Reach, reach_of_revision
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


_OPEN = (FanoutState.PENDING, FanoutState.EXPANDING)


def fanout_progress(session: Session, notice_id: uuid.UUID) -> list[dict[str, Any]]:
    """Each revision's fan-out: whether its rows are all written, and how far it got."""
    return [
        {
            "revision": job.revision_number,
            "state": job.state,
            "in_progress": job.state in _OPEN,
            "targets": job.targets,
            "expanded": job.expanded,
            "rows_written": job.rows_written,
            "stopped_because": job.error if job.state == FanoutState.STOPPED else None,
            "failures": job.failures,
            "last_failure": job.error
            if job.failures and job.state != FanoutState.STOPPED
            else None,
            "retry_at": job.retry_at if job.state in _OPEN else None,
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


#: Bucket widths the delivery chart chooses from, in seconds: the narrowest that keeps the
#: whole delivery within :data:`MAX_BUCKETS` buckets (a minute while a notice goes out).
BUCKET_WIDTHS_S = (60, 300, 900, 3600, 6 * 3600, 86400)
MAX_BUCKETS = 60
#: What the chart counts: deliveries that left (by ``sent_at``), and those that ended
#: delivered or failed (by the time their status last changed).
TIMELINE_KINDS = ("sent", "delivered", "failed")


def _epoch_s(session: Session, column: Any) -> Any:
    """``column`` (a UTC datetime) as whole seconds since 1970, in the engine's own SQL."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(extract("epoch", column)), BigInteger)


def delivery_timeline(session: Session, notice_id: uuid.UUID) -> dict[str, Any]:
    """Deliveries sent, delivered and failed per time bucket and channel, counted in SQL.

    ``{"bucket_s": 60, "start": ISO 8601 UTC of the first bucket or None, "buckets": [ISO
    8601 start of each bucket], "series": {"sms": {"sent": [..], "delivered": [..],
    "failed": [..]}, "email": {...}}}``; each list has one count per bucket. The bucket
    is a minute, or wider when the delivery spans more than :data:`MAX_BUCKETS` minutes.
    """
    mine = Delivery.notice_id == notice_id
    events = union_all(
        select(
            Delivery.channel.label("channel"),
            literal("sent").label("kind"),
            Delivery.sent_at.label("at"),
        ).where(mine, Delivery.sent_at.is_not(None)),
        select(Delivery.channel, literal("delivered"), Delivery.updated_at).where(
            mine, Delivery.status == DeliveryStatus.DELIVERED
        ),
        select(Delivery.channel, literal("failed"), Delivery.updated_at).where(
            mine, Delivery.status.in_(FAILED)
        ),
    ).subquery()
    epoch = _epoch_s(session, events.c.at)
    first, last = session.execute(select(func.min(epoch), func.max(epoch))).one()
    if first is None:
        return {"bucket_s": BUCKET_WIDTHS_S[0], "start": None, "buckets": [], "series": {}}
    first, last = int(first), int(last)
    width = next(
        (w for w in BUCKET_WIDTHS_S if (last - first) // w < MAX_BUCKETS), BUCKET_WIDTHS_S[-1]
    )
    start = first - first % width
    count = (last - start) // width + 1
    index = ((epoch - start) // width).label("bucket")
    rows = session.execute(
        select(events.c.channel, events.c.kind, index, func.count())
        .group_by(events.c.channel, events.c.kind, index)
        .order_by(events.c.channel)
    ).all()
    series: dict[str, dict[str, list[int]]] = {}
    for channel, kind, bucket, n in rows:
        counts = series.setdefault(channel, {k: [0] * count for k in TIMELINE_KINDS})
        counts[kind][min(int(bucket), count - 1)] += n
    return {
        "bucket_s": width,
        "start": _iso(start),
        "buckets": [_iso(start + i * width) for i in range(count)],
        "series": series,
    }


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def revision_reach(session: Session, notice: Notice, revision: NoticeRevision) -> Reach | None:
    """Who ``revision`` reaches, as its fan-out will write it (None: no area).

    A first revision: the area's subscribers who want its category. An update or the
    all-clear: also everyone the dispatcher sent an earlier revision (its record), wherever
    they live now and whatever they chose since. The console and the API show this figure.
    """
    if revision.number == 1:
        return reach_of_revision(session, revision)
    earlier = {
        channel: earlier_recipients(session, notice, revision, channel)
        for channel in revision.channels
        if channel in PUSH_CHANNELS
    }
    return reach_of_revision(session, revision, earlier)
