"""Which addresses lie in an area, and which zones contain a point.

The caller (the database side) prefilters addresses by the area's bounding
box (:func:`geodata.areas.area_bbox_lon_lat`) in SQL, then hands the
candidates' coordinates here as numpy arrays. Points exactly on an area's
boundary count as inside: a resident on the edge of a boil-water zone should
hear about it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geodata.crs import within_bounds

logger = logging.getLogger(__name__)

_TREE_THRESHOLD = 8
"""Above this many zones, :func:`zones_containing` uses an STRtree."""


def points_in_area_mask(area_lon_lat: BaseGeometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside or on the boundary of the area.

    Vectorised with shapely 2 (``prepare`` + ``intersects_xy``); points
    outside the area's bounding box are rejected first with plain numpy.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in shape: {lon.shape} and {lat.shape}")
    mask = np.zeros(lon.shape, dtype=bool)
    if lon.size == 0 or area_lon_lat.is_empty:
        return mask
    shapely.prepare(area_lon_lat)
    in_box = within_bounds(lon, lat, area_lon_lat.bounds)
    if in_box.all():
        return np.asarray(shapely.intersects_xy(area_lon_lat, lon, lat), dtype=bool)
    mask[in_box] = shapely.intersects_xy(area_lon_lat, lon[in_box], lat[in_box])
    return mask


class ZoneIndex:
    """Zones in an STRtree, for repeated "which zones contain this point" questions.

    Build one per zone set (e.g. when the zones change) and reuse it.
    """

    def __init__(self, zones: Mapping[str, BaseGeometry]) -> None:
        self.slugs: list[str] = list(zones)
        self._geometries = np.array(list(zones.values()), dtype=object)
        shapely.prepare(self._geometries)
        self._tree = STRtree(self._geometries)

    def __len__(self) -> int:
        """The number of zones."""
        return len(self.slugs)

    def containing(self, lon: float, lat: float) -> list[str]:
        """The slugs of the zones containing the point (boundary included), in index order."""
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        return [self.slugs[i] for i in sorted(hits)]

    def query_points(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All (point index, zone index) pairs where a zone contains a point.

        Zone indexes refer to :attr:`slugs`. Pairs are sorted by point index.
        """
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        point_index, zone_index = self._tree.query(points, predicate="intersects")
        order = np.lexsort((zone_index, point_index))
        return point_index[order], zone_index[order]


def zones_containing(lon: float, lat: float, zones: Mapping[str, BaseGeometry]) -> list[str]:
    """The slugs of the zones that contain the point (boundary included), in mapping order.

    For many zones an STRtree is built; to ask many times, keep a
    :class:`ZoneIndex` instead.
    """
    if len(zones) > _TREE_THRESHOLD:
        return ZoneIndex(zones).containing(lon, lat)
    found = []
    for slug, geometry in zones.items():
        if shapely.intersects_xy(geometry, lon, lat):
            found.append(slug)
    return found
