"""Regenerate municipalities.geojson and water_zones.geojson (a developer tool, not run by Varsla).

Usage: ``python -m geodata.data.make_demo_zones [tests/data/swedish_municipalities.geojson]``

Municipal boundaries are copied from the okfse/sweden-geojson file (Motala
0583, Mora 2062). The water-supply zones are invented: smooth irregular
shapes a few kilometres across around the real places, clipped to their
municipality. They are plausible, not real supply areas.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import cast

import shapely
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from geodata import crs as crs_mod

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MUNICIPALITIES = {"0583": ("Motala", "motala"), "2062": ("Mora", "mora")}
# name, slug, municipality slug, centre lon, lat, radius_m, stretch, rotation_deg
WATER_ZONES = [
    ("Motala centrum", "motala-centrum", "motala", 15.037, 58.537, 2200.0, 1.4, 20.0),
    ("Borensberg", "borensberg", "motala", 15.284, 58.564, 1400.0, 1.3, 70.0),
    ("Mora centrum", "mora-centrum", "mora", 14.537, 61.004, 1900.0, 1.3, 35.0),
    ("Gesunda", "gesunda", "mora", 14.580, 60.880, 1100.0, 1.5, 110.0),
    ("Bergkarlås", "bergkarlas", "mora", 14.400, 60.930, 1000.0, 1.4, 60.0),
]


def blob(lon: float, lat: float, radius_m: float, stretch: float, rotation_deg: float) -> Polygon:
    """A smooth irregular 32-gon around a point, in lon/lat."""
    rotation = math.radians(rotation_deg)
    points = []
    for k in range(32):
        theta = 2 * math.pi * k / 32
        r = radius_m * (1 + 0.18 * math.sin(2 * theta + 1.0) + 0.1 * math.sin(3 * theta + 2.0))
        x, y = r * math.cos(theta) * stretch, r * math.sin(theta) / stretch
        points.append(
            (
                x * math.cos(rotation) - y * math.sin(rotation),
                x * math.sin(rotation) + y * math.cos(rotation),
            )
        )
    local = crs_mod.local_metric_crs(lon, lat)
    return cast(Polygon, crs_mod.transform_geometry(Polygon(points), local, crs_mod.WGS84))


def rounded(geometry: BaseGeometry) -> dict:
    """GeoJSON of a geometry with coordinates rounded to 6 decimals."""
    return mapping(shapely.set_precision(geometry, 1e-6))


def main(source: Path) -> None:
    """Write the two demo zone files next to this script."""
    collection = json.loads(source.read_text(encoding="utf-8"))
    municipalities = {}
    features = []
    for feature in collection["features"]:
        code = feature["properties"]["id"]
        if code in MUNICIPALITIES:
            name, slug = MUNICIPALITIES[code]
            municipalities[slug] = shape(feature["geometry"])
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "name": name,
                        "slug": slug,
                        "kind": "municipality",
                        "kommunkod": code,
                    },
                    "geometry": feature["geometry"],
                }
            )
    features.sort(key=lambda f: f["properties"]["slug"], reverse=True)
    (HERE / "municipalities.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    zones = []
    for name, slug, municipality, lon, lat, radius_m, stretch, rotation in WATER_ZONES:
        geometry = blob(lon, lat, radius_m, stretch, rotation).intersection(
            municipalities[municipality]
        )
        zones.append(
            {
                "type": "Feature",
                "properties": {
                    "name": name,
                    "slug": slug,
                    "kind": "water_supply",
                    "municipality": municipality,
                },
                "geometry": rounded(geometry),
            }
        )
    (HERE / "water_zones.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": zones}, ensure_ascii=False, indent=1)
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/swedish_municipalities.geojson"))
