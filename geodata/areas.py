"""Notice areas: zones, a drawn polygon and circles combined; simplified for transport.

All inputs and outputs are WGS 84 lon/lat. Unions are computed in the metric
CRS (:data:`geodata.crs.METRIC_CRS`, SWEREF 99 TM) and circles are drawn in a
local azimuthal equidistant projection, so that ``radius_m`` is true metres
on the ground, not degrees.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geodata import crs as crs_mod
from geodata.geometry_checks import (
    GeometryProblems,
    all_coordinates,
    as_multipolygon,
    build_polygons,
    invalidity_reason,
    polygon_rings,
    polygonal_part,
)

logger = logging.getLogger(__name__)

MAX_TRANSPORT_POINTS = 250
"""Most coordinate pairs an area may have when it leaves the system (CAP, SMS links, maps)."""
MAX_DRAWN_POSITIONS = 10_000
"""Most positions (all rings, closing positions included) a drawn polygon may have: a
municipality's outline drawn by hand has a few hundred; a million-vertex polygon once took
36 s to be accepted and made every list of notices that carried it huge."""
MAX_DRAWN_PARTS = 50
"""Most parts a drawn MultiPolygon may have."""
MIN_DRAWN_WIDTH_M = 2.0
"""Narrowest a drawn part may be on average (twice its area over its perimeter): a thinner
one is a slip of the mouse or a boundary drawn back along itself, which would reach next to
nobody while its author believes it covers a street. The houses along one side of a street
make a strip some 20 m wide."""
MAX_CIRCLE_RADIUS_M = 100_000.0
CIRCLE_QUAD_SEGMENTS = 16
"""Segments per quarter circle: a 64-gon, whose area is 0.16 % short of the true circle."""
_GEOD = Geod(ellps="WGS84")

Circle = tuple[float, float, float]
"""``(lon, lat, radius_m)``."""


class AreaError(ValueError):
    """An area cannot be built; ``field`` names the input at fault, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def parse_polygon_geojson(
    obj: Mapping[str, Any] | str,
    *,
    field: str = "",
    region_bounds_lon_lat: tuple[float, float, float, float] | None = (
        crs_mod.SWEDEN_BOUNDS_LON_LAT
    ),
) -> Polygon | MultiPolygon:
    """Parse a drawn GeoJSON Polygon or MultiPolygon (lon/lat), refusing anything doubtful.

    Unlike zone import nothing is repaired: a polygon that crosses itself is
    refused with where it does, since the operator can redraw it and a guess
    could alert the wrong people. Raises :class:`AreaError` for invalid JSON,
    other geometry types, unclosed rings, rings with too few positions,
    out-of-range or swapped coordinates, coordinates outside
    ``region_bounds_lon_lat`` (Sweden), self-intersections and polygons
    without area. A GeoJSON Feature is unwrapped.

    ``AreaError.field`` is a path below the geometry (``type`` or
    ``coordinates``; empty for the whole), prefixed with ``field`` when given,
    so a caller can report ``area.geometry.coordinates``.
    """

    def error(sub_field: str, message: str) -> AreaError:
        return AreaError(".".join(p for p in (field, sub_field) if p), message)

    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise error("", f"is not valid JSON: {exc.msg}") from exc
    if isinstance(obj, Mapping) and obj.get("type") == "Feature":
        obj = cast(Any, obj.get("geometry"))
    if not isinstance(obj, Mapping) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        sub_field = "type" if isinstance(obj, Mapping) else ""
    else:
        sub_field = "coordinates"
        if too_big := drawn_size_problem(obj):
            raise error("", too_big)
    try:
        rings = polygon_rings(obj)
    except GeometryProblems as exc:
        raise error(sub_field, "; ".join(exc.problems)) from exc
    coordinates = all_coordinates(rings)
    problem = crs_mod.check_lon_lat_plausible(
        coordinates[:, 0], coordinates[:, 1], region_bounds_lon_lat=region_bounds_lon_lat
    )
    if problem:
        raise error("coordinates", problem)
    parts = build_polygons(rings)
    for index, part in enumerate(parts):
        label = f"part {index + 1}" if len(parts) > 1 else "the polygon"
        metric = crs_mod.lon_lat_to_metric(shapely.make_valid(part))
        if metric.area < 1.0:
            raise error("coordinates", f"{label} has no area: its points lie on a line")
        width = 2 * metric.area / metric.length
        if width < MIN_DRAWN_WIDTH_M:
            raise error(
                "coordinates",
                f"{label} is {width:.1f} m wide on average (at least {MIN_DRAWN_WIDTH_M:g} m):"
                " its points lie almost on a line",
            )
    geometry: Polygon | MultiPolygon = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    reason = invalidity_reason(geometry)
    if reason:
        raise error(
            "coordinates", f"{reason} (lon, lat); redraw the polygon so that its edges do not cross"
        )
    return geometry


def drawn_size_problem(
    geometry: Mapping[str, Any],
    *,
    max_positions: int = MAX_DRAWN_POSITIONS,
    max_parts: int = MAX_DRAWN_PARTS,
) -> str | None:
    """Why a drawn Polygon/MultiPolygon is too big to accept, or None.

    Counted on the raw GeoJSON before anything is built from it; a malformed
    structure counts as small here and is explained by the structural checks.
    """
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        return None
    parts = coordinates if geometry.get("type") == "MultiPolygon" else [coordinates]
    if len(parts) > max_parts:
        return f"has {len(parts)} parts; at most {max_parts} are accepted"
    positions = sum(
        len(ring)
        for rings in parts
        if isinstance(rings, list)
        for ring in rings
        if isinstance(ring, list)
    )
    if positions > max_positions:
        return (
            f"has {positions} positions; at most {max_positions} are accepted "
            "(simplify the drawing or use a zone)"
        )
    return None


def swapped_center_message(first: float, second: float) -> str:
    """What to say about a circle centre given as ``[lat, lon]`` (``first`` is the latitude)."""
    return (
        f"looks like [lat, lon]; the order is [lon, lat]: [{second:g}, {first:g}], "
        f"not [{first:g}, {second:g}]"
    )


def circle_lon_lat(lon: float, lat: float, radius_m: float, *, field: str = "circle") -> Polygon:
    """A circle of ``radius_m`` true metres around a lon/lat point, as a lon/lat polygon."""
    problem = crs_mod.check_lon_lat_plausible(np.array([lon]), np.array([lat]))
    if problem:
        raise AreaError(field, problem)
    if not (isinstance(radius_m, int | float) and math.isfinite(radius_m)):
        raise AreaError(f"{field}.radius_m", "the radius must be a number of metres")
    if not 1.0 <= radius_m <= MAX_CIRCLE_RADIUS_M:
        raise AreaError(
            f"{field}.radius_m",
            f"the radius must be between 1 m and {MAX_CIRCLE_RADIUS_M / 1000:g} km, "
            f"not {radius_m:g} m",
        )
    local = crs_mod.local_metric_crs(lon, lat)
    disc = Point(0.0, 0.0).buffer(radius_m, quad_segs=CIRCLE_QUAD_SEGMENTS)
    return cast(Polygon, crs_mod.transform_geometry(disc, local, crs_mod.WGS84))


def build_area(
    zone_geometries_lon_lat: Iterable[BaseGeometry] = (),
    polygon_geojson_lon_lat: Mapping[str, Any] | str | BaseGeometry | None = None,
    circles: Iterable[Circle] = (),
) -> MultiPolygon:
    """The union of zones, a drawn polygon and circles ``(lon, lat, radius_m)``, in lon/lat.

    The polygon may be GeoJSON (checked with :func:`parse_polygon_geojson`) or
    an already-checked shapely geometry. Raises :class:`AreaError` when the
    inputs are bad or together empty.
    """
    metric_parts: list[BaseGeometry] = [
        crs_mod.lon_lat_to_metric(g) for g in zone_geometries_lon_lat if not g.is_empty
    ]
    if polygon_geojson_lon_lat is not None:
        polygon = (
            polygon_geojson_lon_lat
            if isinstance(polygon_geojson_lon_lat, BaseGeometry)
            else parse_polygon_geojson(polygon_geojson_lon_lat)
        )
        metric_parts.append(crs_mod.lon_lat_to_metric(polygon))
    for index, circle in enumerate(circles):
        field = f"circles[{index}]"
        try:
            lon, lat, radius_m = (float(v) for v in circle)
        except (TypeError, ValueError) as exc:
            raise AreaError(field, "a circle is (lon, lat, radius_m), three numbers") from exc
        metric_parts.append(
            crs_mod.lon_lat_to_metric(circle_lon_lat(lon, lat, radius_m, field=field))
        )
    if not metric_parts:
        raise AreaError(
            "area", "the area is empty: choose at least one zone, draw a polygon or give a circle"
        )
    union_metric = shapely.union_all([shapely.make_valid(p) for p in metric_parts])
    union_metric = polygonal_part(shapely.make_valid(union_metric))
    if union_metric.is_empty:
        raise AreaError("area", "the area has no extent")
    return as_multipolygon(crs_mod.metric_to_lon_lat(union_metric))


def area_m2(geometry_lon_lat: BaseGeometry) -> float:
    """The area on the ground in square metres (geodesic, on the WGS 84 ellipsoid)."""
    area, _perimeter = _GEOD.geometry_area_perimeter(geometry_lon_lat)
    return abs(area)


def area_bbox_lon_lat(geometry_lon_lat: BaseGeometry) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)``: use it to prefilter addresses in SQL."""
    min_lon, min_lat, max_lon, max_lat = geometry_lon_lat.bounds
    return (min_lon, min_lat, max_lon, max_lat)


def count_points(geometry: BaseGeometry) -> int:
    """The number of coordinate pairs, closing positions of rings included."""
    return int(shapely.get_num_coordinates(geometry))


def fill_holes(geometry: BaseGeometry) -> MultiPolygon:
    """The geometry's polygons without their holes (the area only grows)."""
    return MultiPolygon([Polygon(p.exterior) for p in as_multipolygon(geometry).geoms])


def simplify_for_transport(
    area_lon_lat: BaseGeometry,
    *,
    max_points: int = MAX_TRANSPORT_POINTS,
    must_contain_lon_lat: Sequence[tuple[float, float]] | np.ndarray | None = None,
) -> MultiPolygon:
    """An area of at most ``max_points`` coordinate pairs that covers the full area.

    Simplification goes outward: the area (holes filled, since CAP polygons
    cannot have holes) is buffered out by a little more than the tolerance and
    then simplified, with the tolerance growing until the point budget is met.
    The result is checked to cover the full area and every point of
    ``must_contain_lon_lat`` that the full area covers, after rounding to 6
    decimals as :func:`as_coordinate_pairs_lat_lon` does. If nothing else fits,
    the area's minimum rotated rectangle (5 points) is used.
    """
    if max_points < 5:
        raise ValueError("max_points must be at least 5 (a closed quadrilateral)")
    area = as_multipolygon(area_lon_lat)
    if area.is_empty:
        raise AreaError("area", "the area is empty")
    points = np.asarray(
        must_contain_lon_lat if must_contain_lon_lat is not None else np.empty((0, 2)), dtype=float
    ).reshape(-1, 2)
    shapely.prepare(area)
    required = points[shapely.intersects_xy(area, points[:, 0], points[:, 1])]

    def acceptable(candidate: MultiPolygon) -> bool:
        return (
            count_points(candidate) <= max_points
            and bool(shapely.covers(candidate, area))
            and bool(shapely.intersects_xy(candidate, required[:, 0], required[:, 1]).all())
        )

    filled = _round_lon_lat(fill_holes(area))
    if shapely.is_valid(filled) and acceptable(filled):
        return filled
    metric = crs_mod.lon_lat_to_metric(fill_holes(area))
    tolerance_m = max(1.0, math.sqrt(metric.area) / max_points)
    for _attempt in range(60):
        candidate = _round_lon_lat(crs_mod.metric_to_lon_lat(_outward(metric, tolerance_m)))
        if acceptable(candidate):
            logger.debug(
                "simplified area from %d to %d points (tolerance %.0f m)",
                count_points(area),
                count_points(candidate),
                tolerance_m,
            )
            return candidate
        tolerance_m *= 1.4
    logger.warning("area could not be simplified under %d points; using a rectangle", max_points)
    rectangle = shapely.oriented_envelope(metric.buffer(10.0))
    return as_multipolygon(_round_lon_lat(crs_mod.metric_to_lon_lat(rectangle.buffer(10.0, 1))))


def _outward(metric: BaseGeometry, tolerance_m: float) -> MultiPolygon:
    """Buffer out by more than the tolerance, then simplify: the result covers the input."""
    grown = metric.buffer(1.2 * tolerance_m + 1.0, quad_segs=2)
    simplified = shapely.simplify(grown, tolerance_m, preserve_topology=True)
    return fill_holes(polygonal_part(shapely.make_valid(simplified)))


def _round_lon_lat(geometry: BaseGeometry, decimals: int = 6) -> MultiPolygon:
    """Round coordinates as they will be sent (6 decimals ≈ 0.1 m)."""
    return as_multipolygon(shapely.transform(geometry, lambda xy: np.round(xy, decimals)))


def as_coordinate_pairs_lat_lon(
    geometry_lon_lat: BaseGeometry, decimals: int = 6
) -> list[list[tuple[float, float]]]:
    """One closed list of ``(lat, lon)`` pairs per polygon, outer rings only, for CAP ``<polygon>``.

    CAP orders pairs latitude first. Holes are left out (CAP cannot express
    them); pass the result of :func:`simplify_for_transport`, which has none.
    """
    rings = []
    for polygon in as_multipolygon(geometry_lon_lat).geoms:
        coords = np.asarray(polygon.exterior.coords)[:, :2]
        rings.append(
            [(round(float(lat), decimals), round(float(lon), decimals)) for lon, lat in coords]
        )
    return rings


def cap_polygon_strings(geometry_lon_lat: BaseGeometry, decimals: int = 6) -> list[str]:
    """CAP 1.2 ``<polygon>`` texts: ``"lat,lon lat,lon ..."``, one per polygon."""
    return [
        " ".join(f"{lat:.{decimals}f},{lon:.{decimals}f}" for lat, lon in ring)
        for ring in as_coordinate_pairs_lat_lon(geometry_lon_lat, decimals)
    ]
