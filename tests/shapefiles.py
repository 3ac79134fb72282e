"""Zipped Shapefiles built in tests (pyshp), as a GIS department would export them."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import shapefile
from pyproj import CRS, Transformer
from shapely.geometry import shape
from shapely.geometry.polygon import orient


def shapefile_zip(
    data: dict[str, Any],
    crs_code: str = "EPSG:3006",
    *,
    prj: bool = True,
    name_field: str = "KOM_NAMN",
) -> bytes:
    """A zipped Shapefile (.shp .shx .dbf [.prj] .cpg) of municipalities (lon/lat GeoJSON
    with ``kom_namn`` and ``id``) reprojected to ``crs_code``."""
    to_crs = Transformer.from_crs("EPSG:4326", crs_code, always_xy=True)
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON)
    writer.field(name_field, "C", size=60)
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
