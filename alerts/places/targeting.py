"""Who is inside an area: subscribed points prefiltered by bounding box in SQL, then
matched with vectorised shapely predicates (``geodata.matching``). The same code runs
on SQLite and PostgreSQL; neither needs a spatial extension.

The area's bounding box is cut into a grid of tiles. Tiles the area covers
entirely need no geometry test: SQL hands back just their subscriber ids,
as one comma-separated string per strip that numpy parses. Only the points
in tiles the boundary crosses come back with their coordinates (through the
DBAPI cursor, straight into numpy) for ``intersects_xy``. Tiles outside the
area are not read at all. No ORM objects and no SQLAlchemy rows are made for
what can be hundreds of thousands of points; the composite index
``(lon, lat, subscriber_id)`` covers every query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from geodata.matching import points_in_area_mask

logger = logging.getLogger(__name__)

GRID_TILES = 16
"""The bounding box is cut into this many columns and rows of tiles."""

_WHERE_BOX = "WHERE lon BETWEEN {p} AND {p} AND lat BETWEEN {p} AND {p}"
_POINTS_SQL = "SELECT subscriber_id, lon, lat FROM subscriber_locations " + _WHERE_BOX
_IDS_SQL = {
    "sqlite": "SELECT group_concat(subscriber_id) FROM subscriber_locations " + _WHERE_BOX,
    "postgresql": (
        "SELECT string_agg(subscriber_id::text, ',') FROM subscriber_locations " + _WHERE_BOX
    ),
}
_FETCH_ROWS = 100_000

Box = tuple[float, float, float, float]


def subscriber_ids_in_area(
    session: Session, area_geojson_lon_lat: dict[str, Any], bbox: list[float] | None = None
) -> set[int]:
    """Subscribers with at least one location inside the area (boundary inclusive)."""
    area = shape(area_geojson_lon_lat)
    if area.is_empty:
        return set()
    min_lon, min_lat, max_lon, max_lat = bbox or area.bounds
    covered, crossed = area_tiles(area, (min_lon, min_lat, max_lon, max_lat))
    found = [ids_in_box(session, box) for box in covered]
    for box in crossed:
        ids, lon, lat = locations_in_box(session, box)
        if ids.size:
            found.append(ids[points_in_area_mask(area, lon, lat)])
    if not found:
        return set()
    return set(np.unique(np.concatenate(found)).tolist())


def area_tiles(area: BaseGeometry, bbox_lon_lat: Box) -> tuple[list[Box], list[Box]]:
    """Boxes (lon/lat) the area covers entirely, and boxes its boundary crosses.

    Tiles of a :data:`GRID_TILES` grid over the bounding box are classified
    with shapely; runs of like tiles in a column are merged into one box, so
    there are a few dozen boxes at most. Tiles outside the area are dropped.
    """
    min_lon, min_lat, max_lon, max_lat = bbox_lon_lat
    if not (max_lon > min_lon and max_lat > min_lat):
        return [], [bbox_lon_lat]
    xs = np.linspace(min_lon, max_lon, GRID_TILES + 1)
    ys = np.linspace(min_lat, max_lat, GRID_TILES + 1)
    xs[-1], ys[-1] = max_lon, max_lat
    col, row = np.meshgrid(np.arange(GRID_TILES), np.arange(GRID_TILES), indexing="ij")
    tiles = shapely.box(xs[col], ys[row], xs[col + 1], ys[row + 1])
    shapely.prepare(area)
    covered = shapely.covers(area, tiles)
    crossed = shapely.intersects(area, tiles) & ~covered
    return list(_column_runs(covered, xs, ys)), list(_column_runs(crossed, xs, ys))


def _column_runs(flags: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> Iterator[Box]:
    """Merge vertically adjacent flagged tiles of each column into one box."""
    for i in range(flags.shape[0]):
        j = 0
        while j < flags.shape[1]:
            if not flags[i, j]:
                j += 1
                continue
            start = j
            while j < flags.shape[1] and flags[i, j]:
                j += 1
            yield (float(xs[i]), float(ys[start]), float(xs[i + 1]), float(ys[j]))


def _placeholder(session: Session) -> str:
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def _box_params(box: Box) -> tuple[float, float, float, float]:
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in box)
    return (min_lon, max_lon, min_lat, max_lat)


def ids_in_box(session: Session, bbox_lon_lat: Box) -> np.ndarray:
    """The subscriber ids of the points inside a box (with repeats), as one int64 array."""
    session.flush()  # what session.execute would autoflush: pending locations count too
    connection = session.connection()
    sql = _IDS_SQL.get(connection.dialect.name, _IDS_SQL["postgresql"])
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql.format(p=_placeholder(session)), _box_params(bbox_lon_lat))
        row = cursor.fetchone()
    finally:
        cursor.close()
    text = row[0] if row else None
    if not text:
        return np.empty(0, dtype=np.int64)
    return np.array(text.split(","), dtype=np.int64)


def locations_in_box(
    session: Session, bbox_lon_lat: Box
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(subscriber_ids, lon, lat)`` arrays of the subscribed points inside a bounding box."""
    session.flush()
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_POINTS_SQL.format(p=_placeholder(session)), _box_params(bbox_lon_lat))
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
