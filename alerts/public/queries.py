"""What the public may see: queries behind the feeds, the banner and the public pages.

No Flask here. Every function answers notices (or revisions) that went out to
the public: active ones, and ended ones (all-clear or expired). Drafts,
notices waiting for approval and *scheduled* notices are never public, even
though a scheduled notice already has a published revision.

The views turn the notices into snapshots with :func:`public_snapshot`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, selectinload

from alerts.notices.models import Notice, NoticeRevision, NoticeStatus, RevisionState
from alerts.notices.snapshots import build_snapshot
from alerts.places.models import Zone
from channels.base import NoticeSnapshot

logger = logging.getLogger(__name__)

S = NoticeStatus
ENDED = (S.CANCELLED, S.EXPIRED)


class Placed(Protocol):
    """What zone and point checks read of a published revision (a ``NoticeRevision``, or
    the read path's copy of one)."""

    @property
    def id(self) -> int: ...
    @property
    def zone_slugs(self) -> list[str]: ...
    @property
    def area_geojson(self) -> dict[str, Any] | None: ...
    @property
    def area_bbox(self) -> list[float] | None: ...


class UnknownZone(LookupError):
    """No zone has that slug."""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def is_public(notice: Notice) -> bool:
    """True when the notice went out to the public (active now, or ended after going out)."""
    return notice.published_at is not None and notice.status in (S.ACTIVE, *ENDED)


def overdue(notice: Notice, now: datetime | None = None) -> bool:
    """Active, but its expiry has passed (the expiry job has not run yet)."""
    expires = _aware(notice.expires)
    return notice.status == S.ACTIVE and expires is not None and expires <= _now(now)


def _public_clause(cutoff: datetime | None) -> ColumnElement[bool]:
    """SQL: went out to the public and is active, or ended after ``cutoff`` (None: any time)."""
    ended: ColumnElement[bool] = Notice.status.in_(ENDED)
    if cutoff is not None:
        ended = ended & (Notice.ended_at >= cutoff)
    return Notice.published_at.is_not(None) & or_(Notice.status == S.ACTIVE, ended)


def _cutoff(include_ended_days: float, now: datetime) -> datetime:
    return now - timedelta(days=include_ended_days)


def get_zone(session: Session, slug: str) -> Zone:
    """The zone with ``slug``; :class:`UnknownZone` when there is none."""
    zone = session.scalar(select(Zone).where(Zone.slug == slug))
    if zone is None:
        raise UnknownZone(slug)
    return zone


@dataclass(frozen=True)
class ZoneEntry:
    """A zone as a web site embedding the banner or following a zone's feed needs it."""

    slug: str
    name: str
    kind: str


def zone_entries(session: Session) -> list[ZoneEntry]:
    """Every zone's slug, name and kind, by name (not its geometry)."""
    rows = session.execute(select(Zone.slug, Zone.name, Zone.kind).order_by(Zone.name, Zone.slug))
    return [ZoneEntry(slug, name, kind) for slug, name, kind in rows]


@lru_cache(maxsize=4096)
def _geometry(key: tuple[str, int], geojson_text: str) -> tuple[BaseGeometry, PreparedGeometry]:
    geometry = shape(json.loads(geojson_text))
    return geometry, prep(geometry)


def _revision_geometry(revision: Placed) -> tuple[BaseGeometry, PreparedGeometry] | None:
    # Published revisions never change, so their shapes are cached by revision id.
    if not revision.area_geojson:
        return None
    return _geometry(("revision", revision.id), json.dumps(revision.area_geojson, sort_keys=True))


def _zone_geometry(zone: Zone) -> tuple[BaseGeometry, PreparedGeometry]:
    updated = _aware(zone.updated_at)
    stamp = int(updated.timestamp() * 1e6) if updated else 0
    return _geometry((f"zone:{zone.slug}", stamp), json.dumps(zone.geometry, sort_keys=True))


def in_zone(revision: Placed, zone: Zone) -> bool:
    """True when the revision names the zone, or its area overlaps the zone's interior
    (a drawn polygon or circle inside the zone; a neighbour that only touches does not)."""
    if zone.slug in revision.zone_slugs:
        return True
    area = _revision_geometry(revision)
    if area is None:
        return False
    bbox = revision.area_bbox
    if bbox and (
        bbox[0] > zone.max_lon
        or bbox[2] < zone.min_lon
        or bbox[1] > zone.max_lat
        or bbox[3] < zone.min_lat
    ):
        return False
    geometry, prepared = area
    zone_geometry, _ = _zone_geometry(zone)
    return prepared.intersects(zone_geometry) and not geometry.touches(zone_geometry)


def covers_point(revision: Placed, lon: float, lat: float) -> bool:
    """True when the revision's area covers the point (its boundary included)."""
    bbox = revision.area_bbox
    if bbox and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
        return False
    area = _revision_geometry(revision)
    return area is not None and area[1].covers(Point(lon, lat))


def _published(notice: Notice) -> NoticeRevision:
    revision = notice.published_revision
    assert revision is not None, f"public notice {notice.id} has no published revision"
    return revision


def public_notices(
    session: Session,
    *,
    zone: str | None = None,
    category: str | None = None,
    include_ended_days: float,
    now: datetime | None = None,
) -> list[Notice]:
    """Active notices and those ended within ``include_ended_days``, newest change first.

    ``zone`` (a slug; :class:`UnknownZone` if there is no such zone) keeps the
    notices whose published area names or overlaps it; ``category`` keeps one
    category. Never drafts, notices waiting for approval or scheduled ones.
    """
    now = _now(now)
    query = (
        select(Notice)
        .where(_public_clause(_cutoff(include_ended_days, now)))
        .options(selectinload(Notice.revisions))
        .order_by(Notice.updated_at.desc(), Notice.id)
    )
    if category:
        query = query.where(Notice.category == category)
    notices = list(session.scalars(query))
    if zone is not None:
        the_zone = get_zone(session, zone)
        notices = [n for n in notices if in_zone(_published(n), the_zone)]
    return notices


def active_for_place(
    session: Session,
    zone: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    *,
    now: datetime | None = None,
) -> list[Notice]:
    """Active notices for a zone (slug) or a point (lon/lat), or all of them without either.

    A notice whose expiry has passed is left out even before the expiry job
    marks it expired. An unknown zone raises :class:`UnknownZone`.
    """
    now = _now(now)
    query = (
        select(Notice)
        .where(Notice.status == S.ACTIVE, Notice.published_at.is_not(None))
        .where(or_(Notice.expires.is_(None), Notice.expires > now))
        .options(selectinload(Notice.revisions))
        .order_by(Notice.updated_at.desc(), Notice.id)
    )
    notices = list(session.scalars(query))
    if zone is not None:
        the_zone = get_zone(session, zone)
        notices = [n for n in notices if in_zone(_published(n), the_zone)]
    if lon is not None and lat is not None:
        notices = [n for n in notices if covers_point(_published(n), lon, lat)]
    return notices


def public_notice(session: Session, notice_id: uuid.UUID) -> Notice | None:
    """The notice if it is public (whatever its age), else None."""
    notice = session.get(Notice, notice_id)
    return notice if notice is not None and is_public(notice) else None


def published_revisions(notice: Notice) -> list[NoticeRevision]:
    """The notice's revisions that went out, oldest first."""
    return [r for r in notice.revisions if r.state == RevisionState.PUBLISHED]


def public_revision(notice: Notice, number: int) -> NoticeRevision | None:
    """Revision ``number`` if the notice is public and that revision went out."""
    if not is_public(notice):
        return None
    return next((r for r in published_revisions(notice) if r.number == number), None)


@dataclass(frozen=True)
class ArchivePage:
    """One page of archive search results."""

    notices: list[Notice]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _matches(texts: dict[str, Any], needles: Sequence[str]) -> bool:
    haystack = " ".join(
        str(value)
        for text in (texts or {}).values()
        if isinstance(text, dict)
        for key, value in text.items()
        if key in ("headline", "description", "instruction")
    ).casefold()
    return all(needle in haystack for needle in needles)


def search_archive(
    session: Session, q: str = "", *, page: int = 1, per_page: int = 20
) -> ArchivePage:
    """Public notices of any age, newest first; ``q`` matches every word in the headline,
    description or instruction of any published revision, in any language, ignoring case.

    Text is matched in Python (JSON columns differ between SQLite and
    PostgreSQL, and SQLite stores non-ASCII letters escaped); only ids and
    texts are loaded for that, and only the page's notices in full.
    """
    page = max(1, page)
    rows = session.execute(
        select(Notice.id, NoticeRevision.texts)
        .join(NoticeRevision, NoticeRevision.notice_id == Notice.id)
        .where(_public_clause(None), NoticeRevision.state == RevisionState.PUBLISHED)
        .order_by(Notice.published_at.desc(), Notice.id)
    ).all()
    needles = [word.casefold() for word in q.split()]
    ids: list[uuid.UUID] = []
    seen: set[uuid.UUID] = set()
    for notice_id, texts in rows:
        if notice_id not in seen and (not needles or _matches(texts, needles)):
            seen.add(notice_id)
            ids.append(notice_id)
    chosen = ids[(page - 1) * per_page : page * per_page]
    loaded = {
        n.id: n
        for n in session.scalars(
            select(Notice).where(Notice.id.in_(chosen)).options(selectinload(Notice.revisions))
        )
    }
    return ArchivePage([loaded[i] for i in chosen if i in loaded], len(ids), page, per_page)


def last_dropped_at(
    session: Session, *, include_ended_days: float, now: datetime | None = None
) -> datetime | None:
    """When the latest ended notice left the retention window (None if none has).

    A feed changes at that moment though none of its entries did, so its
    ``Last-Modified`` must not be earlier.
    """
    now = _now(now)
    cutoff = _cutoff(include_ended_days, now)
    newest_gone = session.scalar(
        select(func.max(Notice.ended_at)).where(
            Notice.published_at.is_not(None),
            Notice.status.in_(ENDED),
            Notice.ended_at < cutoff,
        )
    )
    newest_gone = _aware(newest_gone)
    return newest_gone + timedelta(days=include_ended_days) if newest_gone else None


def public_snapshot(
    session: Session,
    notice: Notice,
    revision: NoticeRevision | None = None,
    *,
    now: datetime | None = None,
) -> NoticeSnapshot:
    """The snapshot of a public notice's published revision (default: the latest).

    A notice whose expiry has passed reads as expired even before the job
    marks it. An earlier revision reads as it did when it was current (not
    "Avblåst" because a later revision was the all-clear).
    """
    latest = _published(notice)
    revision = revision or latest
    snapshot = build_snapshot(session, notice, revision)
    if revision.id != latest.id:
        return dataclasses.replace(snapshot, status=S.ACTIVE.value, updated=snapshot.sent)
    if overdue(notice, now):
        expires = _aware(notice.expires)
        assert expires is not None
        return dataclasses.replace(
            snapshot, status=S.EXPIRED.value, updated=max(snapshot.sent, expires)
        )
    return snapshot
