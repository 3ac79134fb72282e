"""Who a notice would reach: subscribers per channel and language, and the register's
addresses inside the area that nobody has subscribed for (households to reach another way).

The subscribers are found by the same targeting the fan-out uses
(:func:`alerts.places.targeting.subscriber_ids_in_area`) and counted with the same test
of who wants a channel (:func:`alerts.residents.models.wants_channel`) and, given the
notice's category, of who wants a new alert of it
(:func:`alerts.residents.models.wants_notice`: the category chosen, not paused), so the
figure an operator sees before publishing is the number of messages that will be written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.notices.models import MsgType, NoticeRevision
from alerts.orm import utcnow
from alerts.places.areas import resolve_area
from alerts.places.models import Address
from alerts.places.targeting import subscriber_ids_in_area
from alerts.residents.models import (
    Subscriber,
    SubscriberLocation,
    wants_channel,
    wants_notice,
)
from geodata.matching import points_in_area_mask

PUSH_CHANNELS = ("sms", "email")
_CHUNK = 2000


@dataclass
class Reach:
    """What :func:`reach` counts."""

    subscribers: int = 0  # reached by at least one channel
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> lang -> n
    addresses: int = 0  # register addresses inside the area
    addresses_without_subscriber: int = 0

    def channel_total(self, channel: str) -> int:
        return sum(self.by_channel.get(channel, {}).values())


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def reach(
    session: Session,
    area_request: dict[str, Any],
    channels: Iterable[str] = PUSH_CHANNELS,
    *,
    category: str | None = None,
) -> Reach:
    """The reach of an area as the API takes it (``{"zones": [...], "circle": ...}``);
    with ``category``, of a new alert of that category."""
    area_geojson, bbox = resolve_area(session, area_request)
    return reach_of_area(session, area_geojson, bbox, channels, category=category)


def reach_of_area(
    session: Session,
    area_geojson: dict[str, Any],
    bbox: list[float] | None,
    channels: Iterable[str] = PUSH_CHANNELS,
    *,
    category: str | None = None,
    now: datetime | None = None,
) -> Reach:
    """The reach of a resolved area (GeoJSON lon/lat); with ``category``, only those a new
    alert of that category reaches (they chose it and have not paused at ``now``)."""
    wanted = [c for c in channels if c in PUSH_CHANNELS]
    wants = [wants_notice(category, now or utcnow())] if category is not None else []
    ids = subscriber_ids_in_area(session, area_geojson, bbox)
    result = Reach(by_channel={c: {} for c in wanted})
    reached: set[int] = set()
    for channel in wanted:
        _count(session, result, reached, channel, ids, wants)
    result.subscribers = len(reached)
    result.addresses, result.addresses_without_subscriber = _addresses(session, area_geojson, bbox)
    return result


def _count(
    session: Session,
    result: Reach,
    reached: set[int],
    channel: str,
    ids: Iterable[int],
    rules: list[Any],
) -> None:
    """Add to ``result`` (by language) and ``reached`` the subscribers among ``ids`` who want
    ``channel`` and meet ``rules``."""
    counts = result.by_channel[channel]
    for chunk in _chunks(sorted(ids)):
        rows = session.execute(
            select(Subscriber.id, Subscriber.language).where(
                Subscriber.id.in_(chunk), wants_channel(channel), *rules
            )
        ).all()
        for subscriber_id, language in rows:
            reached.add(subscriber_id)
            counts[language] = counts.get(language, 0) + 1


def reach_of_revision(
    session: Session,
    revision: NoticeRevision,
    earlier: Mapping[str, set[int]] | None = None,
) -> Reach | None:
    """The reach of a revision of a notice, as its fan-out will write it (None: no area).

    The area's subscribers who want the notice's category and have not paused; and, given
    ``earlier`` (per channel, who was sent an earlier revision: the dispatcher's record,
    which the console passes in), those people too whatever their category or place now.
    An all-clear reaches only them. Without ``earlier`` a later revision counts the area's
    subscribers by channel alone.
    """
    if not revision.area_geojson:
        return None
    if earlier is None:
        return reach_of_area(
            session,
            revision.area_geojson,
            revision.area_bbox,
            revision.channels,
            category=str(revision.category) if revision.number == 1 else None,
        )
    wanted = [c for c in revision.channels if c in PUSH_CHANNELS]
    in_area: set[int] = set()
    if revision.msg_type != MsgType.CANCEL:
        in_area = subscriber_ids_in_area(session, revision.area_geojson, revision.area_bbox)
    wants_alert = wants_notice(str(revision.category), utcnow())
    result = Reach(by_channel={c: {} for c in wanted})
    reached: set[int] = set()
    for channel in wanted:
        before = earlier.get(channel, set())
        _count(session, result, reached, channel, before, [])
        _count(session, result, reached, channel, in_area - before, [wants_alert])
    result.subscribers = len(reached)
    result.addresses, result.addresses_without_subscriber = _addresses(
        session, revision.area_geojson, revision.area_bbox
    )
    return result


def _addresses(
    session: Session, area_geojson: dict[str, Any], bbox: list[float] | None
) -> tuple[int, int]:
    """Register addresses inside the area, and how many of them no subscriber has."""
    area = shape(area_geojson)
    if area.is_empty:
        return 0, 0
    min_lon, min_lat, max_lon, max_lat = bbox or area.bounds
    rows = session.execute(
        select(Address.id, Address.lon, Address.lat).where(
            Address.lon.between(min_lon, max_lon), Address.lat.between(min_lat, max_lat)
        )
    ).all()
    if not rows:
        return 0, 0
    data = np.array(rows, dtype=float).reshape(-1, 3)
    inside = data[points_in_area_mask(area, data[:, 1], data[:, 2]), 0].astype(np.int64)
    address_ids = inside.tolist()
    covered = 0
    for chunk in _chunks(address_ids):
        covered += (
            session.scalar(
                select(func.count(func.distinct(SubscriberLocation.address_id))).where(
                    SubscriberLocation.address_id.in_(chunk)
                )
            )
            or 0
        )
    return len(address_ids), len(address_ids) - covered
