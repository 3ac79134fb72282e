"""The address register: records, reading CSV and GeoJSON, and the lookup helpers.

Reading: :func:`read_addresses` takes OpenAddresses-style CSV
(``LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID[,HASH]``, header
names case-insensitive, ``,`` ``;`` or tab separated, leading ``#`` comment
lines skipped) or a GeoJSON FeatureCollection of points (any declared CRS,
e.g. EPSG:3006 as Lantmäteriet delivers). Good rows become
:class:`AddressRecord`; bad rows are listed as :class:`AddressRowError`
(line number or feature index, reason) and do not stop the others. Problems
with the file as a whole raise :class:`AddressImportError`.

Lookup: this module re-exports the pure text and ranking helpers
(:func:`street_key`, :func:`parse_address_query`, :func:`format_address`,
:func:`rank_candidates`, :class:`StreetMatcher`) and the optional online
:class:`NominatimGeocoder`. See :mod:`geodata.address_search` for how the
database side is meant to use them.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from geodata import crs as crs_mod
from geodata.address_search import (
    FUZZY_SCORE_CUTOFF,
    RankedCandidate,
    StreetMatcher,
    rank_candidates,
)
from geodata.address_text import (
    AddressQuery,
    city_key,
    format_address,
    format_postcode,
    normalise_postcode,
    parse_address_query,
    parse_house_number,
    street_key,
)
from geodata.nominatim import GeocoderError, GeocodeResult, NominatimGeocoder
from geodata.textfiles import FileProblem, csv_rows, decode_text, load_json, shown

logger = logging.getLogger(__name__)

__all__ = [
    "FUZZY_SCORE_CUTOFF",
    "OPENADDRESSES_COLUMNS",
    "AddressImport",
    "AddressImportError",
    "AddressQuery",
    "AddressRecord",
    "AddressRowError",
    "GeocodeResult",
    "GeocoderError",
    "NominatimGeocoder",
    "RankedCandidate",
    "StreetMatcher",
    "city_key",
    "format_address",
    "format_postcode",
    "normalise_postcode",
    "parse_address_query",
    "parse_house_number",
    "rank_candidates",
    "read_addresses",
    "street_key",
    "write_openaddresses_csv",
]

OPENADDRESSES_COLUMNS: tuple[str, ...] = (
    *("LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY"),
    *("DISTRICT", "REGION", "POSTCODE", "ID", "HASH"),
)
_REQUIRED_COLUMNS = ("LON", "LAT", "NUMBER", "STREET")

# GeoJSON property names accepted for each field (lowercase), OpenAddresses first.
_PROPERTY_ALIASES: dict[str, tuple[str, ...]] = {
    "street": ("street", "gatunamn", "adressomrade", "gata"),
    "number": ("number", "adressplatsnummer", "nummer", "husnummer"),
    "letter": ("bokstavstillagg", "letter"),
    "unit": ("unit", "entrance", "uppgang"),
    "city": ("city", "postort"),
    "district": ("district", "kommun", "kommunnamn"),
    "region": ("region", "lan", "lansnamn"),
    "postcode": ("postcode", "postnummer"),
    "id": ("id", "objektidentitet", "source_id"),
}


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """One address of the register, with its position in WGS 84 lon/lat."""

    street: str
    number: int | None
    letter: str
    postcode: str
    city: str
    lon: float
    lat: float
    source_id: str = ""
    entrance: str = ""
    district: str = ""
    region: str = ""

    @property
    def street_key(self) -> str:
        """The normalised street key stored for lookup (see :func:`street_key`)."""
        return street_key(self.street)

    @property
    def display(self) -> str:
        """The address as people write it: ``Storgatan 12 B, 591 30 Motala``."""
        return format_address(self.street, self.number, self.letter, self.postcode, self.city)

    @property
    def house_number(self) -> str:
        """Number and letter as in OpenAddresses' NUMBER column: ``12B``."""
        return f"{self.number}{self.letter}" if self.number is not None else ""


@dataclass(frozen=True)
class AddressRowError:
    """A row that could not be read: where (CSV line number or GeoJSON feature index) and why."""

    location: int
    reason: str
    kind: Literal["line", "feature"] = "line"

    def __str__(self) -> str:
        return f"{self.kind} {self.location}: {self.reason}"


@dataclass(frozen=True)
class AddressImport:
    """What :func:`read_addresses` found: the good records and the bad rows."""

    records: list[AddressRecord]
    errors: list[AddressRowError]
    source_crs: str
    source_format: str
    record_locations: list[int] = field(default_factory=list)
    """The CSV line number or GeoJSON feature index of each record, in the same order."""


class AddressImportError(ValueError):
    """The file as a whole cannot be read as an address register."""


def read_addresses(
    source: str | os.PathLike[str] | bytes,
    *,
    source_crs: str | None = None,
    region_bounds_lon_lat: tuple[float, float, float, float] | None = (
        crs_mod.SWEDEN_BOUNDS_LON_LAT
    ),
) -> AddressImport:
    """Read an address register from a CSV or GeoJSON file (path or bytes).

    ``source_crs`` overrides the CRS (CSV default WGS 84; GeoJSON default: what
    it declares). Positions outside ``region_bounds_lon_lat`` (Sweden by
    default) are row errors; positions that fit only with lon and lat
    exchanged are reported as "coordinates look like lat/lon swapped".
    """
    data = _read_bytes(source)
    text = _decode(data)
    if text.lstrip().startswith("{"):
        return _read_geojson(text, source_crs, region_bounds_lon_lat)
    return _read_csv(text, source_crs or crs_mod.WGS84, region_bounds_lon_lat)


def _read_bytes(source: str | os.PathLike[str] | bytes) -> bytes:
    """The bytes of a path or of bytes already read."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise AddressImportError(f"cannot read {os.fspath(source)!r}: {exc.strerror}") from exc


def _decode(data: bytes) -> str:
    """The file's text (see :func:`geodata.textfiles.decode_text`)."""
    try:
        return decode_text(data)
    except FileProblem as exc:
        raise AddressImportError(str(exc)) from None


@dataclass
class _Row:
    """A row read but not yet checked for position."""

    location: int
    x: float
    y: float
    fields: dict[str, Any]


def csv_table(lines: list[str]) -> tuple[Any, list[str]]:
    """A CSV reader over ``lines`` (header first) and the stripped header.

    Registers come from spreadsheets as often as from GIS tools, so the
    delimiter is whichever of comma, semicolon or tab the header uses most.
    """
    delimiter = max((",", ";", "\t"), key=lines[0].count)
    reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise FileProblem(f"the header cannot be read: {exc}") from None
    return reader, [h.strip() for h in header]


def _read_csv(
    text: str, source_crs: str, region: tuple[float, float, float, float] | None
) -> AddressImport:
    """Read OpenAddresses-style CSV."""
    lines = text.splitlines(keepends=True)
    skipped = 0
    while skipped < len(lines) and (
        lines[skipped].lstrip().startswith("#") or not lines[skipped].strip()
    ):
        skipped += 1
    if skipped == len(lines):
        raise AddressImportError("the file is empty")
    try:
        reader, header = csv_table(lines[skipped:])
    except FileProblem as exc:
        raise AddressImportError(str(exc)) from None
    header = [h.upper() for h in header]
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        found = shown(",".join(header)) or "nothing"
        raise AddressImportError(
            f"the header lacks the column(s) {', '.join(missing)}; expected OpenAddresses "
            f"columns {','.join(OPENADDRESSES_COLUMNS)} (found {found})"
        )
    index = {name: header.index(name) for name in header}
    rows: list[_Row] = []
    errors: list[AddressRowError] = []
    for line, values, unreadable in csv_rows(reader, first_line=skipped):
        if values is None:
            errors.append(AddressRowError(line, unreadable))
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            errors.append(
                AddressRowError(line, f"has {len(values)} fields but the header has {len(header)}")
            )
            continue
        row = {name: values[i].strip() for name, i in index.items()}
        x, y, problem = _numbers(row["LON"], row["LAT"], "LON", "LAT")
        if problem:
            errors.append(AddressRowError(line, problem))
            continue
        rows.append(
            _Row(
                line,
                x,
                y,
                {
                    "street": row["STREET"],
                    "number": row["NUMBER"],
                    "letter": "",
                    "unit": row.get("UNIT", ""),
                    "city": row.get("CITY", ""),
                    "district": row.get("DISTRICT", ""),
                    "region": row.get("REGION", ""),
                    "postcode": row.get("POSTCODE", ""),
                    "id": row.get("ID", ""),
                },
            )
        )
    records, row_errors, locations = _finish(rows, source_crs, region, "line")
    return AddressImport(
        records,
        sorted([*errors, *row_errors], key=lambda e: e.location),
        source_crs,
        "csv",
        locations,
    )


def _numbers(x_text: Any, y_text: Any, x_name: str, y_name: str) -> tuple[float, float, str | None]:
    """Parse two coordinate values (a decimal comma is accepted)."""
    try:
        x = float(str(x_text).replace(",", "."))
    except ValueError:
        return 0.0, 0.0, f"{x_name} {shown(repr(x_text))} is not a number"
    try:
        y = float(str(y_text).replace(",", "."))
    except ValueError:
        return 0.0, 0.0, f"{y_name} {shown(repr(y_text))} is not a number"
    if not (np.isfinite(x) and np.isfinite(y)):
        return 0.0, 0.0, f"{x_name}/{y_name} are not finite numbers"
    return x, y, None


def _read_geojson(
    text: str, source_crs: str | None, region: tuple[float, float, float, float] | None
) -> AddressImport:
    """Read a GeoJSON FeatureCollection of points."""
    try:
        obj = load_json(text)
    except FileProblem as exc:
        raise AddressImportError(str(exc)) from None
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        raise AddressImportError("the file is not a GeoJSON FeatureCollection")
    features = obj.get("features")
    if not isinstance(features, list):
        raise AddressImportError("the FeatureCollection has no 'features' list")
    try:
        crs = source_crs or crs_mod.crs_from_geojson(obj)
    except crs_mod.CRSError as exc:
        raise AddressImportError(str(exc)) from exc
    rows: list[_Row] = []
    errors: list[AddressRowError] = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
            found = geometry.get("type") if isinstance(geometry, Mapping) else "nothing"
            errors.append(AddressRowError(i, f"geometry is {found}, not a Point", "feature"))
            continue
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            errors.append(AddressRowError(i, "the point has no [x, y] coordinates", "feature"))
            continue
        x, y, problem = _numbers(coordinates[0], coordinates[1], "x", "y")
        if problem:
            errors.append(AddressRowError(i, problem, "feature"))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, Mapping):
            errors.append(AddressRowError(i, "its properties are not an object", "feature"))
            continue
        lowered = {str(k).lower(): v for k, v in properties.items()}
        fields = {
            name: next((str(lowered[a]) for a in aliases if lowered.get(a) is not None), "").strip()
            for name, aliases in _PROPERTY_ALIASES.items()
        }
        rows.append(_Row(i, x, y, fields))
    records, row_errors, locations = _finish(rows, crs, region, "feature")
    return AddressImport(
        records,
        sorted([*errors, *row_errors], key=lambda e: e.location),
        crs,
        "geojson",
        locations,
    )


def _finish(
    rows: list[_Row],
    source_crs: str,
    region: tuple[float, float, float, float] | None,
    kind: Literal["line", "feature"],
) -> tuple[list[AddressRecord], list[AddressRowError], list[int]]:
    """Reproject, check positions (vectorised) and build the records (with their locations)."""
    if not rows:
        return [], [], []
    x = np.fromiter((r.x for r in rows), float, len(rows))
    y = np.fromiter((r.y for r in rows), float, len(rows))
    with np.errstate(all="ignore"):
        lon, lat = crs_mod.transform_xy(x, y, source_crs, crs_mod.WGS84)
    position_problems = _position_problems(x, y, lon, lat, source_crs, region)
    records: list[AddressRecord] = []
    errors: list[AddressRowError] = []
    locations: list[int] = []
    for i, row in enumerate(rows):
        problem = position_problems.get(i) or _field_problem(row.fields)
        if problem:
            errors.append(AddressRowError(row.location, problem, kind))
            continue
        fields = row.fields
        number, letter = parse_house_number(fields["number"])
        letter = letter or fields.get("letter", "").upper()
        postcode = normalise_postcode(fields["postcode"]) if fields["postcode"] else ""
        records.append(
            AddressRecord(
                street=" ".join(fields["street"].split()),
                number=number,
                letter=letter,
                postcode=postcode,
                city=fields["city"],
                lon=float(lon[i]),
                lat=float(lat[i]),
                source_id=fields["id"],
                entrance=fields["unit"],
                district=fields["district"],
                region=fields["region"],
            )
        )
        locations.append(row.location)
    return records, errors, locations


def _position_problems(
    x: np.ndarray,
    y: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    source_crs: str,
    region: tuple[float, float, float, float] | None,
) -> dict[int, str]:
    """Row index → plain-language position problem, for the rows that have one."""
    geographic = crs_mod.is_geographic(source_crs)
    finite = np.isfinite(lon) & np.isfinite(lat)
    in_range = finite & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    ok = in_range.copy()
    if region is not None:
        ok &= crs_mod.within_bounds(lon, lat, region)
        if geographic:
            swapped = crs_mod.within_bounds(y, x, region)
        else:
            with np.errstate(all="ignore"):
                lon_s, lat_s = crs_mod.transform_xy(y, x, source_crs, crs_mod.WGS84)
            swapped = crs_mod.within_bounds(lon_s, lat_s, region)
    else:
        swapped = np.zeros_like(ok)
    problems: dict[int, str] = {}
    for i in np.flatnonzero(~ok):
        if swapped[i]:
            problems[int(i)] = (
                "coordinates look like lat/lon swapped"
                if geographic
                else "coordinates look like easting/northing swapped"
            )
        elif not in_range[i] and geographic and _looks_like_sweref(x[i], y[i]):
            problems[int(i)] = (
                f"position ({x[i]:.0f}, {y[i]:.0f}) looks like SWEREF 99 TM (EPSG:3006) "
                "easting/northing, not lon/lat: declare that coordinate system"
            )
        elif not in_range[i]:
            problems[int(i)] = f"position ({x[i]:g}, {y[i]:g}) is out of range"
        else:
            problems[int(i)] = (
                f"position ({lon[i]:.5f}, {lat[i]:.5f}) (lon, lat) lies outside Sweden"
            )
    return problems


def _looks_like_sweref(x: float, y: float) -> bool:
    """True when (x, y) read as SWEREF 99 TM easting/northing lies in Sweden."""
    if not (np.isfinite(x) and np.isfinite(y)):
        return False
    lon, lat = crs_mod.transform_xy(
        np.array([x]), np.array([y]), crs_mod.SWEREF99_TM, crs_mod.WGS84
    )
    return bool(crs_mod.within_bounds(lon, lat, crs_mod.SWEDEN_BOUNDS_LON_LAT)[0])


def _field_problem(fields: dict[str, str]) -> str | None:
    """The first problem with a row's text fields, or ``None``."""
    if not fields["street"]:
        return "STREET is empty"
    if not street_key(fields["street"]):
        return f"STREET {shown(repr(fields['street']))} has no letters or digits"
    try:
        parse_house_number(fields["number"])
    except ValueError as exc:
        return str(exc)
    if fields["postcode"]:
        try:
            normalise_postcode(fields["postcode"])
        except ValueError as exc:
            return str(exc)
    return None


def write_openaddresses_csv(
    records: list[AddressRecord], stream: io.TextIOBase, *, comment: str | None = None
) -> None:
    """Write records as OpenAddresses CSV (lon/lat to 6 decimals), after optional ``#`` lines."""
    if comment:
        for line in comment.splitlines():
            stream.write(f"# {line}\n")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(OPENADDRESSES_COLUMNS[:-1])
    for r in records:
        writer.writerow(
            [
                f"{r.lon:.6f}",
                f"{r.lat:.6f}",
                r.house_number,
                r.street,
                r.entrance,
                r.city,
                r.district,
                r.region,
                r.postcode,
                r.source_id,
            ]
        )
