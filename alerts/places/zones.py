"""Zones in the database: importing them (all or nothing, upsert by slug) and finding them by point.

The geometry work is :mod:`geodata.zones` (reading, validating, repairing,
reprojecting) and :mod:`geodata.matching`; this module persists the result
and asks SQL for bounding-box candidates first, so that "which zones contain
this point" stays cheap with hundreds of zones, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alerts.places.models import Zone
from alerts.text import clean_text
from geodata.zones import ZoneImportError, read_zones

logger = logging.getLogger(__name__)

#: Slugs a zone may not have because a URL under ``/api/v1/zones/`` already means something else.
RESERVED_SLUGS = frozenset({"at"})

__all__ = [
    "RESERVED_SLUGS",
    "ZoneImportError",
    "ZoneImportReport",
    "import_zones",
    "zones_at",
    "zones_at_points",
]


@dataclass
class ZoneImportReport:
    """What an import did: the slugs created and updated, and the repairs made per feature."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    repairs: list[tuple[int, str, str]] = field(default_factory=list)
    """``(feature index, slug, what was repaired)``."""
    source_crs: str = ""
    source_format: str = ""

    @property
    def count(self) -> int:
        """How many zones the file held."""
        return len(self.created) + len(self.updated)


def import_zones(
    session: Session,
    source: str | os.PathLike[str] | bytes,
    *,
    name_property: str | None = None,
    slug_property: str | None = None,
    kind: str = "zone",
) -> ZoneImportReport:
    """Import zones from GeoJSON (any declared CRS) or a zipped Shapefile, upserting by slug.

    All or nothing: the whole file is read and checked before anything is
    written, and :class:`ZoneImportError` (carrying ``(feature index,
    reason)`` pairs) leaves the database untouched. A zone whose slug exists
    is updated (name, kind, geometry, bounding box, properties); the others
    are created. Flushes, never commits.
    """
    result = read_zones(source, name_property=name_property, slug_property=slug_property, kind=kind)
    problems: list[tuple[int | None, str]] = [
        (z.feature_index, f"the slug {z.slug!r} is reserved; give the zone another slug")
        for z in result.zones
        if z.slug in RESERVED_SLUGS
    ]
    for zone in result.zones:
        # A zone's name is shown in feeds, CAP and pages: it must be text all of them can carry.
        for what, value, longest in (("name", zone.name, 200), ("kind", zone.kind, 50)):
            try:
                clean_text(value, max_length=longest, multiline=False)
            except ValueError as exc:
                problems.append((zone.feature_index, f"its {what} {exc}"))
    if problems:
        raise ZoneImportError(problems)
    slugs = [z.slug for z in result.zones]
    existing = {z.slug: z for z in session.scalars(select(Zone).where(Zone.slug.in_(slugs)))}
    report = ZoneImportReport(source_crs=result.source_crs, source_format=result.source_format)
    for zone in result.zones:
        min_lon, min_lat, max_lon, max_lat = zone.geometry_lon_lat.bounds
        values: dict[str, Any] = {
            "name": clean_text(zone.name),
            "kind": clean_text(zone.kind),
            "geometry": _geojson(zone.geometry_lon_lat),
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
            "properties": _json_safe(zone.properties),
        }
        row = existing.get(zone.slug)
        if row is None:
            session.add(Zone(slug=zone.slug, **values))
            report.created.append(zone.slug)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            report.updated.append(zone.slug)
        report.repairs.extend((zone.feature_index, zone.slug, r) for r in zone.repairs)
    session.flush()
    logger.info(
        "imported %d zones (%d new, %d updated, %d repairs) from %s",
        report.count,
        len(report.created),
        len(report.updated),
        len(report.repairs),
        result.source_format,
    )
    return report


def _geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """A geometry as plain GeoJSON (lists, not tuples), ready for a JSON column."""
    return cast(dict[str, Any], _json_safe(mapping(geometry)))


def _json_safe(value: object) -> object:
    """Tuples become lists and numpy scalars plain numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def zones_at(session: Session, lon: float, lat: float) -> list[Zone]:
    """The zones containing the point (boundary inclusive), smallest first.

    SQL keeps only the zones whose bounding box holds the point (an index on
    the box columns serves it); shapely decides for those few.
    """
    return zones_at_points(session, [lon], [lat])[0]


def zones_at_points(
    session: Session, lons: Sequence[float], lats: Sequence[float]
) -> list[list[Zone]]:
    """For each point, the zones containing it (boundary inclusive), smallest zone first.

    One query fetches the zones whose bounding box holds any of the points.
    """
    if len(lons) != len(lats):
        raise ValueError("lons and lats differ in length")
    if not lons:
        return []
    boxes = [
        and_(Zone.min_lon <= lon, Zone.max_lon >= lon, Zone.min_lat <= lat, Zone.max_lat >= lat)
        for lon, lat in zip(lons, lats, strict=True)
    ]
    candidates = list(session.scalars(select(Zone).where(or_(*boxes))))
    if not candidates:
        return [[] for _ in lons]
    geometries = [shape(z.geometry) for z in candidates]
    areas = [g.area for g in geometries]
    shapely.prepare(geometries)
    found: list[list[Zone]] = []
    for lon, lat in zip(lons, lats, strict=True):
        hits = [
            (areas[i], zone.name, zone)
            for i, zone in enumerate(candidates)
            if zone.min_lon <= lon <= zone.max_lon
            and zone.min_lat <= lat <= zone.max_lat
            and shapely.intersects_xy(geometries[i], lon, lat)
        ]
        found.append([zone for _area, _name, zone in sorted(hits, key=lambda h: h[:2])])
    return found
