"""Zones in the database: the 290 municipalities in three formats, bad files refused, lookups."""

from __future__ import annotations

import copy

import pytest
from shapely.geometry import shape
from sqlalchemy import select

from alerts.models import Zone
from alerts.places.zones import import_zones, zones_at
from tests.places.helpers import (
    MORA_CENTRE_LON_LAT,
    MOTALA_CENTRE_LON_LAT,
    MUNICIPALITIES_PATH,
    count,
    municipalities,
    reprojected,
    write,
)
from tests.shapefiles import shapefile_zip

SQUARE = [[15.0, 58.5], [15.01, 58.5], [15.01, 58.51], [15.0, 58.51], [15.0, 58.5]]


def zone_feature(name: str, ring: list, **properties) -> dict:
    return {
        "type": "Feature",
        "properties": {"name": name, **properties},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def collection(*features: dict, crs: str | None = None) -> dict:
    body: dict = {"type": "FeatureCollection", "features": list(features)}
    if crs:
        body["crs"] = {"type": "name", "properties": {"name": crs}}
    return body


def import_cli(runner, path: str, *options: str):
    return runner.invoke(args=["zones", "import", path, *options])


def assert_municipalities_found(session) -> None:
    """Motala's and Mora's town centres lie in Motala (0583) and Mora (2062)."""
    for (lon, lat), code, name in (
        (MOTALA_CENTRE_LON_LAT, "0583", "Motala"),
        (MORA_CENTRE_LON_LAT, "2062", "Mora"),
    ):
        found = zones_at(session, lon, lat)
        assert [(z.slug, z.name) for z in found] == [(code, name)]


def test_cli_imports_the_290_municipalities(runner, session):
    result = import_cli(
        runner, str(MUNICIPALITIES_PATH), "--slug-property", "id", "--kind", "municipality"
    )
    assert result.exit_code == 0, result.output
    assert "Imported 290 zones" in result.output
    assert "290 new, 0 updated" in result.output
    assert count(session, Zone) == 290
    motala = session.scalar(select(Zone).where(Zone.slug == "0583"))
    assert (motala.name, motala.kind) == ("Motala", "municipality")
    geometry = shape(motala.geometry)
    assert geometry.geom_type == "MultiPolygon"
    assert (motala.min_lon, motala.min_lat, motala.max_lon, motala.max_lat) == geometry.bounds
    assert_municipalities_found(session)


def test_cli_imports_the_municipalities_in_sweref99tm(runner, session, tmp_path):
    path = write(tmp_path, "kommuner-3006.geojson", reprojected(municipalities(), "EPSG:3006"))
    result = import_cli(runner, path, "--name-property", "kom_namn", "--slug-property", "id")
    assert result.exit_code == 0, result.output
    assert "Imported 290 zones" in result.output and "EPSG:3006" in result.output
    assert count(session, Zone) == 290
    assert_municipalities_found(session)
    mora = session.scalar(select(Zone).where(Zone.slug == "2062"))
    assert 13.0 < mora.min_lon < mora.max_lon < 15.5  # back in lon/lat


def test_cli_imports_a_zipped_shapefile(runner, session, tmp_path):
    path = write(tmp_path, "kommuner.zip", shapefile_zip(municipalities(), "EPSG:3006"))
    result = import_cli(runner, path, "--slug-property", "KOMMUNKOD", "--kind", "municipality")
    assert result.exit_code == 0, result.output
    assert "Imported 290 zones" in result.output and "shapefile" in result.output
    assert count(session, Zone) == 290
    assert_municipalities_found(session)


def test_zones_at_is_boundary_inclusive_and_smallest_first(session):
    outer = [[15.0, 58.5], [15.1, 58.5], [15.1, 58.6], [15.0, 58.6], [15.0, 58.5]]
    inner = [[15.0, 58.5], [15.02, 58.5], [15.02, 58.52], [15.0, 58.52], [15.0, 58.5]]
    import_zones(
        session,
        write_bytes(collection(zone_feature("Stor", outer), zone_feature("Liten", inner))),
    )
    assert [z.slug for z in zones_at(session, 15.01, 58.51)] == ["liten", "stor"]
    assert [z.slug for z in zones_at(session, 15.0, 58.55)] == ["stor"]  # on the edge
    assert [z.slug for z in zones_at(session, 15.05, 58.55)] == ["stor"]
    assert zones_at(session, 16.0, 58.55) == []


def write_bytes(body: dict) -> bytes:
    import json

    return json.dumps(body).encode()


def test_reimport_updates_zones_by_slug(runner, session, tmp_path):
    first = collection(zone_feature("Gesunda", SQUARE, slug="gesunda"))
    assert import_cli(runner, write(tmp_path, "a.geojson", first)).exit_code == 0
    original = session.scalar(select(Zone).where(Zone.slug == "gesunda"))
    original_id = original.id
    moved = [[lon + 0.5, lat] for lon, lat in SQUARE]
    second = collection(
        zone_feature("Gesunda by", moved, slug="gesunda"),
        zone_feature("Bergkarlås", SQUARE, slug="bergkarlas"),
    )
    result = import_cli(
        runner, write(tmp_path, "b.geojson", second), "--slug-property", "slug", "--kind", "water"
    )
    assert result.exit_code == 0, result.output
    assert "1 new, 1 updated" in result.output
    session.expire_all()
    zones = {z.slug: z for z in session.scalars(select(Zone))}
    assert set(zones) == {"gesunda", "bergkarlas"}
    assert zones["gesunda"].id == original_id
    assert zones["gesunda"].name == "Gesunda by"
    assert zones["gesunda"].kind == "water"
    assert zones["gesunda"].min_lon == pytest.approx(15.5)
    assert [z.slug for z in zones_at(session, 15.505, 58.505)] == ["gesunda"]


def test_a_repaired_feature_is_reported_and_imported(runner, session, tmp_path):
    bow_tie = [[15.0, 58.5], [15.01, 58.51], [15.01, 58.5], [15.0, 58.51], [15.0, 58.5]]
    path = write(tmp_path, "bow.geojson", collection(zone_feature("Rosett", bow_tie)))
    result = import_cli(runner, path)
    assert result.exit_code == 0, result.output
    assert "repaired feature 0 (rosett): " in result.output
    assert "the boundary crosses itself near (15.005000, 58.505000)" in result.output
    assert "1 repaired" in result.output
    assert shape(session.scalar(select(Zone)).geometry).is_valid


def _swapped(ring: list) -> list:
    return [[lat, lon] for lon, lat in ring]


BAD_INPUTS = {
    "not json": (
        b"{not json",
        [
            "file: the file is not valid JSON: Expecting property name enclosed in double quotes "
            "at line 1, column 2"
        ],
    ),
    "not a feature collection": (
        {"type": "Feature", "geometry": None, "properties": {}},
        ["file: the file is not a GeoJSON FeatureCollection (its type is 'Feature')"],
    ),
    "no features": (collection(), ["file: the file has no features"]),
    "point instead of polygon": (
        collection(
            zone_feature("Bra", SQUARE),
            {
                "type": "Feature",
                "properties": {"name": "Punkt"},
                "geometry": {"type": "Point", "coordinates": [15.0, 58.5]},
            },
        ),
        ["feature 1: geometry is a Point; an area must be a Polygon or MultiPolygon"],
    ),
    "lat/lon swapped": (
        collection(zone_feature("Bra", SQUARE), zone_feature("Omvänd", _swapped(SQUARE))),
        [
            "feature 1: coordinates look like lat/lon swapped: positions must be [longitude, latitude]"
        ],
    ),
    "unclosed ring": (
        collection(zone_feature("Öppen", SQUARE[:-1])),
        [
            "feature 0: the outer ring is not closed: it starts at (15, 58.5) but ends at (15, 58.51)"
        ],
    ),
    "zero area": (
        collection(
            zone_feature("Linje", [[15.0, 58.5], [15.01, 58.5], [15.02, 58.5], [15.0, 58.5]])
        ),
        ["feature 0: the geometry has no area: its points lie on a line or a point"],
    ),
    "duplicate slug": (
        collection(zone_feature("Håbo", SQUARE), zone_feature("Habo", SQUARE)),
        ["feature 1: duplicate slug 'habo'"],
    ),
    "missing name": (
        collection(
            {
                "type": "Feature",
                "properties": {"namn": ""},
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            }
        ),
        ["feature 0: has no name"],
    ),
    "unknown crs": (
        collection(zone_feature("A", SQUARE), crs="EPSG:999999"),
        ["file: unknown coordinate system 'EPSG:999999'"],
    ),
    "outside sweden": (
        collection(
            zone_feature(
                "Berlin",
                [
                    [13.4 + x, 52.5 + y]
                    for x, y in ((0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01), (0, 0))
                ],
            )
        ),
        ["feature 0: coordinates (13.40000, 52.50000) (lon, lat) lie outside Sweden"],
    ),
    "reserved slug": (
        collection(zone_feature("At", SQUARE)),
        ["feature 0: the slug 'at' is reserved"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_with_the_reason_and_nothing_is_imported(
    case, runner, session, tmp_path
):
    import_zones(session, write_bytes(collection(zone_feature("Befintlig", SQUARE))))
    session.commit()
    before = {z.slug: z.name for z in session.scalars(select(Zone))}
    content, expected = BAD_INPUTS[case]
    result = import_cli(runner, write(tmp_path, "bad.geojson", content))
    assert result.exit_code == 1
    assert "Nothing imported from" in result.output
    for text in expected:
        assert text in result.output, result.output
    session.expire_all()
    assert {z.slug: z.name for z in session.scalars(select(Zone))} == before


def test_habo_and_habo_collide_without_a_slug_property(runner, session):
    result = import_cli(runner, str(MUNICIPALITIES_PATH))
    assert result.exit_code == 1
    assert "feature 252: duplicate slug 'habo'" in result.output
    assert count(session, Zone) == 0


def test_shapefile_without_prj_is_refused(runner, session, tmp_path):
    data = municipalities()
    data["features"] = data["features"][:3]
    path = write(tmp_path, "kommuner.zip", shapefile_zip(data, prj=False))
    result = import_cli(runner, path)
    assert result.exit_code == 1
    assert "the zip archive has no kommuner/kommuner.prj" in result.output
    assert count(session, Zone) == 0


def test_shapefile_in_a_zip_that_is_not_one(runner, session, tmp_path):
    result = import_cli(runner, write(tmp_path, "broken.zip", b"PK\x03\x04 broken"))
    assert result.exit_code == 1
    assert "cannot be opened" in result.output
    assert count(session, Zone) == 0


def test_one_bad_feature_among_many_imports_none_of_them(runner, session, tmp_path):
    data = copy.deepcopy(municipalities())
    data["features"][100]["geometry"] = {"type": "Polygon", "coordinates": []}
    path = write(tmp_path, "kommuner.geojson", data)
    result = import_cli(runner, path, "--slug-property", "id")
    assert result.exit_code == 1
    assert "feature 100: " in result.output
    assert count(session, Zone) == 0


def test_api_zones_at_finds_the_municipality(runner, client):
    assert import_cli(runner, str(MUNICIPALITIES_PATH), "--slug-property", "id").exit_code == 0
    lon, lat = MOTALA_CENTRE_LON_LAT
    body = client.get(f"/api/v1/zones/at?lat={lat}&lon={lon}").get_json()
    assert [(z["slug"], z["name"]) for z in body["items"]] == [("0583", "Motala")]
    assert body["next"] is None
    lon, lat = MORA_CENTRE_LON_LAT
    body = client.get(f"/api/v1/zones/at?lat={lat}&lon={lon}").get_json()
    assert [z["slug"] for z in body["items"]] == ["2062"]
    assert client.get("/api/v1/zones/at?lat=59.33&lon=11.0").get_json()["items"] == []


def test_zones_at_wins_over_a_zone_slug_route(app, client, session):
    rules = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/zones/")]
    assert {"/api/v1/zones/at", "/api/v1/zones/<slug>"} <= set(rules)
    import_zones(session, write_bytes(collection(zone_feature("Gesunda", SQUARE))))
    session.commit()
    response = client.get("/api/v1/zones/at?lat=58.505&lon=15.005")
    assert response.status_code == 200
    assert [z["slug"] for z in response.get_json()["items"]] == ["gesunda"]
    assert client.get("/api/v1/zones/gesunda").get_json()["slug"] == "gesunda"
    adapter = app.url_map.bind("varsla.test")
    assert adapter.match("/api/v1/zones/at", method="GET")[0] == "api_places.zones_at_point"


@pytest.mark.parametrize(
    ("query", "fields", "message"),
    [
        ("", ["lat", "lon"], "is required"),
        ("lat=abc&lon=15", ["lat"], "'abc' is not a number"),
        ("lat=58.5&lon=200", ["lon"], "must lie between -180 and 180"),
        ("lat=95&lon=nan", ["lat", "lon"], "must lie between -90 and 90"),
    ],
)
def test_zones_at_refuses_bad_coordinates_naming_the_field(client, query, fields, message):
    response = client.get(f"/api/v1/zones/at?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert [e["field"] for e in body["errors"]] == fields
    assert body["field"] == fields[0]
    assert message in body["detail"]
