"""Zone import: GeoJSON FeatureCollections and zipped Shapefiles, validated and reprojected.

``read_zones`` is all or nothing: either every feature becomes a
:class:`Zone` (faults that can be repaired without guessing, such as a
self-intersecting boundary, are repaired and listed in ``Zone.repairs``), or
:class:`ZoneImportError` is raised carrying every problem found as
``(feature_index, reason)`` pairs, feature indexes counting from 0 and
``None`` for problems with the file as a whole.

Geometries come out as shapely MultiPolygons in WGS 84 lon/lat, whatever CRS
the file declared (GeoJSON ``crs.properties.name`` or a Shapefile's ``.prj``).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import struct
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapefile
import shapely
from shapely.geometry import MultiPolygon

from geodata import crs as crs_mod
from geodata.geometry_checks import (
    GeometryProblems,
    all_coordinates,
    as_multipolygon,
    build_polygons,
    invalidity_reason,
    polygon_rings,
    polygonal_part,
)
from geodata.textfiles import FileProblem, load_json, shown

logger = logging.getLogger(__name__)

NAME_PROPERTY_CANDIDATES = ("name", "namn", "kom_namn", "zone", "zon", "title", "label")
MAX_SHAPEFILE_BYTES = 256_000_000
"""Most bytes the parts of a zipped Shapefile may unpack to (all of Sweden's municipalities
take about 30 MB); a 1 MB zip of 1 GB of zeros once took 2.2 GB of memory."""
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
MIN_PART_AREA_M2 = 1.0
"""Polygon parts smaller than this (in square metres) count as degenerate."""

_TRANSLITERATION = str.maketrans({"æ": "ae", "ø": "o", "ß": "ss", "đ": "d", "ł": "l"})


def slugify(text: str) -> str:
    """A URL slug: lowercase ASCII, å/ä→a, ö→o, spaces and punctuation → single ``-``.

    >>> slugify("Bergkarlås Östra")
    'bergkarlas-ostra'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_TRANSLITERATION))
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_text = ascii_text.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


@dataclass(frozen=True)
class Zone:
    """One imported zone: a named area in WGS 84 lon/lat."""

    feature_index: int
    name: str
    slug: str
    kind: str
    properties: dict[str, Any]
    geometry_lon_lat: MultiPolygon
    repairs: list[str] = field(default_factory=list)

    @property
    def geometry(self) -> MultiPolygon:
        """The zone's geometry (a MultiPolygon in lon/lat); alias of ``geometry_lon_lat``."""
        return self.geometry_lon_lat


@dataclass(frozen=True)
class ZoneImport:
    """The result of a successful import."""

    zones: list[Zone]
    source_crs: str
    source_format: str

    @property
    def repairs(self) -> list[tuple[int, str]]:
        """Every repair made, as ``(feature_index, what was done)``."""
        return [(z.feature_index, r) for z in self.zones for r in z.repairs]


class ZoneImportError(ValueError):
    """The import was refused; ``problems`` holds ``(feature_index or None, reason)`` pairs."""

    def __init__(self, problems: list[tuple[int | None, str]]) -> None:
        self.problems = problems
        lines = [
            f"feature {index}: {reason}" if index is not None else reason
            for index, reason in problems
        ]
        super().__init__("zone import failed:\n" + "\n".join(lines))


def read_zones(
    source: str | os.PathLike[str] | bytes,
    *,
    name_property: str | None = None,
    slug_property: str | None = None,
    kind: str = "zone",
    kind_property: str | None = "kind",
    region_bounds_lon_lat: tuple[float, float, float, float] | None = (
        crs_mod.SWEDEN_BOUNDS_LON_LAT
    ),
) -> ZoneImport:
    """Read, validate and reproject zones from a GeoJSON file or a zipped Shapefile.

    ``source`` is a path or the file's bytes; a zip archive (starting ``PK``)
    is read as a Shapefile, anything else as GeoJSON. ``name_property`` names
    the property holding the zone's name (default: the first of
    :data:`NAME_PROPERTY_CANDIDATES` present); ``slug_property`` the one holding
    its slug (default: slugified name). A feature's ``kind_property`` value,
    when present, overrides ``kind``. Coordinates must lie within
    ``region_bounds_lon_lat`` (Sweden by default; ``None`` to allow anywhere).

    Raises :class:`ZoneImportError` with every problem found; returns nothing
    partial.
    """
    data = _read_bytes(source)
    if data[:2] == b"PK":
        collection, source_format = _shapefile_collection(data), "shapefile"
    else:
        collection, source_format = _geojson_collection(data), "geojson"
    try:
        source_crs = crs_mod.crs_from_geojson(collection)
    except crs_mod.CRSError as exc:
        raise ZoneImportError([(None, str(exc))]) from exc
    features = collection["features"]
    if not features:
        raise ZoneImportError([(None, "the file has no features")])
    name_property = name_property or _guess_name_property(features)
    problems: list[tuple[int | None, str]] = []
    zones: list[Zone] = []
    for index, feature in enumerate(features):
        try:
            zones.append(
                _read_feature(
                    index,
                    feature,
                    source_crs=source_crs,
                    name_property=name_property,
                    slug_property=slug_property,
                    kind=kind,
                    kind_property=kind_property,
                    region_bounds_lon_lat=region_bounds_lon_lat,
                )
            )
        except GeometryProblems as exc:
            problems.extend((index, p) for p in exc.problems)
    problems.extend(_duplicate_slug_problems(zones))
    if problems:
        logger.info("zone import refused: %d problem(s)", len(problems))
        raise ZoneImportError(sorted(problems, key=lambda p: -1 if p[0] is None else p[0]))
    logger.info(
        "read %d zones from %s in %s (%d repairs)",
        len(zones),
        source_format,
        source_crs if len(source_crs) < 40 else "custom CRS",
        sum(len(z.repairs) for z in zones),
    )
    return ZoneImport(zones=zones, source_crs=source_crs, source_format=source_format)


def _read_bytes(source: str | os.PathLike[str] | bytes) -> bytes:
    """The bytes of a path or of bytes already read."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ZoneImportError(
            [(None, f"cannot read {os.fspath(source)!r}: {exc.strerror}")]
        ) from exc


def _geojson_collection(data: bytes) -> dict[str, Any]:
    """Parse GeoJSON bytes and check that they hold a FeatureCollection."""
    try:
        obj = load_json(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ZoneImportError([(None, "the file is not UTF-8 text (nor a zip archive)")]) from exc
    except FileProblem as exc:
        raise ZoneImportError([(None, str(exc))]) from None
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        found = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise ZoneImportError(
            [
                (
                    None,
                    f"the file is not a GeoJSON FeatureCollection (its type is {shown(repr(found))})",
                )
            ]
        )
    if not isinstance(obj.get("features"), list):
        raise ZoneImportError([(None, "the FeatureCollection has no 'features' list")])
    return obj


def _shapefile_collection(data: bytes) -> dict[str, Any]:
    """Read a zipped Shapefile into a GeoJSON-like FeatureCollection with its CRS declared."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ZoneImportError(
            [(None, "the file looks like a zip archive but cannot be opened")]
        ) from exc
    members = {name.lower(): name for name in archive.namelist() if not name.endswith("/")}
    shp_names = sorted(n for n in members if n.endswith(".shp") and "__macosx" not in n)
    if not shp_names:
        raise ZoneImportError([(None, "the zip archive holds no .shp file")])
    if len(shp_names) > 1:
        raise ZoneImportError(
            [
                (
                    None,
                    f"the zip archive holds {len(shp_names)} shapefiles ({', '.join(shp_names)}); "
                    "upload one at a time",
                )
            ]
        )
    stem = shp_names[0][:-4]
    wanted = [members[stem + ext] for ext in _SHAPEFILE_PARTS if stem + ext in members]
    declared = sum(archive.getinfo(name).file_size for name in wanted)
    if declared > MAX_SHAPEFILE_BYTES:
        # Refused on the sizes the archive declares, before anything is decompressed; what is
        # read below cannot exceed them (zipfile stops at the declared size and checks CRCs).
        raise ZoneImportError(
            [
                (
                    None,
                    f"the shapefile would be {declared / 1e6:,.0f} MB unpacked; at most "
                    f"{MAX_SHAPEFILE_BYTES / 1e6:,.0f} MB are read (split it, or simplify it)",
                )
            ]
        )

    def member(ext: str) -> bytes | None:
        name = members.get(stem + ext)
        if not name:
            return None
        try:
            return archive.read(name)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
            raise ZoneImportError(
                [(None, f"{shown(name)} in the zip archive cannot be unpacked: {shown(exc)}")]
            ) from None

    dbf, prj = member(".dbf"), member(".prj")
    if dbf is None:
        raise ZoneImportError([(None, f"the zip archive has no {stem}.dbf (the attribute table)")])
    if prj is None:
        raise ZoneImportError(
            [(None, f"the zip archive has no {stem}.prj, so the coordinate system is unknown")]
        )
    try:
        source_crs = crs_mod.crs_from_wkt(prj.decode("utf-8", "replace"))
    except crs_mod.CRSError as exc:
        raise ZoneImportError([(None, str(exc))]) from exc
    cpg = member(".cpg")
    encoding = cpg.decode("ascii", "ignore").strip() if cpg else "utf-8"
    shx = member(".shx")
    try:
        features = _shapefile_features(member(".shp") or b"", shx, dbf, encoding)
    except UnicodeDecodeError:
        features = _shapefile_features(member(".shp") or b"", shx, dbf, "latin-1")
    except (shapefile.ShapefileException, ValueError, LookupError, struct.error) as exc:
        raise ZoneImportError([(None, f"the shapefile cannot be read: {shown(exc)}")]) from exc
    except Exception as exc:  # pyshp on a damaged file can fail in many ways; say so, in one line
        logger.debug("shapefile unreadable", exc_info=True)
        raise ZoneImportError(
            [(None, f"the shapefile cannot be read ({type(exc).__name__}): {shown(exc)}")]
        ) from exc
    return {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": source_crs}},
        "features": features,
    }


def _shapefile_features(
    shp: bytes, shx: bytes | None, dbf: bytes, encoding: str
) -> list[dict[str, Any]]:
    """The records of a Shapefile as GeoJSON-like features (geometry via pyshp)."""
    reader = shapefile.Reader(
        shp=io.BytesIO(shp),
        shx=io.BytesIO(shx) if shx else None,
        dbf=io.BytesIO(dbf),
        encoding=encoding,
    )
    features = []
    for shape_record in reader.iterShapeRecords():
        shape = shape_record.shape
        geometry = None if shape.shapeType == shapefile.NULL else shape.__geo_interface__
        properties = {k: _json_value(v) for k, v in shape_record.record.as_dict().items()}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return features


def _json_value(value: Any) -> Any:
    """A dbf field value as something JSON can hold."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _guess_name_property(features: list[Any]) -> str:
    """Pick the name property from the first feature's properties."""
    first = features[0] if isinstance(features[0], Mapping) else {}
    properties = first.get("properties") or {}
    if not isinstance(properties, Mapping):
        properties = {}
    by_lower = {str(k).lower(): k for k in properties}
    for candidate in NAME_PROPERTY_CANDIDATES:
        if candidate in by_lower:
            return str(by_lower[candidate])
    seen = ", ".join(map(str, properties)) or "none"
    raise ZoneImportError(
        [(None, f"no name property found (properties seen: {seen}); choose one with name_property")]
    )


def _read_feature(
    index: int,
    feature: Any,
    *,
    source_crs: str,
    name_property: str,
    slug_property: str | None,
    kind: str,
    kind_property: str | None,
    region_bounds_lon_lat: tuple[float, float, float, float] | None,
) -> Zone:
    """Validate one feature and turn it into a :class:`Zone` (raises GeometryProblems)."""
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise GeometryProblems(["is not a GeoJSON Feature"])
    properties = feature.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise GeometryProblems(["its properties are not an object"])
    properties = dict(properties)
    problems: list[str] = []
    name = properties.get(name_property)
    name = str(name).strip() if name is not None else ""
    if not name:
        problems.append(f"has no name (property {name_property!r} is missing or empty)")
    raw_slug = properties.get(slug_property) if slug_property else name
    slug = slugify(str(raw_slug)) if raw_slug is not None else ""
    if name and not slug:
        source = f"property {slug_property!r}" if slug_property else f"the name {name!r}"
        problems.append(f"has no usable slug: {source} gives none")
    feature_kind = properties.get(kind_property) if kind_property else None
    feature_kind = str(feature_kind).strip() if feature_kind else kind
    try:
        geometry, repairs = _zone_geometry(
            feature.get("geometry"), source_crs, region_bounds_lon_lat
        )
    except GeometryProblems as exc:
        problems.extend(exc.problems)
    if problems:
        raise GeometryProblems(problems)
    return Zone(
        feature_index=index,
        name=name,
        slug=slug,
        kind=feature_kind,
        properties=properties,
        geometry_lon_lat=geometry,
        repairs=repairs,
    )


def _zone_geometry(
    geometry: Any,
    source_crs: str,
    region_bounds_lon_lat: tuple[float, float, float, float] | None,
) -> tuple[MultiPolygon, list[str]]:
    """Check, reproject and repair one feature's geometry."""
    polygons = polygon_rings(geometry)
    coordinates = all_coordinates(polygons)
    problem = crs_mod.check_source_coordinates(
        coordinates[:, 0],
        coordinates[:, 1],
        source_crs,
        region_bounds_lon_lat=region_bounds_lon_lat,
    )
    if problem:
        raise GeometryProblems([problem])
    if source_crs != crs_mod.WGS84:
        polygons = [
            [
                np.column_stack(crs_mod.transform_xy(r[:, 0], r[:, 1], source_crs, crs_mod.WGS84))
                for r in rings
            ]
            for rings in polygons
        ]
    repairs: list[str] = []
    parts = build_polygons(polygons)
    multi = len(parts) > 1
    kept = []
    for part_index, part in enumerate(parts):
        area_m2 = crs_mod.lon_lat_to_metric(shapely.make_valid(part)).area
        if area_m2 < MIN_PART_AREA_M2:
            label = f"part {part_index + 1}" if multi else "the polygon"
            repairs.append(f"{label} has no area (its points lie on a line) and was dropped")
            continue
        kept.append(part)
    if not kept:
        raise GeometryProblems(["the geometry has no area: its points lie on a line or a point"])
    result = MultiPolygon(kept)
    reason = invalidity_reason(result)
    if reason:
        fixed = polygonal_part(shapely.make_valid(result))
        if fixed.is_empty:
            raise GeometryProblems([f"{reason}, and no area is left after repairing it"])
        repairs.append(f"{reason}; repaired by splitting the boundary where it crosses")
        result = fixed
    return as_multipolygon(result), repairs


def _duplicate_slug_problems(zones: list[Zone]) -> list[tuple[int | None, str]]:
    """Report every zone whose slug another zone in the same import already uses."""
    first_by_slug: dict[str, Zone] = {}
    problems: list[tuple[int | None, str]] = []
    for zone in zones:
        earlier = first_by_slug.setdefault(zone.slug, zone)
        if earlier is not zone:
            problems.append(
                (
                    zone.feature_index,
                    f"duplicate slug {zone.slug!r} (name {zone.name!r}); feature "
                    f"{earlier.feature_index} ({earlier.name!r}) already uses it; "
                    "give one of them a slug property",
                )
            )
    return problems
