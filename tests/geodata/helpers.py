"""Shared test data for the geodata tests: plain functions, no fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"
MUNICIPALITIES_PATH = DATA / "swedish_municipalities.geojson"

MOTALA_CENTRE_LON_LAT = (15.037, 58.537)
MORA_CENTRE_LON_LAT = (14.537, 61.004)
STOCKHOLM_CENTRE_LON_LAT = (18.0686, 59.3293)


def municipalities() -> dict[str, Any]:
    """The 290 municipalities as a GeoJSON dict."""
    return json.loads(MUNICIPALITIES_PATH.read_text(encoding="utf-8"))


def collection(*features: dict[str, Any], crs: str | None = None) -> bytes:
    """A FeatureCollection as bytes, optionally declaring a CRS."""
    obj: dict[str, Any] = {"type": "FeatureCollection", "features": list(features)}
    if crs:
        obj["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(obj).encode()


def feature(name: str, geometry: Any, **properties: Any) -> dict[str, Any]:
    """A Feature with a name property."""
    return {"type": "Feature", "properties": {"name": name, **properties}, "geometry": geometry}


def square(lon: float = 15.0, lat: float = 58.5, size_deg: float = 0.01) -> dict[str, Any]:
    """A closed square Polygon in lon/lat, counter-clockwise."""
    ring = [
        [lon, lat],
        [lon + size_deg, lat],
        [lon + size_deg, lat + size_deg],
        [lon, lat + size_deg],
        [lon, lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}
