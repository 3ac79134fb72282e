"""Checks on raw GeoJSON polygon coordinates and on shapely validity, in plain language.

Shapely refuses to build some broken rings (an unclosed ring raises, a ring
with three positions raises), so structure is checked on the raw coordinate
lists first; the resulting messages name the part and ring a person can find
in their drawing tool ("the outer ring of part 2 is not closed").
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

POLYGON_TYPES = ("Polygon", "MultiPolygon")
MAX_PROBLEMS_PER_GEOMETRY = 5

RingArrays = list[list[np.ndarray]]
"""Polygons, each a list of rings (outer ring first), each an (n, 2) float array."""


class GeometryProblems(ValueError):
    """Raw coordinates that cannot become a polygon; ``problems`` says why, in plain words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def ring_name(part_index: int, ring_index: int, *, multi: bool) -> str:
    """Name a ring for a person: "the outer ring", "hole 2 of part 3"."""
    ring = "the outer ring" if ring_index == 0 else f"hole {ring_index}"
    return f"{ring} of part {part_index + 1}" if multi else ring


def polygon_rings(geometry: Any) -> RingArrays:
    """Check a GeoJSON geometry's structure and return its rings as arrays.

    Raises :class:`GeometryProblems` when the geometry is missing, is not a
    Polygon or MultiPolygon, or has positions that are not numbers, rings with
    fewer than four positions or rings that are not closed.
    """
    if geometry is None:
        raise GeometryProblems(["has no geometry"])
    if not isinstance(geometry, Mapping):
        raise GeometryProblems(["geometry is not a GeoJSON object"])
    geom_type = geometry.get("type")
    if geom_type not in POLYGON_TYPES:
        shown = geom_type if isinstance(geom_type, str) else repr(geom_type)
        raise GeometryProblems(
            [f"geometry is a {shown}; an area must be a Polygon or MultiPolygon"]
        )
    coordinates = geometry.get("coordinates")
    multi = geom_type == "MultiPolygon"
    parts = coordinates if multi else [coordinates]
    if not _is_list(parts) or (multi and not parts):
        raise GeometryProblems(["geometry is empty: it has no coordinates"])
    problems: list[str] = []
    polygons: RingArrays = []
    for part_index, rings in enumerate(cast(list[Any], parts)):
        if not _is_list(rings) or not rings:
            problems.append(
                f"part {part_index + 1} is empty"
                if multi
                else "geometry is empty: it has no coordinates"
            )
            continue
        arrays: list[np.ndarray] = []
        for ring_index, ring in enumerate(rings):
            name = ring_name(part_index, ring_index, multi=multi)
            array, problem = _ring_array(ring, name)
            if problem:
                problems.append(problem)
            else:
                arrays.append(array)
        polygons.append(arrays)
    if problems:
        raise GeometryProblems(problems[:MAX_PROBLEMS_PER_GEOMETRY])
    return polygons


def _is_list(value: Any) -> bool:
    """Whether a JSON value is an array."""
    return isinstance(value, list | tuple)


def _ring_array(ring: Any, name: str) -> tuple[np.ndarray, str | None]:
    """Turn one raw ring into an (n, 2) array or say what is wrong with it."""
    empty = np.empty((0, 2))
    if not _is_list(ring):
        return empty, f"{name} is not a list of positions"
    for position_index, position in enumerate(ring):
        if (
            not _is_list(position)
            or len(position) < 2
            or not all(_is_number(v) for v in position[:2])
        ):
            return empty, (
                f"position {position_index + 1} of {name} is {_short(position)}; "
                "a position must be [x, y] with two numbers"
            )
    if len(ring) < 4:
        return empty, (
            f"{name} has only {len(ring)} position{'s' if len(ring) != 1 else ''}; a ring needs "
            "at least 4 (three corners and the first position repeated at the end)"
        )
    array = np.array([[float(p[0]), float(p[1])] for p in ring])
    if not np.array_equal(array[0], array[-1]):
        return empty, (
            f"{name} is not closed: it starts at {_pair(array[0])} but ends at "
            f"{_pair(array[-1])}; the last position must repeat the first"
        )
    return array, None


def _is_number(value: Any) -> bool:
    """A finite JSON number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: Any) -> str:
    """A short representation of a bad JSON value for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _pair(xy: Sequence[float]) -> str:
    """Format a coordinate pair for a message."""
    return f"({float(xy[0]):.6g}, {float(xy[1]):.6g})"


def all_coordinates(polygons: RingArrays) -> np.ndarray:
    """All positions of all rings stacked into one (n, 2) array."""
    arrays = [ring for rings in polygons for ring in rings]
    return np.vstack(arrays) if arrays else np.empty((0, 2))


def build_polygons(polygons: RingArrays) -> list[Polygon]:
    """Build shapely polygons from checked ring arrays (outer ring first)."""
    return [Polygon(rings[0], rings[1:]) for rings in polygons if rings]


_REASON_RE = re.compile(r"^(?P<what>[^\[]+)(?:\[(?P<x>[-0-9.eE+]+) (?P<y>[-0-9.eE+]+)\])?$")
_REASONS = {
    "Self-intersection": "the boundary crosses itself",
    "Ring Self-intersection": "a ring touches or crosses itself",
    "Hole lies outside shell": "a hole lies outside its outer ring",
    "Holes are nested": "a hole lies inside another hole",
    "Interior is disconnected": "the holes cut the polygon into pieces",
    "Nested shells": "one part lies inside another part",
    "Duplicate Rings": "a ring is repeated",
    "Too few points": "a ring has too few distinct points",
    "Invalid Coordinate": "a coordinate is not a number",
}


def invalidity_reason(geometry: BaseGeometry) -> str | None:
    """Explain, in plain words with a location, why a geometry is not valid; ``None`` if valid."""
    if shapely.is_valid(geometry):
        return None
    raw = shapely.is_valid_reason(geometry)
    match = _REASON_RE.match(raw)
    if not match:
        return raw
    what = _REASONS.get(match.group("what").strip(), match.group("what").strip().lower())
    if match.group("x") is not None:
        return f"{what} near ({float(match.group('x')):.6f}, {float(match.group('y')):.6f})"
    return what


def polygonal_part(geometry: BaseGeometry) -> MultiPolygon:
    """Keep only the polygons of a geometry (e.g. after make_valid), as a MultiPolygon."""
    parts = [
        g
        for g in shapely.get_parts(geometry)
        if isinstance(g, Polygon | MultiPolygon) and not g.is_empty
    ]
    polygons: list[Polygon] = []
    for part in parts:
        polygons.extend(part.geoms if isinstance(part, MultiPolygon) else [part])
    return MultiPolygon(polygons)


def as_multipolygon(geometry: BaseGeometry) -> MultiPolygon:
    """A Polygon or MultiPolygon as a MultiPolygon (other types keep their polygonal parts)."""
    if isinstance(geometry, MultiPolygon):
        return geometry
    if isinstance(geometry, Polygon):
        return MultiPolygon([geometry]) if not geometry.is_empty else MultiPolygon()
    return polygonal_part(geometry)
