"""Fan-out: when a revision goes out, write one delivery row per (revision, subscriber, channel).

Publishing does not write the rows: it writes one :class:`FanoutJob` in the
publishing, updating or cancelling transaction (:func:`enqueue_revision`,
registered on :data:`alerts.signals.revision_released`), so a committed
publish can never lose its deliveries and the publish call stays short at any
size. Dispatchers expand jobs (:func:`expand_next`), one chunk per
transaction: the job's candidates (the area's subscribers, and from revision
2 on everyone who had an earlier revision) are taken in subscriber-id order
(keyset: ``cursor`` is the last id done), and a chunk's rows and the cursor's
advance commit together. A chunk run twice writes nothing new (the unique
(revision, subscriber, channel) key, ``ON CONFLICT DO NOTHING``), and the
guarded cursor keeps it from running twice. A job is held under a short lease
renewed by every chunk; a dead worker's job is taken over when it expires.
The most severe job and the first chunk of every job go first, and workers
are woken after each chunk, so sending starts before the last row is written.

Rows are written with ``INSERT ... SELECT`` from the subscribers table: the
"wants this channel" rule (verified contact, not opted out) and, for people
who did not get an earlier revision, the "wants this notice" rule (the
notice's category is among theirs, not paused) are applied by the database,
and no ORM objects are built for 100,000 residents. On PostgreSQL a chunk is
one statement (its area ids as one array parameter, earlier recipients found
in SQL); SQLite takes a statement per channel (its bound-parameter limit).

An update or all-clear drops the earlier revisions' unsent rows chunk by
chunk, in the same transaction as its own rows for those subscribers, instead
of all at once in the publishing transaction. Until its chunk comes, an
earlier row a worker claims is settled as superseded instead of sent
(:func:`alerts.dispatch.states.stale_reason`), so nothing of an earlier
revision goes out after the new one is published.
"""

from __future__ import annotations

import bisect
import logging
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
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
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql import ColumnElement, Select

from alerts.db import is_postgres, rowcount
from alerts.dispatch import metrics as dispatch_metrics
from alerts.dispatch.models import Delivery, DeliveryStatus, FanoutJob, FanoutState
from alerts.dispatch.states import RECEIVED, notice_states, stale_reason
from alerts.dispatch.wakeup import announce
from alerts.notices.models import MsgType, Notice, NoticeRevision
from alerts.orm import table_of, utcnow
from alerts.places.targeting import subscriber_ids_in_area
from alerts.residents.models import Subscriber, wants_channel, wants_notice
from channels.base import SEVERITY_ORDER

logger = logging.getLogger(__name__)

#: Push channels that get outbox rows (feeds and the banner are pulled, not pushed).
PUSH_CHANNELS = ("sms", "email")
#: Candidates per chunk: one transaction each, big enough to amortise round trips,
#: small enough that the first rows are sendable at once and a chunk stays short.
CHUNK = 5000
#: The first chunk of a job is smaller: the first messages leave sooner.
FIRST_CHUNK = 1000
#: Ids per SQLite INSERT statement (its bound-parameter limit).
SQLITE_CHUNK = 5000
#: A job stays with the worker expanding it this long after its last chunk; then
#: another worker takes it over (its first one died).
LEASE_S = 10.0
#: A job whose chunk failed waits this long before it is tried again, doubling with each
#: failure up to FAILED_WAIT_MAX_S. It is never given up: the cause (a bug, a bad record,
#: a full disk) may be mended by a deploy, and a public alert must then still go out.
#: Meanwhile the other jobs go ahead, the report shows the error, and
#: varsla_fanout_jobs_failing says so to Prometheus.
FAILED_WAIT_S = 5.0
FAILED_WAIT_MAX_S = 300.0


@dataclass(frozen=True)
class IdRange:
    """Subscriber ids ``after`` < id <= ``upto`` (None: unbounded on that side)."""

    after: int | None = None
    upto: int | None = None

    def of(self, column: QueryableAttribute[int]) -> list[ColumnElement[bool]]:
        """The conditions that keep ``column`` inside the range."""
        conditions = []
        if self.after is not None:
            conditions.append(column > self.after)
        if self.upto is not None:
            conditions.append(column <= self.upto)
        return conditions


EVERYONE = IdRange()


def _earlier_revision_ids(session: Session, revision: NoticeRevision) -> list[int]:
    return list(
        session.scalars(
            select(NoticeRevision.id).where(
                NoticeRevision.notice_id == revision.notice_id,
                NoticeRevision.number < revision.number,
            )
        )
    )


def supersede_unsent(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    now: datetime,
    ids: IdRange = EVERYONE,
) -> int:
    """Drop unsent deliveries of earlier revisions (to subscribers in ``ids``): the new
    revision says it all. By revision id, so the unique key's index finds them."""
    earlier = _earlier_revision_ids(session, revision)
    if not earlier:
        return 0
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.revision_id.in_(earlier),
            *ids.of(Delivery.subscriber_id),
            Delivery.status == DeliveryStatus.PENDING,
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


def _earlier_received(
    revision: NoticeRevision, earlier: list[int], channels: Collection[str], ids: IdRange
) -> Select[int, str]:
    """(subscriber, channel) who may have got an earlier revision: the one home of the rule
    "whoever may have got an earlier revision hears what changed".

    Sent or being sent; or tried and queued again (a worker that died may have sent it);
    or handed to the provider and then dropped because this revision superseded it (a
    "handset off" receipt that came after the publish: the phone may show it later).
    """
    return (
        select(Delivery.subscriber_id, Delivery.channel)
        .where(
            Delivery.revision_id.in_(earlier),
            *ids.of(Delivery.subscriber_id),
            Delivery.channel.in_(list(channels)),
            or_(
                Delivery.status.in_(RECEIVED),
                and_(Delivery.status == DeliveryStatus.PENDING, Delivery.attempts > 0),
                and_(Delivery.status == DeliveryStatus.DROPPED, Delivery.sent_at.is_not(None)),
            ),
        )
        .distinct()  # one row per person even if they were sent several revisions
    )


def earlier_recipients(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    channel: str,
    ids: IdRange = EVERYONE,
) -> set[int]:
    """Subscribers (in ``ids``) sent (or being sent) an earlier revision on ``channel``."""
    if revision.number <= 1:
        return set()
    earlier = _earlier_revision_ids(session, revision)
    if not earlier:
        return set()
    return {
        subscriber_id
        for subscriber_id, _ in session.execute(
            _earlier_received(revision, earlier, [channel], ids)
        )
    }


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
    id_range: IdRange,
    priority: int,
    now: datetime,
) -> dict[str, int]:
    """PostgreSQL: the rows of one chunk (subscribers in ``id_range``) in one ``INSERT ... SELECT``.

    Targets are the area's ids (one text parameter cast to ``integer[]`` and
    unnested: psycopg's list adaptation costs far more for 100,000 ints) crossed
    with the channels, plus (from revision 2 on) everyone sent an earlier
    revision on that channel in the chunk's range, found by the database itself.
    Counts per channel come back from the statement (``RETURNING`` inside a CTE,
    grouped), not as rows. ``ON CONFLICT DO NOTHING`` on the unique (revision,
    subscriber, channel) key makes a chunk run again write nothing new.
    """
    columns = Delivery.__table__.c
    channel_rows = values(column("channel", String(10)), name="push_channels").data(
        [(c,) for c in channels]
    )
    sources = []
    if in_area:
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
    earlier = _earlier_revision_ids(session, revision) if revision.number > 1 else []
    if earlier:
        received = _earlier_received(revision, earlier, channels, id_range).subquery("received")
        sources.append(
            select(received.c.subscriber_id, received.c.channel, literal(1).label("earlier"))
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
    statement = (
        postgresql.insert(table_of(Delivery))
        .from_select(_COLUMNS, source)
        .on_conflict_do_nothing(index_elements=["revision_id", "subscriber_id", "channel"])
    )
    inserted = statement.returning(columns.channel).cte("inserted")
    rows = session.execute(select(inserted.c.channel, func.count()).group_by(inserted.c.channel))
    counts = {name: count for name, count in rows}
    return {c: counts.get(c, 0) for c in channels}


def enqueue_revision(
    session: Session, notice: Notice, revision: NoticeRevision, now: datetime
) -> FanoutJob:
    """Promise the outbox rows of ``revision``: its fan-out job, committed with the publish.

    Who gets it (applied chunk by chunk by :func:`expand_next`):
    - an alert: every subscriber with a location inside the area who wants the
      notice's category and has not paused;
    - an update: the same, plus everyone sent an earlier revision (the area may
      have shrunk, or they may have paused or dropped the category since: they
      still need to hear what changed);
    - the all-clear: exactly those sent an earlier revision. Unsent deliveries
      of earlier revisions are dropped, so someone who never got the alert gets
      neither it nor an all-clear for it.
    """
    job = FanoutJob(
        notice_id=notice.id,
        revision_id=revision.id,
        revision_number=revision.number,
        priority=SEVERITY_ORDER.get(revision.severity, SEVERITY_ORDER["Unknown"]),
        state=FanoutState.PENDING,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    announce(session)
    logger.info(
        "notice %s revision %d (%s): fan-out job %d queued",
        notice.id,
        revision.number,
        revision.msg_type,
        job.id,
    )
    return job


def on_revision_released(
    notice: Notice, *, session: Session, revision: NoticeRevision, now: datetime
) -> None:
    """Receiver of :data:`alerts.signals.revision_released`: the job commits with it."""
    enqueue_revision(session, notice, revision, now)


@dataclass
class Candidates:
    """Who a job may write rows for, in subscriber-id order; computed once per worker."""

    ids: list[int]  # sorted: the area's subscribers and earlier revisions' recipients
    in_area: set[int]
    complete: bool = True  # False: the area's only, for the first chunk of an update


@dataclass(frozen=True)
class Expanded:
    """What one call of :func:`expand_next` did."""

    job_id: int
    revision_id: int
    written: dict[str, int]
    dropped: int
    finished: bool
    stopped: str | None = None


def candidates(session: Session, revision: NoticeRevision, *, quick: bool = False) -> Candidates:
    """The area's subscribers (not for an all-clear) and everyone with a row of an earlier
    revision (their unsent rows are dropped chunk by chunk), in subscriber-id order.

    The list only sets where chunks end: each chunk covers every subscriber id in its
    range, whoever is listed. So an update's first chunk may go by the area's list alone
    (``quick``: ``complete`` is False), sparing the look-up of earlier recipients.
    """
    in_area: set[int] = set()
    if revision.msg_type != MsgType.CANCEL and revision.area_geojson:
        in_area = subscriber_ids_in_area(session, revision.area_geojson, revision.area_bbox)
    if quick and len(in_area) > FIRST_CHUNK:
        return Candidates(sorted(in_area), in_area, complete=False)
    ids = set(in_area)
    earlier = _earlier_revision_ids(session, revision) if revision.number > 1 else []
    if earlier:
        ids.update(
            session.scalars(
                select(Delivery.subscriber_id).where(Delivery.revision_id.in_(earlier)).distinct()
            )
        )
    return Candidates(sorted(ids), in_area)


class ChunkFailed(Exception):
    """A chunk of job ``job_id`` could not be written (not for want of a database: those
    errors pass through as they are). The caller rolls back and calls
    :func:`record_failure` in a new transaction."""

    def __init__(self, job_id: int, cause: Exception) -> None:
        super().__init__(f"fan-out job {job_id}: {cause.__class__.__name__}: {cause}")
        self.job_id = job_id
        self.cause = cause


def record_failure(
    session: Session, job_id: int, error: str, *, now: datetime | None = None
) -> float:
    """Back job ``job_id`` off after a failed chunk; the seconds until it is tried again."""
    now = now or utcnow()
    failures = (session.scalar(select(FanoutJob.failures).where(FanoutJob.id == job_id)) or 0) + 1
    # The exponent is capped: a job failing for days must not overflow the float.
    wait = min(FAILED_WAIT_S * 2 ** min(failures - 1, 16), FAILED_WAIT_MAX_S)
    session.execute(
        update(FanoutJob)
        .where(FanoutJob.id == job_id)
        .values(
            failures=failures,
            error=error[:2000],
            retry_at=now + timedelta(seconds=wait),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    logger.error(
        "fan-out job %d failed (%d times); tried again in %.0f s: %s", job_id, failures, wait, error
    )
    return wait


def _pick(session: Session, owner: str, now: datetime, job_id: int | None) -> FanoutJob | None:
    """The open job to expand next, locked: the first chunk of any job before the rest of
    another, then the most severe, then the oldest. A job leased to another live worker is
    left to it, and one whose last chunk failed waits for its retry_at."""
    pick = (
        select(FanoutJob)
        .where(
            FanoutJob.state.in_([FanoutState.PENDING, FanoutState.EXPANDING]),
            or_(
                FanoutJob.lease_owner.is_(None),
                FanoutJob.lease_owner == owner,
                FanoutJob.lease_expires_at < now,
            ),
            or_(FanoutJob.retry_at.is_(None), FanoutJob.retry_at <= now),
        )
        .order_by(case((FanoutJob.chunks == 0, 0), else_=1), FanoutJob.priority, FanoutJob.id)
        .limit(1)
    )
    if job_id is not None:
        pick = pick.where(FanoutJob.id == job_id)
    if is_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    return session.scalars(pick).first()


def _advance(session: Session, job: FanoutJob, values: dict[str, Any]) -> bool:
    """Advance ``job`` unless someone else did since we read it (SQLite has no row locks;
    on PostgreSQL the row is locked and this always holds)."""
    result = session.execute(
        update(FanoutJob)
        .where(FanoutJob.id == job.id, FanoutJob.chunks == job.chunks)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def expand_next(
    session: Session,
    owner: str,
    *,
    now: datetime | None = None,
    chunk: int = CHUNK,
    first_chunk: int = FIRST_CHUNK,
    lease_s: float = LEASE_S,
    cache: dict[int, Candidates] | None = None,
    job_id: int | None = None,
) -> Expanded | None:
    """Write the next chunk of the most urgent open fan-out job; the caller commits.

    The chunk's rows, the earlier revisions' unsent rows dropped for the same
    subscribers and the job's advance (cursor, lease) are one transaction.
    Returns None when no job is open (or all are leased to live workers, or
    waiting after a failure). ``cache`` keeps each job's candidates between calls
    (a worker's), so the area is matched once per job and worker. Raises
    :class:`ChunkFailed` when the chunk cannot be written for any reason but the
    database's being unreachable.
    """
    now = now or utcnow()
    job = _pick(session, owner, now, job_id)
    if job is None:
        return None
    cache = {} if cache is None else cache
    try:
        return _expand(session, job, owner, now, chunk, first_chunk, lease_s, cache)
    except (OperationalError, InterfaceError):
        raise  # the database restarting or out of reach: the worker rides that out
    except Exception as exc:
        cache.pop(job.id, None)
        raise ChunkFailed(job.id, exc) from exc


def _expand(
    session: Session,
    job: FanoutJob,
    owner: str,
    now: datetime,
    chunk: int,
    first_chunk: int,
    lease_s: float,
    cache: dict[int, Candidates],
) -> Expanded | None:
    taken_over = job.lease_owner not in (None, owner)
    revision = session.get(NoticeRevision, job.revision_id)
    state = notice_states(session, [job.notice_id]).get(job.notice_id)
    reason = (
        "revision deleted" if revision is None else stale_reason(state, job.revision_number, now)
    )
    if reason is not None:
        cache.pop(job.id, None)
        stopped = {
            "state": FanoutState.STOPPED,
            "error": f"not expanded further: {reason}",
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "finished_at": now,
        }
        if not _advance(session, job, stopped):
            return None
        logger.info("fan-out job %d stopped: %s", job.id, reason)
        return Expanded(job.id, job.revision_id, {}, 0, True, reason)
    assert revision is not None
    notice = revision.notice
    found = cache.get(job.id)
    if found is None or taken_over or (not found.complete and job.chunks > 0):
        if len(cache) >= 8:  # jobs finished or taken over by other workers meanwhile
            cache.clear()
        counting = time.perf_counter()
        quick = job.chunks == 0 and revision.number > 1
        found = cache[job.id] = candidates(session, revision, quick=quick)
        logger.info(
            "fan-out job %d: %d candidates found in %.3fs",
            job.id,
            len(found.ids),
            time.perf_counter() - counting,
        )
    size = min(first_chunk, chunk) if job.chunks == 0 else chunk
    start = bisect.bisect_right(found.ids, job.cursor) if job.cursor is not None else 0
    end = min(start + max(size, 1), len(found.ids))
    finished = end >= len(found.ids)
    # The last chunk is open-ended: it also covers earlier rows of anyone not counted.
    ids = IdRange(job.cursor, None if finished else found.ids[end - 1])
    advance: dict[str, Any] = {
        "state": FanoutState.DONE if finished else FanoutState.EXPANDING,
        "cursor": found.ids[end - 1] if end > start else job.cursor,
        "targets": len(found.ids),
        "expanded": end,
        "chunks": job.chunks + 1,
        "lease_owner": None if finished else owner,
        "lease_expires_at": None if finished else now + timedelta(seconds=lease_s),
        "retry_at": None,
        "attempts": job.attempts + (1 if taken_over or job.chunks == 0 else 0),
        "updated_at": now,
        "finished_at": now if finished else None,
    }
    if not _advance(session, job, advance):
        return None
    started = time.perf_counter()
    in_area = [i for i in found.ids[start:end] if i in found.in_area]
    written = _write_rows(session, notice, revision, in_area, ids, now)
    # After the rows: who was tried on an earlier revision is known before it is dropped.
    dropped = supersede_unsent(session, notice, revision, now, ids) if revision.number > 1 else 0
    session.execute(
        update(FanoutJob)
        .where(FanoutJob.id == job.id)
        .values(rows_written=FanoutJob.rows_written + sum(written.values()))
        .execution_options(synchronize_session=False)
    )
    if any(written.values()):
        announce(session)
    recorded = dispatch_metrics.of()
    if recorded is not None:
        for channel, count in written.items():
            recorded.fanout_rows.labels(channel).inc(count)
        if finished:
            created = job.created_at
            if created.tzinfo is None:  # SQLite hands back naive UTC
                created = created.replace(tzinfo=now.tzinfo)
            recorded.fanout_seconds.observe(max(0.0, (now - created).total_seconds()))
    if finished:
        cache.pop(job.id, None)
    logger.info(
        "fan-out job %d (notice %s revision %d) chunk %d: %s written, %d earlier unsent "
        "dropped, %d of %d candidates, %.3fs%s",
        job.id,
        notice.id,
        revision.number,
        job.chunks + 1,
        written,
        dropped,
        end,
        len(found.ids),
        time.perf_counter() - started,
        ", done" if finished else "",
    )
    return Expanded(job.id, job.revision_id, written, dropped, finished)


def _write_rows(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    in_area: list[int],
    ids: IdRange,
    now: datetime,
) -> dict[str, int]:
    """The rows of one chunk: ``in_area`` (new to the notice, or not) and, in ``ids``,
    everyone who got an earlier revision."""
    channels = [c for c in revision.channels if c in PUSH_CHANNELS]
    if not channels:
        return {}
    priority = SEVERITY_ORDER.get(revision.severity, SEVERITY_ORDER["Unknown"])
    if is_postgres(session):
        return _insert_all_postgres(
            session, notice, revision, channels, in_area, ids, priority, now
        )
    written = {}
    for channel in channels:
        earlier = earlier_recipients(session, notice, revision, channel, ids)
        new = set(in_area) - earlier
        count = 0
        for targets, new_alert in ((sorted(earlier), False), (sorted(new), True)):
            for start in range(0, len(targets), SQLITE_CHUNK):
                count += _insert_chunk(
                    session, notice, revision, channel, targets[start : start + SQLITE_CHUNK],
                    priority, now, new_alert=new_alert,
                )  # fmt: skip
        written[channel] = count
    return written


def expand_all(session: Session, owner: str = "expand-all", **options: Any) -> list[Expanded]:
    """Expand every open fan-out job to its end, committing after each chunk (tests, the
    benchmark; workers call :func:`expand_next` themselves)."""
    done = []
    while (expanded := expand_next(session, owner, **options)) is not None:
        session.commit()
        done.append(expanded)
    session.commit()
    return done


def open_jobs(session: Session, notice_id: uuid.UUID | None = None) -> list[FanoutJob]:
    """Fan-out jobs not yet expanded to their end (of one notice, or all)."""
    query = select(FanoutJob).where(
        FanoutJob.state.in_([FanoutState.PENDING, FanoutState.EXPANDING])
    )
    if notice_id is not None:
        query = query.where(FanoutJob.notice_id == notice_id)
    return list(session.scalars(query.order_by(FanoutJob.id)))
