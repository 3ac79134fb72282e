"""Zone import as an operator meets it: files in, zones or a clear refusal out."""

import io
import json
import zipfile

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, shape

from geodata.matching import ZoneIndex, zones_containing
from geodata.zones import ZoneImportError, read_zones, slugify
from tests.geodata.helpers import (
    MORA_CENTRE_LON_LAT,
    MOTALA_CENTRE_LON_LAT,
    MUNICIPALITIES_PATH,
    STOCKHOLM_CENTRE_LON_LAT,
    collection,
    feature,
    municipalities,
    square,
)
from tests.shapefiles import shapefile_zip


def refused(source, **kwargs) -> list[tuple[int | None, str]]:
    """Import expecting a refusal; return the problems."""
    with pytest.raises(ZoneImportError) as info:
        read_zones(source, **kwargs)
    return info.value.problems


def test_imports_the_290_municipalities():
    result = read_zones(MUNICIPALITIES_PATH, name_property="kom_namn", slug_property="id")
    assert len(result.zones) == 290
    assert result.source_crs == "EPSG:4326"
    assert result.repairs == []
    motala = next(z for z in result.zones if z.slug == "0583")
    assert motala.name == "Motala"
    assert isinstance(motala.geometry, MultiPolygon)
    assert all(z.geometry.is_valid and z.geometry.area > 0 for z in result.zones)


def test_slugs_from_names_collide_for_habo_and_habo():
    problems = refused(MUNICIPALITIES_PATH, name_property="kom_namn")
    assert len(problems) == 1
    index, reason = problems[0]
    assert reason.startswith("duplicate slug 'habo'")
    assert "Håbo" in reason and "Habo" in reason
    assert index == 252


def test_same_zones_from_sweref99tm():
    data = municipalities()
    to_3006 = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    for f in data["features"]:
        f["geometry"] = shapely.geometry.mapping(
            shapely.transform(
                shape(f["geometry"]),
                lambda xy: np.column_stack(to_3006.transform(xy[:, 0], xy[:, 1])),
            )
        )
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3006"}}
    projected = read_zones(json.dumps(data).encode(), name_property="kom_namn", slug_property="id")
    original = read_zones(MUNICIPALITIES_PATH, name_property="kom_namn", slug_property="id")
    assert projected.source_crs == "EPSG:3006"
    assert [z.slug for z in projected.zones] == [z.slug for z in original.zones]
    for a, b in zip(projected.zones, original.zones, strict=True):
        assert a.name == b.name
        assert shapely.hausdorff_distance(a.geometry, b.geometry) < 1e-7


def _shapefile_zip(crs_code: str, names: list[str]) -> bytes:
    """A zipped Shapefile of some municipalities in a CRS, names in the field NAMN."""
    data = municipalities()
    data["features"] = [f for f in data["features"] if f["properties"]["kom_namn"] in names]
    return shapefile_zip(data, crs_code, name_field="NAMN")


def test_zipped_shapefile_in_sweref_imports():
    result = read_zones(
        _shapefile_zip("EPSG:3006", ["Motala", "Mora", "Håbo"]), kind="municipality"
    )
    assert result.source_format == "shapefile"
    assert result.source_crs == "EPSG:3006"
    by_slug = {z.slug: z for z in result.zones}
    assert set(by_slug) == {"motala", "mora", "habo"}
    assert by_slug["habo"].name == "Håbo"
    assert by_slug["mora"].properties["KOMMUNKOD"] == "2062"
    assert by_slug["mora"].kind == "municipality"
    assert by_slug["motala"].geometry.covers(shapely.Point(MOTALA_CENTRE_LON_LAT))
    assert len(by_slug["mora"].geometry.geoms) > 1  # Mora is a MultiPolygon


def test_shapefile_without_prj_is_refused():
    data = _shapefile_zip("EPSG:3006", ["Motala"])
    stripped = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(stripped, "w") as target:
        for name in source.namelist():
            if not name.endswith(".prj"):
                target.writestr(name, source.read(name))
    problems = refused(stripped.getvalue())
    assert problems == [
        (None, "the zip archive has no kommuner/kommuner.prj, so the coordinate system is unknown")
    ]


@pytest.mark.parametrize(
    ("lon_lat", "expected"),
    [
        (MOTALA_CENTRE_LON_LAT, ["Motala"]),
        (MORA_CENTRE_LON_LAT, ["Mora"]),
        (STOCKHOLM_CENTRE_LON_LAT, ["Stockholm"]),
    ],
)
def test_the_right_municipality_is_found_for_known_points(lon_lat, expected):
    zones = read_zones(MUNICIPALITIES_PATH, slug_property="id").zones
    geometries = {z.name: z.geometry for z in zones}
    assert zones_containing(*lon_lat, geometries) == expected
    assert ZoneIndex(geometries).containing(*lon_lat) == expected


def test_name_property_is_found_and_slug_made_from_it():
    result = read_zones(collection(feature("Bergkarlås Östra", square())))
    zone = result.zones[0]
    assert (zone.name, zone.slug, zone.kind) == ("Bergkarlås Östra", "bergkarlas-ostra", "zone")


def test_slugify_follows_swedish_letters():
    assert slugify("Gesunda") == "gesunda"
    assert slugify("Mora  centrum") == "mora-centrum"
    assert slugify("Ärlebo/Ödeshög") == "arlebo-odeshog"


def test_malformed_json_is_refused():
    problems = refused(b'{"type": "FeatureCollection", "features": [')
    assert len(problems) == 1
    assert problems[0][0] is None
    assert problems[0][1].startswith("the file is not valid JSON")


def test_a_geometry_that_is_not_a_feature_collection_is_refused():
    problems = refused(json.dumps(square()).encode())
    assert problems == [
        (None, "the file is not a GeoJSON FeatureCollection (its type is 'Polygon')")
    ]


def test_point_geometry_is_refused_with_feature_index():
    problems = refused(
        collection(
            feature("A", square()),
            feature("B", {"type": "Point", "coordinates": [15.0, 58.5]}),
        )
    )
    assert problems == [(1, "geometry is a Point; an area must be a Polygon or MultiPolygon")]


def test_unclosed_ring_is_refused():
    geometry = square()
    geometry["coordinates"][0].pop()
    problems = refused(collection(feature("A", geometry)))
    assert problems == [
        (
            0,
            "the outer ring is not closed: it starts at (15, 58.5) but ends at (15, 58.51); "
            "the last position must repeat the first",
        )
    ]


def test_ring_with_three_positions_is_refused():
    geometry = {"type": "Polygon", "coordinates": [[[15.0, 58.5], [15.1, 58.5], [15.0, 58.5]]]}
    problems = refused(collection(feature("A", geometry)))
    assert problems == [
        (
            0,
            "the outer ring has only 3 positions; a ring needs at least 4 "
            "(three corners and the first position repeated at the end)",
        )
    ]


def test_self_intersection_is_repaired_and_reported():
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[15.0, 58.5], [15.02, 58.52], [15.02, 58.5], [15.0, 58.52], [15.0, 58.5]]],
    }
    result = read_zones(collection(feature("Fluga", bow_tie)))
    zone = result.zones[0]
    assert zone.geometry.is_valid
    assert len(zone.geometry.geoms) == 2
    assert zone.repairs == [
        "the boundary crosses itself near (15.010000, 58.510000); "
        "repaired by splitting the boundary where it crosses"
    ]
    assert result.repairs == [(0, zone.repairs[0])]


def test_degenerate_part_is_dropped_and_reported():
    flat = [[15.1, 58.5], [15.2, 58.5], [15.3, 58.5], [15.1, 58.5]]
    geometry = {"type": "MultiPolygon", "coordinates": [square()["coordinates"], [flat]]}
    zone = read_zones(collection(feature("A", geometry))).zones[0]
    assert len(zone.geometry.geoms) == 1
    assert zone.repairs == ["part 2 has no area (its points lie on a line) and was dropped"]


def test_zero_area_zone_is_refused():
    flat = [[15.1, 58.5], [15.2, 58.5], [15.3, 58.5], [15.1, 58.5]]
    problems = refused(collection(feature("A", {"type": "Polygon", "coordinates": [flat]})))
    assert problems == [(0, "the geometry has no area: its points lie on a line or a point")]


def test_empty_geometry_is_refused():
    problems = refused(collection(feature("A", {"type": "Polygon", "coordinates": []})))
    assert problems == [(0, "geometry is empty: it has no coordinates")]


def test_swapped_lat_lon_is_refused_and_named():
    geometry = square()
    geometry["coordinates"][0] = [[lat, lon] for lon, lat in geometry["coordinates"][0]]
    problems = refused(collection(feature("A", square()), feature("B", geometry)))
    assert len(problems) == 1
    assert problems[0][0] == 1
    assert problems[0][1].startswith("coordinates look like lat/lon swapped")


def test_swapped_easting_northing_in_sweref_is_refused():
    ring = [[6489000, 502000], [6489000, 503000], [6490000, 503000], [6489000, 502000]]
    problems = refused(
        collection(feature("A", {"type": "Polygon", "coordinates": [ring]}), crs="EPSG:3006")
    )
    assert problems == [
        (
            0,
            "coordinates look like easting/northing swapped: in EPSG:3006 (SWEREF99 TM) "
            "x must be the easting and y the northing",
        )
    ]


def test_coordinates_outside_sweden_are_refused():
    problems = refused(collection(feature("Paris", square(2.35, 48.85))))
    assert problems == [(0, "coordinates (2.35000, 48.85000) (lon, lat) lie outside Sweden")]


def test_duplicate_slugs_are_refused_naming_both_features():
    problems = refused(
        collection(
            feature("Gesunda", square(), slug="gesunda"),
            feature("Gesunda by", square(14.58, 60.88), slug="Gesunda"),
        ),
        slug_property="slug",
    )
    assert problems == [
        (
            1,
            "duplicate slug 'gesunda' (name 'Gesunda by'); feature 0 ('Gesunda') already "
            "uses it; give one of them a slug property",
        )
    ]


def test_one_bad_feature_refuses_the_whole_import_and_every_problem_is_listed():
    unclosed = square()
    unclosed["coordinates"][0].pop()
    with pytest.raises(ZoneImportError) as info:
        read_zones(
            collection(
                feature("Good", square()),
                feature("Line", {"type": "LineString", "coordinates": [[15, 58], [16, 59]]}),
                feature("Open", unclosed),
                {"type": "Feature", "properties": {}, "geometry": square()},
            )
        )
    assert [index for index, _ in info.value.problems] == [1, 2, 3]
    assert info.value.problems[2] == (3, "has no name (property 'name' is missing or empty)")
    message = str(info.value)
    assert message.startswith("zone import failed:\nfeature 1: geometry is a LineString")


def test_missing_name_property_is_explained():
    data = collection({"type": "Feature", "properties": {"kod": "1"}, "geometry": square()})
    assert refused(data) == [
        (None, "no name property found (properties seen: kod); choose one with name_property")
    ]


def test_declared_crs_that_is_unknown_is_refused():
    problems = refused(collection(feature("A", square()), crs="urn:ogc:def:crs:EPSG::999999"))
    assert problems == [(None, "unknown coordinate system 'urn:ogc:def:crs:EPSG::999999'")]
