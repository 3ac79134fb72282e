"""Fan-out: when a revision goes out, write one delivery row per (revision, subscriber, channel).

Runs inside the transaction that publishes, updates or cancels (registered on
:data:`alerts.notices.on_release`), so the notice and its outbox rows commit
together. Rows are written with chunked ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING`` from the subscribers table: the "wants this channel" rule (verified,
has the address, not opted out) is applied by the database, the unique
(revision, subscriber, channel) key makes a repeat write nothing, and no ORM
objects are built for 100,000 residents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, and_, any_, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from channels.base import SEVERITY_ORDER

from ..db import is_postgres
from ..models import Delivery, DeliveryStatus, MsgType, Notice, NoticeRevision, Subscriber
from ..targeting import subscriber_ids_in_area
from .states import RECEIVED

logger = logging.getLogger(__name__)

#: Push channels that get outbox rows (feeds and the banner are pulled, not pushed).
PUSH_CHANNELS = ("sms", "email")
#: Rows per INSERT statement: big enough to amortise round trips, small enough for
#: SQLite's bound-parameter limit and to keep each statement's memory modest.
CHUNK = 5000


def wants_channel(channel: str) -> ColumnElement[bool]:
    """SQL twin of :meth:`Subscriber.wants`: verified, has the address, not opted out."""
    if channel == "sms":
        return and_(
            Subscriber.verified_at.is_not(None),
            Subscriber.phone.is_not(None),
            Subscriber.sms_opted_out_at.is_(None),
        )
    if channel == "email":
        return and_(
            Subscriber.verified_at.is_not(None),
            Subscriber.email.is_not(None),
            Subscriber.email_opted_out_at.is_(None),
        )
    raise ValueError(f"not a push channel: {channel!r}")


def supersede_unsent(
    session: Session, notice: Notice, revision: NoticeRevision, now: datetime
) -> int:
    """Drop unsent deliveries of earlier revisions: the new revision says it all."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.notice_id == notice.id,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.revision_number < revision.number,
        )
        .values(
            status=DeliveryStatus.DROPPED,
            error_code="superseded",
            error=f"superseded by revision {revision.number} before it was sent",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def earlier_recipients(
    session: Session, notice: Notice, revision: NoticeRevision, channel: str
) -> set[int]:
    """Subscribers sent (or being sent) an earlier revision of the notice on ``channel``."""
    if revision.number <= 1:
        return set()
    return set(
        session.scalars(
            select(Delivery.subscriber_id)
            .where(
                Delivery.notice_id == notice.id,
                Delivery.channel == channel,
                Delivery.revision_number < revision.number,
                Delivery.status.in_(RECEIVED),
            )
            .distinct()
        )
    )


def _insert_chunk(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    channel: str,
    ids: Sequence[int],
    priority: int,
    now: datetime,
) -> int:
    columns = Delivery.__table__.c
    if is_postgres(session):
        # One array parameter instead of 5,000 scalars.
        id_filter = Subscriber.id == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))
        insert = postgresql.insert
    else:
        id_filter = Subscriber.id.in_(list(ids))
        insert = sqlite.insert
    source = select(
        literal(notice.id, columns.notice_id.type),
        literal(revision.id, columns.revision_id.type),
        literal(revision.number, columns.revision_number.type),
        Subscriber.id,
        literal(channel, columns.channel.type),
        literal(DeliveryStatus.PENDING.value, columns.status.type),
        literal(priority, columns.priority.type),
        literal(now, columns.not_before.type),
        literal(0, columns.attempts.type),
        literal(now, columns.created_at.type),
        literal(now, columns.updated_at.type),
    ).where(id_filter, wants_channel(channel))
    statement = (
        insert(Delivery.__table__)
        .from_select(
            [
                "notice_id",
                "revision_id",
                "revision_number",
                "subscriber_id",
                "channel",
                "status",
                "priority",
                "not_before",
                "attempts",
                "created_at",
                "updated_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["revision_id", "subscriber_id", "channel"])
    )
    # preserve_rowcount: SQLAlchemy reports -1 for an INSERT ... SELECT on psycopg otherwise.
    result = session.execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount or 0, 0)


def enqueue_revision(
    session: Session, notice: Notice, revision: NoticeRevision, now: datetime
) -> dict[str, int]:
    """Write the outbox rows of ``revision``; returns rows written per channel.

    Who gets it:
    - an alert: every subscriber with a location inside the area;
    - an update: the same, plus everyone sent an earlier revision (the area may
      have shrunk, they still need to hear what changed);
    - the all-clear: exactly those sent an earlier revision. Unsent deliveries
      of earlier revisions are dropped first, so someone who never got the
      alert gets neither it nor an all-clear for it.
    """
    channels = [c for c in revision.channels if c in PUSH_CHANNELS]
    started = time.perf_counter()
    session.flush()
    dropped = supersede_unsent(session, notice, revision, now)
    if not channels:
        return {}
    is_all_clear = revision.msg_type == MsgType.CANCEL
    in_area: set[int] = set()
    if not is_all_clear and revision.area_geojson:
        in_area = subscriber_ids_in_area(session, revision.area_geojson, revision.area_bbox)
    priority = SEVERITY_ORDER.get(revision.severity, SEVERITY_ORDER["Unknown"])
    written: dict[str, int] = {}
    for channel in channels:
        earlier = earlier_recipients(session, notice, revision, channel)
        targets = sorted(earlier if is_all_clear else in_area | earlier)
        count = 0
        for start in range(0, len(targets), CHUNK):
            chunk = targets[start : start + CHUNK]
            count += _insert_chunk(session, notice, revision, channel, chunk, priority, now)
        written[channel] = count
    logger.info(
        "notice %s revision %d (%s): %s deliveries written, %d earlier unsent dropped, %.2fs",
        notice.id,
        revision.number,
        revision.msg_type,
        written,
        dropped,
        time.perf_counter() - started,
    )
    return written


def on_release(session: Session, notice: Notice, revision: NoticeRevision, now: datetime) -> None:
    """The hook :mod:`alerts.notices` calls when a revision goes out."""
    enqueue_revision(session, notice, revision, now)
