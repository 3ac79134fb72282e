"""The public read path: a cheap content version, and what was built from it, kept per process.

No Flask here. Three parts:

* :func:`content_version` — one query of three index lookups: the counter every
  commit changing notices, revisions or zones bumps (:mod:`alerts.public.version`,
  in commit order), and ``max(notices.updated_at)``, ``max(zones.updated_at)`` for
  writes made outside an ORM session. Every write that can change public output
  bumps them: create/submit/approve/publish/update/cancel, the scheduled-publish
  and expiry jobs (``alerts.notices.operations``) and zone edits.
* :func:`next_time_change` / :func:`last_time_change` — output also changes with
  no write: an active notice passing its expiry, an ended one leaving the retention
  window. Cached bytes carry the next such moment and count as stale once it passes.
* :class:`NoticeStore` — snapshots of public notices keyed on ``(id, updated_at)``,
  with their rendered feed entries, so the render after a change rebuilds only the
  notices that changed (a feed of a thousand notices re-renders in tens of
  milliseconds). Cleared when a zone changes (zone names are part of the text).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.orm import Session, selectinload

from alerts.notices.models import Notice, NoticeStatus
from alerts.notices.snapshots import build_snapshot
from alerts.places.models import Zone
from alerts.public import queries as public
from alerts.public.version import PublicVersion
from channels.base import NoticeSnapshot

logger = logging.getLogger(__name__)

S = NoticeStatus
ENDED = (S.CANCELLED, S.EXPIRED)
STORE_SIZE = 20_000


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ContentVersion(NamedTuple):
    """Changes whenever a write may have changed public output (hashable: part of keys)."""

    counter: int | None  # alerts.public.version.PublicVersion, in commit order
    notices_changed: datetime | None
    zones_changed: datetime | None


@lru_cache(maxsize=1)
def _version_query():
    # Two index lookups (notices.updated_at is indexed; zones are few), built once.
    return select(
        select(PublicVersion.counter).where(PublicVersion.id == 1).scalar_subquery(),
        select(func.max(Notice.updated_at)).scalar_subquery(),
        select(func.max(Zone.updated_at)).scalar_subquery(),
    )


def content_version(session: Session | Connection) -> ContentVersion:
    """The current content version: the one query a cached public answer costs."""
    counter, notices_changed, zones_changed = session.execute(_version_query()).one()
    return ContentVersion(counter, _aware(notices_changed), _aware(zones_changed))


def _cutoff(include_ended_days: float, now: datetime) -> datetime:
    return now - timedelta(days=include_ended_days)


def next_time_change(
    session: Session | Connection, *, include_ended_days: float, now: datetime
) -> datetime | None:
    """The next moment public output changes without a write: an active notice's expiry
    passing, or an ended notice leaving the retention window (None: no such moment)."""
    retention = timedelta(days=include_ended_days)
    next_expiry, next_drop = session.execute(
        select(
            select(func.min(Notice.expires))
            .where(
                Notice.status == S.ACTIVE,
                Notice.published_at.is_not(None),
                Notice.expires > now,
            )
            .scalar_subquery(),
            select(func.min(Notice.ended_at))
            .where(
                Notice.status.in_(ENDED),
                Notice.published_at.is_not(None),
                Notice.ended_at >= now - retention,
            )
            .scalar_subquery(),
        )
    ).one()
    next_drop = _aware(next_drop)
    moments = [m for m in (_aware(next_expiry), next_drop + retention if next_drop else None) if m]
    return min(moments, default=None)


def last_time_change(session: Session, *, include_ended_days: float, now: datetime) -> datetime:
    """The latest moment public output changed without a write (see :func:`next_time_change`)."""
    last_expiry = _aware(
        session.scalar(
            select(func.max(Notice.expires)).where(
                Notice.status == S.ACTIVE,
                Notice.published_at.is_not(None),
                Notice.expires <= now,
            )
        )
    )
    dropped = public.last_dropped_at(session, include_ended_days=include_ended_days, now=now)
    return max((m for m in (last_expiry, dropped) if m), default=datetime(1970, 1, 1, tzinfo=UTC))


class Row(NamedTuple):
    """What lists need of a public notice, without loading it."""

    id: uuid.UUID
    updated_at: datetime
    status: NoticeStatus
    published_at: datetime
    ended_at: datetime | None
    expires: datetime | None
    category: str

    def overdue(self, now: datetime) -> bool:
        return self.status == S.ACTIVE and self.expires is not None and self.expires <= now

    def final(self, now: datetime, include_ended_days: float) -> bool:
        """Ended and out of the retention window: nothing about it changes any more."""
        return (
            self.status in ENDED
            and self.ended_at is not None
            and self.ended_at < _cutoff(include_ended_days, now)
        )


_ROW_COLUMNS = (
    Notice.id,
    Notice.updated_at,
    Notice.status,
    Notice.published_at,
    Notice.ended_at,
    Notice.expires,
    Notice.category,
)


def _row(values: Any) -> Row:
    nid, updated, status, published, ended, expires, category = values
    return Row(
        nid,
        _aware(updated),  # type: ignore[arg-type]
        NoticeStatus(status),
        _aware(published),  # type: ignore[arg-type]
        _aware(ended),
        _aware(expires),
        str(category),
    )


def current_rows(session: Session, *, include_ended_days: float, now: datetime) -> list[Row]:
    """Active notices and those ended within ``include_ended_days`` (never drafts,
    notices waiting for approval or scheduled ones)."""
    cutoff = _cutoff(include_ended_days, now)
    query = select(*_ROW_COLUMNS).where(
        Notice.published_at.is_not(None),
        or_(Notice.status == S.ACTIVE, Notice.status.in_(ENDED) & (Notice.ended_at >= cutoff)),
    )
    return [_row(values) for values in session.execute(query)]


def _public_query(category: str | None):
    query = select(*_ROW_COLUMNS).where(
        Notice.published_at.is_not(None), Notice.status.in_((S.ACTIVE, *ENDED))
    )
    return query.where(Notice.category == category) if category else query


def all_public_rows(
    session: Session, *, category: str | None = None, offset: int = 0, limit: int | None = None
) -> list[Row]:
    """Public notices of any age in publication order (oldest first); ``offset``/``limit``
    take a slice of that order."""
    query = _public_query(category).order_by(Notice.published_at, Notice.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_row(values) for values in session.execute(query)]


def public_count(session: Session, *, category: str | None = None) -> int:
    """How many public notices there are (of ``category``)."""
    query = (
        select(func.count())
        .select_from(Notice)
        .where(Notice.published_at.is_not(None), Notice.status.in_((S.ACTIVE, *ENDED)))
    )
    if category:
        query = query.where(Notice.category == category)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class Placement:
    """Where the published revision is (what ``queries.in_zone``/``covers_point`` read)."""

    id: int
    zone_slugs: list[str]
    area_geojson: dict[str, Any] | None
    area_bbox: list[float] | None


@dataclass
class Stored:
    """A public notice as the read path keeps it, as of its last write."""

    snapshot: NoticeSnapshot  # the latest published revision
    revisions: tuple[NoticeSnapshot, ...]  # every published revision, oldest first
    placement: Placement
    rendered: dict[tuple, bytes] = dataclasses.field(default_factory=dict)


def as_of(stored: Stored, row: Row, now: datetime) -> NoticeSnapshot:
    """The latest snapshot as it reads at ``now``: expired once its expiry has passed."""
    snapshot = stored.snapshot
    if row.overdue(now) and row.expires is not None:
        return dataclasses.replace(
            snapshot, status=S.EXPIRED.value, updated=max(snapshot.sent, row.expires)
        )
    return snapshot


def revisions_as_of(stored: Stored, row: Row, now: datetime) -> list[NoticeSnapshot]:
    """Every published revision's snapshot; the latest reads as of ``now``."""
    return [*stored.revisions[:-1], as_of(stored, row, now)]


class NoticeStore:
    """Per-process snapshots of public notices keyed on ``(id, updated_at)``."""

    def __init__(self) -> None:
        self._items: dict[tuple[uuid.UUID, datetime], Stored] = {}
        self._zones: datetime | None = None
        self._lock = threading.Lock()
        self.built = 0  # snapshots built (tests: only changed notices are rebuilt)

    def get(
        self, session: Session, rows: Iterable[Row], zones_changed: datetime | None
    ) -> dict[uuid.UUID, Stored]:
        """The stored notices of ``rows``, loading in one query those not yet kept.

        A notice that cannot be turned into a snapshot is logged and left out of
        the answer (callers skip rows without a stored notice)."""
        rows = list(rows)
        with self._lock:
            if zones_changed != self._zones or len(self._items) > STORE_SIZE:
                self._items.clear()
                self._zones = zones_changed
            found = {r.id: self._items.get((r.id, r.updated_at)) for r in rows}
        missing = [r for r in rows if found[r.id] is None]
        if missing:
            session.info.pop("zone_names", None)  # names may have changed since last time
            loaded = session.scalars(
                select(Notice)
                .where(Notice.id.in_([r.id for r in missing]))
                .options(selectinload(Notice.revisions))
            )
            built: dict[tuple[uuid.UUID, datetime], Stored] = {}
            for notice in loaded:
                try:
                    stored = self._build(session, notice)
                except Exception:
                    # One unusable record must not take every feed and page down with it.
                    logger.exception("public notice %s left out: it cannot be shown", notice.id)
                    continue
                built[(notice.id, _aware(notice.updated_at))] = stored  # type: ignore[index]
            with self._lock:
                self._items.update(built)
                self.built += len(built)
            for row in missing:
                found[row.id] = built.get((row.id, row.updated_at))
        return {nid: stored for nid, stored in found.items() if stored is not None}

    @staticmethod
    def _build(session: Session, notice: Notice) -> Stored:
        revisions = public.published_revisions(notice)
        latest = revisions[-1]
        # An earlier revision reads as it did when it was current (not "Avblåst").
        snapshots = tuple(
            build_snapshot(session, notice, r)
            if r.id == latest.id
            else _as_current(session, notice, r)
            for r in revisions
        )
        placement = Placement(
            latest.id, list(latest.zone_slugs), latest.area_geojson, latest.area_bbox
        )
        return Stored(snapshots[-1], snapshots, placement)


def _as_current(session: Session, notice: Notice, revision: Any) -> NoticeSnapshot:
    snapshot = build_snapshot(session, notice, revision)
    return dataclasses.replace(snapshot, status=S.ACTIVE.value, updated=snapshot.sent)


def rendered(stored: Stored, key: tuple, render: Callable[[], bytes]) -> bytes:
    """``render()`` kept with the stored notice under ``key`` (e.g. ``("atom", "sv", overdue)``)."""
    body = stored.rendered.get(key)
    if body is None:
        body = stored.rendered[key] = render()
    return body
