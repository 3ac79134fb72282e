"""Who is inside an area: subscribed points prefiltered by bounding box in SQL, then
matched with vectorised shapely predicates (``geodata.matching``). The same code runs
on SQLite and PostgreSQL; neither needs a spatial extension.

The prefilter reads only ``subscriber_id, lon, lat`` through the DBAPI cursor
of the session's own connection (so it sees the session's unflushed-to-commit
work) straight into numpy arrays: no ORM objects and no SQLAlchemy rows for
what can be hundreds of thousands of points. The composite index
``(lon, lat, subscriber_id)`` covers the query.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from shapely.geometry import shape
from sqlalchemy.orm import Session

from geodata.matching import points_in_area_mask

logger = logging.getLogger(__name__)

_BOX_SQL = (
    "SELECT subscriber_id, lon, lat FROM subscriber_locations "
    "WHERE lon BETWEEN {p} AND {p} AND lat BETWEEN {p} AND {p}"
)
_FETCH_ROWS = 100_000


def subscriber_ids_in_area(
    session: Session, area_geojson_lon_lat: dict[str, Any], bbox: list[float] | None = None
) -> set[int]:
    """Subscribers with at least one location inside the area (boundary inclusive)."""
    area = shape(area_geojson_lon_lat)
    if area.is_empty:
        return set()
    min_lon, min_lat, max_lon, max_lat = bbox or area.bounds
    ids, lon, lat = locations_in_box(session, (min_lon, min_lat, max_lon, max_lat))
    if ids.size == 0:
        return set()
    mask = points_in_area_mask(area, lon, lat)
    return set(np.unique(ids[mask]).tolist())


def locations_in_box(
    session: Session, bbox_lon_lat: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(subscriber_ids, lon, lat)`` arrays of the subscribed points inside a bounding box."""
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox_lon_lat)
    session.flush()  # what session.execute would autoflush: pending locations count too
    connection = session.connection()
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = _BOX_SQL.format(p=placeholder)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, (min_lon, max_lon, min_lat, max_lat))
        chunks: list[np.ndarray] = []
        while True:
            rows = cursor.fetchmany(_FETCH_ROWS)
            if not rows:
                break
            chunks.append(np.array(rows, dtype=float).reshape(-1, 3))
    finally:
        cursor.close()
    if not chunks:
        empty = np.empty(0)
        return empty.astype(np.int64), empty, empty
    data = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return data[:, 0].astype(np.int64), data[:, 1], data[:, 2]
