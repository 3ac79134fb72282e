"""Fan-out: when a revision goes out, write one delivery row per (revision, subscriber, channel).

Runs inside the transaction that publishes, updates or cancels (registered on
:data:`alerts.signals.revision_released`), so the notice and its outbox rows commit
together. Rows are written with ``INSERT ... SELECT`` from the subscribers
table: the "wants this channel" rule (verified contact, not opted out) and, for
people who did not get an earlier revision, the "wants this notice" rule (the
notice's category is among theirs, not paused) are applied by the database,
the unique (revision, subscriber, channel) key makes a repeat write nothing,
and no ORM objects are built for 100,000 residents. On PostgreSQL all rows of
a revision are one statement (the area's ids as one array parameter, earlier
recipients found in SQL); SQLite takes chunks of ids (its bound-parameter limit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    true,
    union,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from alerts.db import is_postgres, rowcount
from alerts.dispatch import metrics as dispatch_metrics
from alerts.dispatch.models import Delivery, DeliveryStatus
from alerts.dispatch.states import RECEIVED
from alerts.dispatch.wakeup import announce
from alerts.notices.models import MsgType, Notice, NoticeRevision
from alerts.orm import table_of
from alerts.places.targeting import subscriber_ids_in_area
from alerts.residents.models import Subscriber, wants_channel, wants_notice
from channels.base import SEVERITY_ORDER

logger = logging.getLogger(__name__)

#: Push channels that get outbox rows (feeds and the banner are pulled, not pushed).
PUSH_CHANNELS = ("sms", "email")
#: Rows per INSERT statement: big enough to amortise round trips, small enough for
#: SQLite's bound-parameter limit and to keep each statement's memory modest.
CHUNK = 5000


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
    return rowcount(result)


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


_COLUMNS = [
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
]


def _row_values(
    notice: Notice, revision: NoticeRevision, subscriber_id, channel, priority: int, now: datetime
) -> list:
    """The SELECT list of an outbox row (``_COLUMNS`` order)."""
    columns = Delivery.__table__.c
    return [
        literal(notice.id, columns.notice_id.type),
        literal(revision.id, columns.revision_id.type),
        literal(revision.number, columns.revision_number.type),
        subscriber_id,
        channel,
        literal(DeliveryStatus.PENDING.value, columns.status.type),
        literal(priority, columns.priority.type),
        literal(now, columns.not_before.type),
        literal(0, columns.attempts.type),
        literal(now, columns.created_at.type),
        literal(now, columns.updated_at.type),
    ]


def _revision_has_rows(session: Session, revision: NoticeRevision) -> bool:
    return (
        session.scalar(select(Delivery.id).where(Delivery.revision_id == revision.id).limit(1))
        is not None
    )


def _insert_chunk(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    channel: str,
    ids: Sequence[int],
    priority: int,
    now: datetime,
    *,
    new_alert: bool,
) -> int:
    """SQLite: one chunk of ``INSERT ... SELECT ... WHERE id IN (...) ON CONFLICT DO NOTHING``.

    ``new_alert``: the ids got no earlier revision, so their categories and pause count.
    """
    columns = Delivery.__table__.c
    source = select(
        *_row_values(
            notice,
            revision,
            Subscriber.id,
            literal(channel, columns.channel.type),
            priority,
            now,
        )
    ).where(Subscriber.id.in_(list(ids)), wants_channel(channel))
    if new_alert:
        source = source.where(wants_notice(str(revision.category), now))
    statement = (
        sqlite.insert(table_of(Delivery))
        .from_select(_COLUMNS, source)
        .on_conflict_do_nothing(index_elements=["revision_id", "subscriber_id", "channel"])
    )
    result = session.execute(statement.execution_options(preserve_rowcount=True))
    return max(rowcount(result), 0)


def _insert_all_postgres(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    channels: list[str],
    in_area: Collection[int],
    include_area: bool,
    priority: int,
    now: datetime,
) -> dict[str, int]:
    """PostgreSQL: every row of the revision in one ``INSERT ... SELECT``.

    Targets are the area's ids (one text parameter cast to ``integer[]`` and
    unnested: psycopg's list adaptation costs far more for 100,000 ints) crossed
    with the channels, plus (from revision 2 on) everyone sent an earlier
    revision on that channel, found by the database itself. Counts per channel
    come back from the statement (``RETURNING`` inside a CTE, grouped), not as
    200,000 rows. ``ON CONFLICT DO NOTHING`` is only used when the revision
    already has rows (a repeat): a first write is a plain insert, which the
    unique (revision, subscriber, channel) key still guards.
    """
    columns = Delivery.__table__.c
    channel_rows = values(column("channel", String(10)), name="push_channels").data(
        [(c,) for c in channels]
    )
    sources = []
    if include_area and in_area:
        ids = "{" + ",".join(map(str, sorted(in_area))) + "}"
        area = func.unnest(cast(bindparam("area_ids", ids, type_=Text), ARRAY(Integer)))
        area_ids = area.table_valued("subscriber_id").render_derived(name="area")
        sources.append(
            select(
                area_ids.c.subscriber_id, channel_rows.c.channel, literal(0).label("earlier")
            ).select_from(
                area_ids.join(channel_rows, true())  # every area id on every channel
            )
        )
    if revision.number > 1:
        sources.append(
            select(Delivery.subscriber_id, Delivery.channel, literal(1).label("earlier"))
            .where(
                Delivery.notice_id == notice.id,
                Delivery.channel.in_(channels),
                Delivery.revision_number < revision.number,
                Delivery.status.in_(RECEIVED),
            )
            .distinct()  # one row per person even if they were sent several revisions
        )
    if not sources:
        return {channel: 0 for channel in channels}
    both = (union(*sources) if len(sources) > 1 else sources[0]).subquery("both")
    # One row per (person, channel); "earlier" when they got an earlier revision on it.
    targets = (
        select(both.c.subscriber_id, both.c.channel, func.max(both.c.earlier).label("earlier"))
        .group_by(both.c.subscriber_id, both.c.channel)
        .subquery("targets")
    )
    channel = cast(targets.c.channel, columns.channel.type)
    # Whoever got an earlier revision hears what changed, whatever they chose since.
    wanted = or_(targets.c.earlier == 1, wants_notice(str(revision.category), now))
    source = (
        select(*_row_values(notice, revision, Subscriber.id, channel, priority, now))
        .join_from(targets, Subscriber, Subscriber.id == targets.c.subscriber_id)
        .where(or_(*(and_(channel == c, wants_channel(c)) for c in channels)), wanted)
    )
    statement = postgresql.insert(table_of(Delivery)).from_select(_COLUMNS, source)
    if _revision_has_rows(session, revision):
        statement = statement.on_conflict_do_nothing(
            index_elements=["revision_id", "subscriber_id", "channel"]
        )
    inserted = statement.returning(columns.channel).cte("inserted")
    rows = session.execute(select(inserted.c.channel, func.count()).group_by(inserted.c.channel))
    counts = {name: count for name, count in rows}
    return {c: counts.get(c, 0) for c in channels}


def enqueue_revision(
    session: Session, notice: Notice, revision: NoticeRevision, now: datetime
) -> dict[str, int]:
    """Write the outbox rows of ``revision``; returns rows written per channel.

    Who gets it:
    - an alert: every subscriber with a location inside the area who wants the
      notice's category and has not paused;
    - an update: the same, plus everyone sent an earlier revision (the area may
      have shrunk, or they may have paused or dropped the category since: they
      still need to hear what changed);
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
    if is_postgres(session):
        written = _insert_all_postgres(
            session, notice, revision, channels, in_area, not is_all_clear, priority, now
        )
    else:
        written = {}
        for channel in channels:
            earlier = earlier_recipients(session, notice, revision, channel)
            new = set() if is_all_clear else in_area - earlier
            count = 0
            for targets, new_alert in ((sorted(earlier), False), (sorted(new), True)):
                for start in range(0, len(targets), CHUNK):
                    chunk = targets[start : start + CHUNK]
                    count += _insert_chunk(
                        session, notice, revision, channel, chunk, priority, now,
                        new_alert=new_alert,
                    )  # fmt: skip
            written[channel] = count
    if any(written.values()):
        announce(session)
    elapsed = time.perf_counter() - started
    recorded = dispatch_metrics.of()
    if recorded is not None:
        for channel, count in written.items():
            recorded.fanout_rows.labels(channel).inc(count)
        recorded.fanout_seconds.observe(elapsed)
    logger.info(
        "notice %s revision %d (%s): %s deliveries written, %d earlier unsent dropped, %.2fs",
        notice.id,
        revision.number,
        revision.msg_type,
        written,
        dropped,
        elapsed,
    )
    return written


def on_revision_released(
    notice: Notice, *, session: Session, revision: NoticeRevision, now: datetime
) -> None:
    """Receiver of :data:`alerts.signals.revision_released`: the outbox commits with it."""
    enqueue_revision(session, notice, revision, now)
