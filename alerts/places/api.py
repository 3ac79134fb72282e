"""Public place lookups of the JSON API: zones, address autocomplete and the zones at a point.

No authentication: residents use both while subscribing, and the banner asks
which zones a visitor's position lies in.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from alerts.errors import FieldError, NotFound, ValidationFailed
from alerts.extensions import db
from alerts.places.models import Zone
from alerts.places.register import autocomplete
from alerts.places.zones import zones_at, zones_at_points
from alerts.web.pagination import page

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
        for s, found in zip(suggestions, zones, strict=True)
    ]
    return jsonify({"items": items, "next": None})


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
    return jsonify({"items": [zone_json(z) for z in found], "next": None})


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


def zone_json(zone: Zone, *, geometry: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": zone.slug,
        "name": zone.name,
        "kind": zone.kind,
        "bbox": [zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat],
    }
    if geometry:
        body["geometry"] = zone.geometry
    return body


@bp.get("/zones")
def list_zones():
    """Zones a notice can target (public: residents see them on the map)."""
    query = select(Zone).order_by(Zone.name, Zone.id)
    if kind := request.args.get("kind"):
        query = query.where(Zone.kind == kind)
    return jsonify(page(db.session, query, zone_json))


@bp.get("/zones/<slug>")
def get_zone(slug: str):
    zone = db.session.scalar(select(Zone).where(Zone.slug == slug))
    if zone is None:
        raise NotFound("No such zone")
    return jsonify(zone_json(zone, geometry=True))
