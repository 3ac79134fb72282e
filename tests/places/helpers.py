"""Shared test data for the places tests: plain functions, no fixtures."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import shapefile
from pyproj import CRS, Transformer
from shapely.geometry import shape
from shapely.geometry.polygon import orient
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


def shapefile_zip(data: dict[str, Any], crs_code: str = "EPSG:3006", *, prj: bool = True) -> bytes:
    """A zipped Shapefile (.shp .shx .dbf .prj .cpg) of the collection's features in a CRS."""
    to_crs = Transformer.from_crs("EPSG:4326", crs_code, always_xy=True)
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON)
    writer.field("KOM_NAMN", "C", size=60)
    writer.field("KOMMUNKOD", "C", size=4)
    for f in data["features"]:
        geometry = shape(f["geometry"])
        rings = []
        for polygon in getattr(geometry, "geoms", [geometry]):
            polygon = orient(polygon, sign=-1.0)  # Shapefile outer rings run clockwise
            for ring in [polygon.exterior, *polygon.interiors]:
                xs, ys = to_crs.transform(*np.asarray(ring.coords).T)
                rings.append(list(zip(xs.tolist(), ys.tolist(), strict=True)))
        writer.poly(rings)
        writer.record(f["properties"]["kom_namn"], f["properties"]["id"])
    writer.close()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("kommuner/kommuner.shp", shp.getvalue())
        z.writestr("kommuner/kommuner.shx", shx.getvalue())
        z.writestr("kommuner/kommuner.dbf", dbf.getvalue())
        if prj:
            z.writestr("kommuner/kommuner.prj", CRS(crs_code).to_wkt("WKT1_ESRI"))
        z.writestr("kommuner/kommuner.cpg", "UTF-8")
    return archive.getvalue()


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
