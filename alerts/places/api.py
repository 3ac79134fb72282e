"""Public place lookups of the JSON API: zones, address autocomplete and the zones at a point.

No authentication: residents use both while subscribing, and the banner asks
which zones a visitor's position lies in.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy import select

from alerts.errors import FieldError, NotFound, ValidationFailed
from alerts.extensions import db
from alerts.places.models import Zone
from alerts.places.register import autocomplete
from alerts.places.responses import (
    AddressSuggestion,
    AddressSuggestions,
    ZonePage,
    ZoneWithGeometry,
)
from alerts.places.responses import Zone as ZoneOut
from alerts.places.zones import zones_at, zones_at_points
from alerts.web.openapi import Operation, add_to_document
from alerts.web.pagination import PAGING_PARAMETERS, page

logger = logging.getLogger(__name__)

bp = Blueprint("api_places", __name__, url_prefix="/api/v1")

MAX_QUERY_LENGTH = 200
DEFAULT_SUGGESTIONS = 10
MAX_SUGGESTIONS = 50


@bp.get("/addresses")
def addresses():
    """Autocomplete: register addresses matching ``q``, best first, with the zones they lie in."""
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        raise ValidationFailed.on("q", f"is longer than {MAX_QUERY_LENGTH} characters")
    limit = _int_arg("limit", DEFAULT_SUGGESTIONS, 1, MAX_SUGGESTIONS)
    suggestions = autocomplete(db.session, q, limit=limit)
    zones = zones_at_points(db.session, [s.lon for s in suggestions], [s.lat for s in suggestions])
    items = [
        AddressSuggestion.model_validate(
            {
                "id": s.id,
                "label": s.label,
                "street": s.street,
                "number": s.number,
                "letter": s.letter,
                "postcode": s.postcode,
                "city": s.city,
                "lon": s.lon,
                "lat": s.lat,
                "match": s.match,
                "zones": [z.slug for z in found],
            }
        )
        for s, found in zip(suggestions, zones, strict=True)
    ]
    return jsonify(AddressSuggestions(items=items, next=None).to_json())


@bp.get("/zones/at")
def zones_at_point():
    """The zones containing the point ``lat``, ``lon`` (WGS 84; boundary inclusive)."""
    errors: list[FieldError] = []
    lat = _coordinate("lat", 90.0, errors)
    lon = _coordinate("lon", 180.0, errors)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    assert lat is not None and lon is not None
    found = zones_at(db.session, lon, lat)
    return jsonify(ZonePage(items=[zone_out(z) for z in found], next=None).to_json())


def _coordinate(name: str, limit: float, errors: list[FieldError]) -> float | None:
    """A decimal-degree query parameter, or None with the problem added to ``errors``."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        errors.append(FieldError(name, "is required (decimal degrees, WGS 84)"))
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(FieldError(name, f"{raw!r} is not a number"))
        return None
    if not math.isfinite(value) or abs(value) > limit:
        errors.append(FieldError(name, f"must lie between -{limit:g} and {limit:g}"))
        return None
    return value


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.on(name, f"{raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ValidationFailed.on(name, f"must lie between {low} and {high}")
    return value


def zone_out(zone: Zone) -> ZoneOut:
    return ZoneOut(
        slug=zone.slug,
        name=zone.name,
        kind=zone.kind,
        bbox=[zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat],
    )


@bp.get("/zones")
def list_zones():
    """Zones a notice can target (public: residents see them on the map)."""
    query = select(Zone).order_by(Zone.name, Zone.id)
    if kind := request.args.get("kind"):
        query = query.where(Zone.kind == kind)
    return jsonify(page(db.session, query, zone_out, ZonePage).to_json())


@bp.get("/zones/<slug>")
def get_zone(slug: str):
    zone = db.session.scalar(select(Zone).where(Zone.slug == slug))
    if zone is None:
        raise NotFound("No such zone")
    body = ZoneWithGeometry(**zone_out(zone).model_dump(), geometry=zone.geometry)
    return jsonify(body.to_json())


def document(app: Flask) -> None:
    """Add the place lookups to the app's OpenAPI document."""
    point = [
        {
            "name": name,
            "in": "query",
            "required": True,
            "description": "Decimal degrees, WGS 84",
            "schema": {"type": "number", "minimum": -limit, "maximum": limit},
        }
        for name, limit in (("lat", 90), ("lon", 180))
    ]
    add_to_document(
        app,
        paths={
            "/zones": {
                "get": Operation(
                    "Zones",
                    answer=ZonePage,
                    auth=False,
                    parameters=[
                        *PAGING_PARAMETERS,
                        {
                            "name": "kind",
                            "in": "query",
                            "description": "Only zones of this kind",
                            "schema": {"type": "string"},
                        },
                    ],
                    errors={422: "A bad cursor or limit"},
                )
            },
            "/zones/{slug}": {
                "get": Operation(
                    "A zone with its geometry",
                    answer=ZoneWithGeometry,
                    auth=False,
                    parameters=[
                        {
                            "name": "slug",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    errors={404: "No such zone"},
                )
            },
            "/zones/at": {
                "get": Operation(
                    "Zones containing a point (boundary inclusive), smallest first",
                    answer=ZonePage,
                    answer_description="The zones, all on one page",
                    auth=False,
                    parameters=point,
                    errors={422: "lat or lon missing, not a number or out of range (each named)"},
                )
            },
            "/addresses": {
                "get": Operation(
                    "Address autocomplete over the register, best match first",
                    description="Understands Swedish spelling variants (Storg. 12 B, storgatan "
                    "12b), postcodes (591 30) and misspelled streets.",
                    answer=AddressSuggestions,
                    auth=False,
                    parameters=[
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": MAX_QUERY_LENGTH},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_SUGGESTIONS,
                                "default": DEFAULT_SUGGESTIONS,
                            },
                        },
                    ],
                    errors={422: "q too long, or limit not a whole number in range"},
                )
            },
        },
    )
