"""The address register: import (CSV and GeoJSON, EPSG:3006), geocoding and autocomplete."""

from __future__ import annotations

import json

import pytest
from pyproj import Transformer
from sqlalchemy import select

from alerts.models import Address
from alerts.places.register import autocomplete, geocode, import_addresses, resolve_address
from alerts.places.zones import import_zones
from geodata.demo import data_path
from tests.places.helpers import count, write

REGISTER = """\
# A small register for tests (invented points)
LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID
15.0400,58.5320,12,Storgatan,,Motala,Motala,Östergötlands län,59130,t-1
15.0401,58.5321,12B,Storgatan,,Motala,Motala,Östergötlands län,59130,t-2
15.0402,58.5322,14,Storgatan,,Motala,Motala,Östergötlands län,59130,t-3
15.2840,58.5640,12,Storgatan,,Borensberg,Motala,Östergötlands län,59030,t-4
15.0410,58.5330,3,Västra Storgatan,,Motala,Motala,Östergötlands län,59131,t-5
14.5400,61.0050,7,Prästgårdsvägen,,Mora,Mora,Dalarnas län,79231,t-6
14.5401,61.0051,9,Prästgårdsvägen,,Mora,Mora,Dalarnas län,79231,t-7
14.5800,60.8800,5,Gesundavägen,,Sollerön,Mora,Dalarnas län,79290,t-8
14.5410,61.0060,21,Kristinebergsgatan,,Mora,Mora,Dalarnas län,79232,t-9
15.0420,58.5340,1,Sankt Olofs gata,,Motala,Motala,Östergötlands län,59132,t-10
"""


@pytest.fixture
def register(session):
    """The small register, committed."""
    report = import_addresses(session, REGISTER.encode())
    session.commit()
    assert report.created == 10 and not report.errors
    return report


def labels(found) -> list[str]:
    return [s.label for s in found]


def test_cli_imports_a_register_and_reports_bad_rows(runner, session, tmp_path):
    bad = REGISTER + (
        "15.05,58.54,,Kyrkogatan,,Motala,,,59130,t-11\n"  # no number: fine
        "abc,58.54,4,Kyrkogatan,,Motala,,,59130,t-12\n"
        "58.54,15.05,6,Kyrkogatan,,Motala,,,59130,t-13\n"
        "15.05,58.54,tolv,Kyrkogatan,,Motala,,,59130,t-14\n"
        "15.05,58.54,8,Kyrkogatan,,Motala,,,5913,t-15\n"
        "15.05,58.54,10,Kyrkogatan,,Motala,,,59130,t-1\n"
    )
    result = runner.invoke(args=["addresses", "import", write(tmp_path, "reg.csv", bad)])
    assert result.exit_code == 0, result.output
    assert (
        "Imported 11 addresses" in result.output
        and "11 new, 0 updated, 5 bad rows" in result.output
    )
    assert "line 14: LON 'abc' is not a number" in result.output
    assert "line 15: coordinates look like lat/lon swapped" in result.output
    assert "line 16: house number 'tolv' is not a number" in result.output
    assert "line 17: postcode '5913' is not five digits" in result.output
    assert "line 18: ID 't-1' already appears at line 3" in result.output
    assert count(session, Address) == 11
    row = session.scalar(select(Address).where(Address.source_id == "t-2"))
    assert (row.street, row.number, row.letter, row.street_key, row.city_key) == (
        "Storgatan",
        12,
        "B",
        "storgatan",
        "motala",
    )
    assert row.synthetic is False


def test_reimport_updates_by_source_id_and_duplicates_nothing(session, register):
    changed = REGISTER.replace("15.0400,58.5320,12,Storgatan", "15.0500,58.5320,12,Storgatan")
    report = import_addresses(session, changed.encode())
    assert (report.created, report.updated) == (0, 10)
    assert count(session, Address) == 10
    assert session.scalar(select(Address.lon).where(Address.source_id == "t-1")) == 15.05


def test_rows_without_an_id_are_not_duplicated_on_reimport(session):
    text = "LON,LAT,NUMBER,STREET,CITY,POSTCODE\n15.04,58.53,1,Kyrkogatan,Motala,59130\n"
    assert import_addresses(session, text.encode()).created == 1
    assert import_addresses(session, text.encode()).updated == 1
    assert count(session, Address) == 1


def test_geojson_points_in_sweref99tm(session):
    to_3006 = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    x, y = to_3006.transform(14.537, 61.004)
    body = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3006"}},
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {
                    "adressomrade": "Vasagatan",
                    "adressplatsnummer": "4",
                    "postnummer": "792 30",
                    "postort": "Mora",
                    "objektidentitet": "lm-1",
                },
            }
        ],
    }
    report = import_addresses(session, json.dumps(body).encode())
    assert (report.created, report.source_crs) == (1, "EPSG:3006")
    address = geocode(session, "Vasagatan 4, Mora")
    assert address is not None
    assert (address.lon, address.lat) == (pytest.approx(14.537), pytest.approx(61.004))
    assert address.postcode == "79230"


def test_a_file_that_is_no_register_is_refused(runner, session, tmp_path):
    path = write(tmp_path, "x.csv", "name,phone\nAnna,070\n")
    result = runner.invoke(args=["addresses", "import", path])
    assert result.exit_code == 1
    assert "Nothing imported from" in result.output
    assert "the header lacks the column(s) LON, LAT, NUMBER, STREET" in result.output
    assert count(session, Address) == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Storgatan 12 B, Motala", "t-2"),
        ("storgatan 12b, motala", "t-2"),
        ("STORG. 12 B, 591 30", "t-2"),
        ("Storgatan 12, 59130 Motala", "t-1"),
        ("Storgatan 12, 590 30", "t-4"),
        ("Storgatan 12 Borensberg", "t-4"),
        ("V. Storgatan 3", "t-5"),
        ("Västra Storg. 3", "t-5"),
        ("Prastgardsvagen 7", "t-6"),
        ("Prästgårdsv. 9, Mora", "t-7"),
        ("S:t Olofs gata 1", "t-10"),
        ("Sankt Olofs g. 1", "t-10"),
        ("Kristinebergsgtan 21", "t-9"),  # misspelt
        ("Gesundavägen 5 lgh 1101, Sollerön", "t-8"),
    ],
)
def test_geocoding_understands_swedish_spelling_variants(session, register, typed, expected):
    address = geocode(session, typed)
    assert address is not None, resolve_address(session, typed).reason
    assert address.source_id == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("Nogatan 12", "unknown address 'Nogatan 12'"),
        ("Storgatan 13", "unknown address 'Storgatan 13'"),
        ("Storgatan 12 C", "unknown address 'Storgatan 12 C'"),
        ("Storgatan 12, 792 30", "unknown address 'Storgatan 12, 792 30'"),
        ("Storgatan", "'Storgatan' has no house number"),
        (
            "Storgatan 12",
            "address 'Storgatan 12' is ambiguous: it matches 2 addresses "
            "(Storgatan 12, 590 30 Borensberg; Storgatan 12, 591 30 Motala); "
            "add the postcode or town",
        ),
    ],
)
def test_geocoding_says_why_nothing_was_found(session, register, typed, reason):
    assert geocode(session, typed) is None
    assert resolve_address(session, typed).reason == reason


def test_the_fuzzy_matcher_sees_streets_imported_after_it_was_built(session, register):
    assert geocode(session, "Kyrkogatn 1") is None
    import_addresses(
        session, b"LON,LAT,NUMBER,STREET,CITY,POSTCODE,ID\n15.0,58.5,1,Kyrkogatan,Motala,59130,k\n"
    )
    assert geocode(session, "Kyrkogatn 1").source_id == "k"


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("storgatan 12b", "Storgatan 12 B, 591 30 Motala"),
        ("Storg. 12 B", "Storgatan 12 B, 591 30 Motala"),
        ("Storgatan 12, 590 30", "Storgatan 12, 590 30 Borensberg"),
        ("storgtan 14", "Storgatan 14, 591 30 Motala"),  # misspelt
        ("prastg", "Prästgårdsvägen 7, 792 31 Mora"),
        ("v storgatan", "Västra Storgatan 3, 591 31 Motala"),
        ("591 31", "Västra Storgatan 3, 591 31 Motala"),
        ("59131", "Västra Storgatan 3, 591 31 Motala"),
        ("Gesunda", "Gesundavägen 5, 792 90 Sollerön"),
    ],
)
def test_autocomplete_ranks_the_best_match_first(session, register, typed, first):
    found = autocomplete(session, typed)
    assert found, typed
    assert found[0].label == first


def test_autocomplete_with_a_number_prefers_it_and_shows_letters_after(session, register):
    assert labels(autocomplete(session, "Storgatan 12, Motala")) == [
        "Storgatan 12, 591 30 Motala",
        "Storgatan 12 B, 591 30 Motala",
    ]


def test_autocomplete_shows_several_streets_before_many_numbers(session, register):
    found = autocomplete(session, "stor", limit=3)
    assert {(s.street, s.city) for s in found[:2]} == {
        ("Storgatan", "Borensberg"),
        ("Storgatan", "Motala"),
    }
    assert len(found) == 3


def test_autocomplete_of_nothing_is_nothing(session, register):
    assert autocomplete(session, "   ") == []
    assert autocomplete(session, "zzzzqqq") == []


def test_api_autocomplete_answers_items_with_zones(client, session, register):
    import_zones(session, data_path("municipalities.geojson").read_bytes())
    session.commit()
    response = client.get("/api/v1/addresses?q=Storg. 12 B")
    assert response.status_code == 200
    body = response.get_json()
    assert body["next"] is None
    first = body["items"][0]
    assert first == {
        "id": first["id"],
        "label": "Storgatan 12 B, 591 30 Motala",
        "street": "Storgatan",
        "number": 12,
        "letter": "B",
        "postcode": "59130",
        "city": "Motala",
        "lon": 15.0401,
        "lat": 58.5321,
        "match": "exact",
        "zones": ["motala"],
    }
    items = client.get("/api/v1/addresses?q=Gesundavägen 5").get_json()["items"]
    assert items[0]["zones"] == ["mora"]
    assert client.get("/api/v1/addresses?q=").get_json() == {"items": [], "next": None}
    assert len(client.get("/api/v1/addresses?q=stor&limit=2").get_json()["items"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [("q=" + "x" * 201, "q"), ("q=stor&limit=0", "limit"), ("q=stor&limit=many", "limit")],
)
def test_api_autocomplete_refuses_bad_parameters(client, query, field):
    response = client.get(f"/api/v1/addresses?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == field


def test_cli_imports_csv_in_sweref99tm_with_crs_option(runner, session, tmp_path):
    to_3006 = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    x, y = to_3006.transform(15.037, 58.537)
    text = (
        f"LON,LAT,NUMBER,STREET,CITY,POSTCODE,ID\n{x:.2f},{y:.2f},2,Kungsgatan,Motala,59130,s-1\n"
    )
    path = write(tmp_path, "sweref.csv", text)
    refused = runner.invoke(args=["addresses", "import", path])  # read as lon/lat
    assert refused.exit_code == 0
    assert (
        "line 2: position (502154, 6488499) looks like SWEREF 99 TM (EPSG:3006) "
        "easting/northing, not lon/lat: declare that coordinate system"
    ) in refused.output
    assert count(session, Address) == 0
    result = runner.invoke(args=["addresses", "import", path, "--crs", "EPSG:3006"])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    address = geocode(session, "Kungsgatan 2, Motala")
    assert (address.lon, address.lat) == (pytest.approx(15.037), pytest.approx(58.537))
