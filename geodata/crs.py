"""Coordinate reference systems: parsing what a file declares, cached transformers.

Conventions
-----------
* Every geometry that leaves :mod:`geodata` is in WGS 84 (EPSG:4326) with
  coordinates in **longitude, latitude** order, as GeoJSON (RFC 7946) has it.
  All transformers are built with ``always_xy=True`` so that x is longitude or
  easting and y is latitude or northing whatever the CRS's official axis
  order says (EPSG:4326 officially is lat/lon, EPSG:3006 officially is N/E).
* Metric work (areas, buffers in metres, simplification tolerances) happens in
  SWEREF 99 TM (EPSG:3006), the national projection of Sweden. Its scale error
  is below 0.1 % in most of the country and about 0.3 % at the far east
  (Haparanda); good enough for notice areas. Circles are buffered in a local
  azimuthal equidistant projection instead (see :func:`local_metric_crs`), so
  their radius is exact anywhere.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
SWEREF99_TM = "EPSG:3006"
METRIC_CRS = SWEREF99_TM
"""The projected CRS used for metric work (areas, buffers, tolerances)."""

# Sweden with about 30 km of margin, (min_lon, min_lat, max_lon, max_lat).
SWEDEN_BOUNDS_LON_LAT: tuple[float, float, float, float] = (10.0, 55.0, 24.5, 69.3)

_URN_RE = re.compile(
    r"^(?:urn:ogc:def:crs:|https?://www\.opengis\.net/def/crs/)"
    r"(?P<auth>[A-Za-z]+)[:/](?P<version>[^:/]*)[:/](?P<code>[A-Za-z0-9.]+)$"
)


class CRSError(ValueError):
    """A coordinate reference system could not be understood."""


def parse_crs_name(name: str) -> str:
    """Return a canonical ``AUTHORITY:CODE`` string for a CRS name found in a file.

    Accepts ``EPSG:3006``, ``urn:ogc:def:crs:EPSG::3006``,
    ``urn:ogc:def:crs:OGC:1.3:CRS84`` (GeoJSON's lon/lat WGS 84, returned as
    ``EPSG:4326``) and ``http://www.opengis.net/def/crs/EPSG/0/3006``.
    Raises :class:`CRSError` with a plain-language message otherwise.
    """
    text = name.strip()
    match = _URN_RE.match(text)
    if match:
        auth, code = match.group("auth").upper(), match.group("code").upper()
        text = f"{auth}:{code}"
    if text.upper() in {"OGC:CRS84", "CRS84", "OGC:CRS:84"}:
        return WGS84
    try:
        crs = CRS.from_user_input(text)
    except PyprojCRSError as exc:
        raise CRSError(f"unknown coordinate system {name!r}") from exc
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def crs_from_geojson(obj: dict[str, Any]) -> str:
    """Return the CRS a GeoJSON object declares, or WGS 84 when it declares none.

    Reads the 2008 GeoJSON form ``{"crs": {"type": "name", "properties":
    {"name": "urn:ogc:def:crs:EPSG::3006"}}}``. RFC 7946 dropped ``crs`` and
    fixed WGS 84 lon/lat, which is what an absent member means here.
    """
    crs_member = obj.get("crs")
    if crs_member is None:
        return WGS84
    if not isinstance(crs_member, dict):
        raise CRSError("the 'crs' member must be an object with properties.name")
    properties = crs_member.get("properties") or {}
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise CRSError(
            "the 'crs' member has no properties.name (expected e.g. 'urn:ogc:def:crs:EPSG::3006')"
        )
    return parse_crs_name(name)


def crs_from_wkt(wkt: str) -> str:
    """Return a canonical CRS string for the WKT of a Shapefile's ``.prj`` file.

    Esri WKT usually carries no authority code; pyproj is asked to identify it
    (SWEREF 99 TM and WGS 84 are recognised). When it cannot, the WKT itself
    is returned, which :func:`get_crs` accepts as well.
    """
    try:
        crs = CRS.from_wkt(wkt.strip())
    except PyprojCRSError as exc:
        raise CRSError(
            "the .prj file does not hold a coordinate system pyproj understands"
        ) from exc
    authority = crs.to_authority(min_confidence=70)
    if authority:
        return f"{authority[0]}:{authority[1]}"
    logger.info("CRS from .prj has no EPSG code; using its WKT: %s", crs.name)
    return crs.to_wkt()


@lru_cache(maxsize=64)
def get_crs(crs: str) -> CRS:
    """Return a (cached) :class:`pyproj.CRS` for a canonical CRS string."""
    try:
        return CRS.from_user_input(crs)
    except PyprojCRSError as exc:
        raise CRSError(f"unknown coordinate system {crs!r}") from exc


@lru_cache(maxsize=64)
def get_transformer(source_crs: str, target_crs: str) -> Transformer:
    """Return a cached transformer between two CRS strings, always x/y (lon/lat) order."""
    return Transformer.from_crs(get_crs(source_crs), get_crs(target_crs), always_xy=True)


def is_geographic(crs: str) -> bool:
    """Tell whether a CRS has degrees (longitude/latitude) as its coordinates."""
    return bool(get_crs(crs).is_geographic)


def display_name(crs: str) -> str:
    """A short human-readable name for a CRS, e.g. ``EPSG:3006 (SWEREF99 TM)``."""
    parsed = get_crs(crs)
    authority = parsed.to_authority()
    code = f"{authority[0]}:{authority[1]}" if authority else "custom CRS"
    return f"{code} ({parsed.name})"


def area_of_use_lon_lat(crs: str) -> tuple[float, float, float, float] | None:
    """The CRS's area of use as ``(west_lon, south_lat, east_lon, north_lat)``, if known."""
    area = get_crs(crs).area_of_use
    if area is None:
        return None
    return (area.west, area.south, area.east, area.north)


def transform_xy(
    x: np.ndarray, y: np.ndarray, source_crs: str, target_crs: str
) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = lon/easting, y = lat/northing)."""
    if source_crs == target_crs:
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out_x, out_y = get_transformer(source_crs, target_crs).transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    )
    return np.asarray(out_x, dtype=float), np.asarray(out_y, dtype=float)


def transform_geometry(geometry: BaseGeometry, source_crs: str, target_crs: str) -> BaseGeometry:
    """Return the geometry transformed between two CRS (x/y order on both sides)."""
    if source_crs == target_crs:
        return geometry
    transformer = get_transformer(source_crs, target_crs)
    return shapely.transform(
        geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def lon_lat_to_metric(geometry_lon_lat: BaseGeometry) -> BaseGeometry:
    """Project a lon/lat geometry into the metric CRS (:data:`METRIC_CRS`)."""
    return transform_geometry(geometry_lon_lat, WGS84, METRIC_CRS)


def metric_to_lon_lat(geometry_metric: BaseGeometry) -> BaseGeometry:
    """Project a geometry in the metric CRS (:data:`METRIC_CRS`) back to lon/lat."""
    return transform_geometry(geometry_metric, METRIC_CRS, WGS84)


def local_metric_crs(lon: float, lat: float) -> str:
    """An azimuthal equidistant projection centred on a point: distances from it are exact.

    Used to draw circles whose radius in metres is true on the ground.
    """
    return f"+proj=aeqd +lat_0={lat:.7f} +lon_0={lon:.7f} +x_0=0 +y_0=0 +ellps=GRS80 +units=m"


def within_bounds(
    x: np.ndarray, y: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Boolean mask of the points inside ``(min_x, min_y, max_x, max_y)`` (edges included)."""
    min_x, min_y, max_x, max_y = bounds
    return (x >= min_x) & (x <= max_x) & (y >= min_y) & (y <= max_y)


def check_lon_lat_plausible(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    region_bounds_lon_lat: tuple[float, float, float, float] | None = SWEDEN_BOUNDS_LON_LAT,
    region_name: str = "Sweden",
) -> str | None:
    """Return a plain-language problem with lon/lat coordinates, or ``None`` when they look right.

    Checks, in order: finite numbers, longitude in [-180, 180] and latitude in
    [-90, 90], and (when ``region_bounds_lon_lat`` is given) that the points lie
    in the region. When they do not, but would with the two numbers swapped,
    the message says so: "coordinates look like lat/lon swapped".
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.size == 0:
        return None
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return "some coordinates are not finite numbers"
    in_range = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    swapped_in_region = (
        region_bounds_lon_lat is not None and within_bounds(lat, lon, region_bounds_lon_lat).all()
    )
    if not in_range.all():
        if swapped_in_region:
            return _swapped_message(lon, lat)
        bad = int(np.argmin(in_range))
        return (
            f"coordinates ({lon[bad]:g}, {lat[bad]:g}) are out of range: longitude must be "
            "between -180 and 180 and latitude between -90 and 90"
        )
    if region_bounds_lon_lat is None:
        return None
    inside = within_bounds(lon, lat, region_bounds_lon_lat)
    if inside.all():
        return None
    if swapped_in_region:
        return _swapped_message(lon, lat)
    bad = int(np.argmin(inside))
    return f"coordinates ({lon[bad]:.5f}, {lat[bad]:.5f}) (lon, lat) lie outside {region_name}"


def _swapped_message(lon: np.ndarray, lat: np.ndarray) -> str:
    """Explain that longitude and latitude appear to be in each other's place."""
    return (
        "coordinates look like lat/lon swapped: positions must be [longitude, latitude], "
        f"e.g. [{float(lat[0]):.4f}, {float(lon[0]):.4f}] rather than "
        f"[{float(lon[0]):.4f}, {float(lat[0]):.4f}]"
    )


def check_source_coordinates(
    x: np.ndarray,
    y: np.ndarray,
    source_crs: str,
    *,
    region_bounds_lon_lat: tuple[float, float, float, float] | None = SWEDEN_BOUNDS_LON_LAT,
    region_name: str = "Sweden",
) -> str | None:
    """Check raw coordinates in their declared CRS; return a problem or ``None``.

    For geographic CRS this is :func:`check_lon_lat_plausible`. For projected
    CRS the points are transformed to lon/lat and checked against the CRS's
    area of use and the region; if they only fit with x and y exchanged, the
    message says "coordinates look like easting/northing swapped".
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.size == 0:
        return None
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return "some coordinates are not finite numbers"
    if is_geographic(source_crs):
        lon, lat = transform_xy(x, y, source_crs, WGS84)
        return check_lon_lat_plausible(
            lon, lat, region_bounds_lon_lat=region_bounds_lon_lat, region_name=region_name
        )
    bounds = area_of_use_lon_lat(source_crs)
    if bounds is not None:
        # Areas of use are drawn tightly (EPSG:3006 stops at 24.17 E, Haparanda
        # reaches 24.18 E): allow half a degree.
        bounds = (bounds[0] - 0.5, bounds[1] - 0.5, bounds[2] + 0.5, bounds[3] + 0.5)
    if region_bounds_lon_lat is not None and bounds is not None:
        bounds = _intersect_bounds(bounds, region_bounds_lon_lat) or region_bounds_lon_lat
    else:
        bounds = bounds or region_bounds_lon_lat
    if bounds is None:
        return None
    if _fits(x, y, source_crs, bounds):
        return None
    if _fits(y, x, source_crs, bounds):
        return (
            "coordinates look like easting/northing swapped: in "
            f"{display_name(source_crs)} x must be the easting and y the northing"
        )
    where = region_name if region_bounds_lon_lat is not None else "the area of use"
    return (
        f"coordinates such as ({x[0]:.1f}, {y[0]:.1f}) lie outside {where} of "
        f"{display_name(source_crs)}; is the declared coordinate system right?"
    )


def _fits(
    x: np.ndarray, y: np.ndarray, source_crs: str, bounds: tuple[float, float, float, float]
) -> bool:
    """Whether the points, transformed to lon/lat, all lie inside the bounds."""
    with np.errstate(all="ignore"):
        lon, lat = transform_xy(x, y, source_crs, WGS84)
    finite = np.isfinite(lon) & np.isfinite(lat)
    return bool(finite.all() and within_bounds(lon, lat, bounds).all())


def _intersect_bounds(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float, float, float] | None:
    """The intersection of two bounding boxes, or ``None`` when they do not overlap."""
    out = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return out if out[0] <= out[2] and out[1] <= out[3] else None
