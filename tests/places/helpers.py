"""Shared test data for the places tests: plain functions, no fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyproj import Transformer
from sqlalchemy import func, select

DATA = Path(__file__).resolve().parent.parent / "data"
MUNICIPALITIES_PATH = DATA / "swedish_municipalities.geojson"
MOTALA_CENTRE_LON_LAT = (15.037, 58.537)
MORA_CENTRE_LON_LAT = (14.537, 61.004)


def municipalities() -> dict[str, Any]:
    """The 290 municipalities as a GeoJSON dict (WGS 84)."""
    return json.loads(MUNICIPALITIES_PATH.read_text(encoding="utf-8"))


def reprojected(data: dict[str, Any], crs_code: str) -> dict[str, Any]:
    """The collection with every coordinate transformed into ``crs_code``, declaring it."""
    to_crs = Transformer.from_crs("EPSG:4326", crs_code, always_xy=True)

    def convert(coordinates: Any) -> Any:
        if isinstance(coordinates[0], int | float):
            x, y = to_crs.transform(coordinates[0], coordinates[1])
            return [round(x, 3), round(y, 3)]
        return [convert(c) for c in coordinates]

    features = [
        {**f, "geometry": {**f["geometry"], "coordinates": convert(f["geometry"]["coordinates"])}}
        for f in data["features"]
    ]
    return {
        "type": "FeatureCollection",
        "crs": {
            "type": "name",
            "properties": {"name": f"urn:ogc:def:crs:{crs_code.replace(':', '::')}"},
        },
        "features": features,
    }


def count(session, model) -> int:
    """Rows of a model, as the database holds them now."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def write(tmp_path: Path, name: str, content: bytes | str | dict) -> str:
    """Write a file for a CLI command and return its path."""
    path = tmp_path / name
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return str(path)
