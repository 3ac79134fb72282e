"""Who is inside an area: subscribed points prefiltered by bounding box in SQL, then
matched with vectorised shapely predicates (``geodata.matching``). The same code runs
on SQLite and PostgreSQL; neither needs a spatial extension."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from geodata.matching import points_in_area_mask

from .models import SubscriberLocation

logger = logging.getLogger(__name__)


def subscriber_ids_in_area(
    session: Session, area_geojson_lon_lat: dict[str, Any], bbox: list[float] | None = None
) -> set[int]:
    """Subscribers with at least one location inside the area (boundary inclusive)."""
    area = shape(area_geojson_lon_lat)
    min_lon, min_lat, max_lon, max_lat = bbox or area.bounds
    rows = session.execute(
        select(
            SubscriberLocation.subscriber_id, SubscriberLocation.lon, SubscriberLocation.lat
        ).where(
            SubscriberLocation.lon.between(min_lon, max_lon),
            SubscriberLocation.lat.between(min_lat, max_lat),
        )
    ).all()
    if not rows:
        return set()
    data = np.asarray(rows, dtype=float)
    mask = points_in_area_mask(area, data[:, 1], data[:, 2])
    return set(data[mask, 0].astype(int).tolist())
