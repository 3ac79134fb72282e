"""Notice areas and zones in the database; the geometry itself is done by ``geodata``."""

from __future__ import annotations

import logging
from typing import Any

from shapely.geometry import mapping, shape
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from alerts.errors import FieldError, ValidationFailed
from alerts.places.models import Zone
from geodata.areas import AreaError, build_area, parse_polygon_geojson, swapped_center_message

logger = logging.getLogger(__name__)


def zones_by_slug(session: Session, slugs: list[str]) -> dict[str, Zone]:
    return {z.slug: z for z in session.scalars(select(Zone).where(Zone.slug.in_(slugs)))}


def _in_a_zone_box(lon: float, lat: float) -> Any:
    return exists().where(
        and_(Zone.min_lon <= lon, Zone.max_lon >= lon, Zone.min_lat <= lat, Zone.max_lat >= lat)
    )


def looks_swapped(session: Session, lon: float, lat: float) -> bool:
    """Whether a point given as (lon, lat) was meant as (lat, lon): it lies outside every
    zone's bounding box of this installation while the swapped point lies inside one.
    Without zones nothing can be said here (range checks are the schema's)."""
    if lon == lat:
        return False
    answer = session.execute(select(_in_a_zone_box(lon, lat), _in_a_zone_box(lat, lon))).one()
    return bool(answer[1]) and not bool(answer[0])


def resolve_area(
    session: Session, area_request: dict[str, Any]
) -> tuple[dict[str, Any], list[float]]:
    """The area a request describes, as GeoJSON (lon/lat) and its [min_lon, min_lat, max_lon, max_lat].

    Unknown zones and malformed or self-intersecting polygons raise
    ValidationFailed naming the field, e.g. ``area.zones.1`` or ``area.geometry``.
    """
    slugs = list(area_request.get("zones") or [])
    found = zones_by_slug(session, slugs)
    missing = [
        FieldError(f"area.zones.{i}", f"unknown zone {slug!r}")
        for i, slug in enumerate(slugs)
        if slug not in found
    ]
    if missing:
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in missing), errors=missing
        )
    polygon = None
    if area_request.get("geometry") is not None:
        try:
            polygon = parse_polygon_geojson(area_request["geometry"])
        except AreaError as exc:
            field = "area.geometry" + (f".{exc.field}" if exc.field else "")
            raise ValidationFailed.on(field, exc.message) from None
    circles = []
    if area_request.get("circle"):
        circle = area_request["circle"]
        lon, lat = circle["center"]
        if looks_swapped(session, lon, lat):
            raise ValidationFailed.on("area.circle.center", swapped_center_message(lon, lat))
        circles.append((lon, lat, float(circle["radius_m"])))
    try:
        geometry = build_area([shape(found[s].geometry) for s in slugs], polygon, circles)
    except AreaError as exc:
        # build_area names its circles "circles[0]"; the API has one, "area.circle".
        sub_field = exc.field.removeprefix("circles[0]").lstrip(".")
        field = (
            "area.circle." + (sub_field or "center") if exc.field.startswith("circles") else "area"
        )
        raise ValidationFailed.on(field, exc.message) from None
    if geometry.is_empty:
        raise ValidationFailed.on("area", "the area is empty")
    return mapping(geometry), list(geometry.bounds)
