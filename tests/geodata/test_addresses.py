"""The address register: reading files, Swedish spelling variants, ranking, fuzzy streets."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pyproj import Transformer

from geodata.addresses import (
    AddressImportError,
    AddressQuery,
    AddressRecord,
    GeocoderError,
    NominatimGeocoder,
    StreetMatcher,
    format_address,
    parse_address_query,
    rank_candidates,
    read_addresses,
    street_key,
)
from geodata.demo import data_path


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("Storg.", "Storgatan"),
        ("STORGATAN", "Storgatan"),
        ("  storgatan ", "Storgatan"),
        ("Stor gatan", "Storgatan"),
        ("Prästgårdsv.", "Prästgårdsvägen"),
        ("Prastgardsvagen", "Prästgårdsvägen"),
        ("Prästgårds-vägen", "Prästgårdsvägen"),
        ("Kyrkogr.", "Kyrkogränd"),
        ("Kyrko gr", "Kyrkogränd"),
        ("Stortg.", "Stortorget"),
        ("Stor torg", "Stortorget"),
        ("Karl Johans v.", "Karl Johans väg"),
        ("Karl Johans vägen", "Karl Johans väg"),
        ("V. Storgatan", "Västra Storgatan"),
        ("S:t Larsgatan", "Sankt Larsgatan"),
    ],
)
def test_spelling_variants_share_a_street_key(variant, canonical):
    assert street_key(variant) == street_key(canonical)


def test_street_keys_are_stable_and_prefix_friendly():
    assert street_key("Storgatan") == "storgatan"
    assert street_key(street_key("Prästgårdsvägen")) == street_key("Prästgårdsvägen")
    # Half-typed names stay prefixes of the full key, for SQL LIKE 'key%'.
    for typed in ("Stor", "Storg", "Storgat", "Karl Johans g", "Prästgårds"):
        full = (
            "Karl Johans gränd"
            if typed.startswith("Karl")
            else ("Prästgårdsvägen" if typed.startswith("Pr") else "Storgatan")
        )
        assert street_key(full).startswith(street_key(typed)), typed
    assert street_key("Bergsvägen") != street_key("Bergsgatan")


@pytest.mark.parametrize(
    "text",
    [
        "Storgatan 12B, 591 30 Motala",
        "Storgatan 12 B, 59130 Motala",
        "storgatan 12 b 591 30 MOTALA",
        "Storg. 12b, 591 30, Motala",
        "Storgatan 12 B lgh 1101, 591 30 Motala",
    ],
)
def test_query_variants_parse_alike(text):
    assert parse_address_query(text) == AddressQuery(
        street_key="storgatan",
        number=12,
        letter="B",
        postcode="59130",
        city_key="motala",
        text=text,
    )


def test_query_parts_are_optional():
    assert parse_address_query("Storgatan") == AddressQuery("storgatan", text="Storgatan")
    q = parse_address_query("Vasagatan 3, Mora")
    assert (q.street_key, q.number, q.letter, q.postcode, q.city_key) == (
        "vasagatan",
        3,
        "",
        None,
        "mora",
    )
    q = parse_address_query("1:a Långgatan 4")
    assert (q.street_key, q.number) == ("1alanggatan", 4)


def test_addresses_are_formatted_the_swedish_way():
    assert (
        format_address("Storgatan", 12, "b", "59130", "Motala") == "Storgatan 12 B, 591 30 Motala"
    )
    assert format_address("Storgatan", 12) == "Storgatan 12"
    record = AddressRecord("Vasagatan", 3, "", "79230", "Mora", 14.54, 61.0)
    assert record.display == "Vasagatan 3, 792 30 Mora"


def _register() -> list[AddressRecord]:
    """A small register with look-alike streets in two towns."""

    def a(street, number, letter="", postcode="59130", city="Motala"):
        return AddressRecord(street, number, letter, postcode, city, 15.04, 58.54)

    return [
        a("Storgatan", 14),
        a("Storgatan", 12, "B"),
        a("Storgatan", 12),
        a("Storgatan", 12, "", "79230", "Mora"),
        a("Storgatans torg", 12),
        a("Storgata", 12),
        a("Kungsgatan", 12),
    ]


def test_ranking_puts_exact_before_prefix_before_fuzzy():
    ranked = rank_candidates("Storgatan 12", _register())
    shown = [(r.candidate.display, r.match) for r in ranked]
    assert shown[:3] == [
        ("Storgatan 12, 591 30 Motala", "exact"),
        ("Storgatan 12, 792 30 Mora", "exact"),
        ("Storgatan 12 B, 591 30 Motala", "exact"),
    ]
    assert [m for _, m in shown].index("prefix") > [m for _, m in shown].index("exact")
    assert shown[-1] == ("Storgata 12, 591 30 Motala", "fuzzy")
    assert "Kungsgatan 12, 591 30 Motala" not in [d for d, _ in shown]
    assert ranked[0].exact_address and not ranked[2].exact_address


def test_ranking_follows_letter_and_town_typed():
    ranked = rank_candidates("storg. 12 b, Motala", _register())
    assert ranked[0].candidate.display == "Storgatan 12 B, 591 30 Motala"
    assert ranked[0].exact_address
    ranked = rank_candidates("Storgatan 12, 792 30 Mora", _register())
    assert ranked[0].candidate.display == "Storgatan 12, 792 30 Mora"
    assert [r.exact_address for r in ranked].count(True) == 1


def test_ranking_accepts_plain_dict_rows():
    rows = [{"street": "Vasagatan", "number": 3, "letter": "", "postcode": "79230", "city": "Mora"}]
    assert rank_candidates("Vasag. 3", rows)[0].exact_address


def test_misspelled_street_is_found_among_many():
    keys = [f"gata{i}vagen" for i in range(30_000)] + [
        street_key(s) for s in ("Storgatan", "Strandgatan", "Stortorget", "Kungsgatan")
    ]
    matcher = StreetMatcher(keys)
    assert len(matcher) == 30_004
    best = matcher.best("Storgtan")
    assert best[0][0] == "storgatan"
    assert best[0][1] > 90
    assert matcher.best("Prästgårdsvägen") == []
    assert matcher.with_prefix("Stor") == ["storgatan", "stortorget"]


def test_demo_register_reads_without_errors():
    result = read_addresses(data_path("demo_addresses.csv").read_bytes())
    assert len(result.records) == 2000
    assert result.errors == []
    assert all(len(r.postcode) == 5 and r.postcode.isdigit() for r in result.records)


def test_bad_csv_rows_are_reported_by_line_and_good_rows_kept():
    text = (
        "# a comment line\n"
        "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH\n"
        "15.04,58.54,12B,Storgatan,,Motala,,,591 30,a1,\n"
        "58.54,15.04,14,Storgatan,,Motala,,,59130,a2,\n"
        "15.04,58.54,12-14,Storgatan,,Motala,,,59130,a3,\n"
        "15.04,58.54,3,Storgatan,,Motala,,,5913,a4,\n"
        "east,58.54,3,Storgatan,,Motala,,,59130,a5,\n"
        "15.04,58.54,3,,,Motala,,,59130,a6,\n"
        "15.04,58.54,3,Storgatan\n"
        "2.35,48.85,1,Rue de Rivoli,,Paris,,,59130,a8,\n"
    )
    result = read_addresses(text.encode())
    assert [(r.street, r.number, r.letter, r.postcode) for r in result.records] == [
        ("Storgatan", 12, "B", "59130")
    ]
    assert [str(e) for e in result.errors] == [
        "line 4: coordinates look like lat/lon swapped",
        "line 5: house number '12-14' is not a number with an optional letter (12, 12B, 12 B)",
        "line 6: postcode '5913' is not five digits like 591 30",
        "line 7: LON 'east' is not a number",
        "line 8: STREET is empty",
        "line 9: has 4 fields but the header has 11",
        "line 10: position (2.35000, 48.85000) (lon, lat) lies outside Sweden",
    ]


def test_semicolon_csv_with_decimal_commas_from_excel():
    text = "LON;LAT;NUMBER;STREET;POSTCODE;CITY\n14,537;61,004;3 b;Vasagatan;792 30;Mora\n"
    record = read_addresses(text.encode("cp1252")).records[0]
    assert record.display == "Vasagatan 3 B, 792 30 Mora"
    assert (record.lon, record.lat) == (14.537, 61.004)


def test_csv_without_required_columns_is_refused():
    with pytest.raises(AddressImportError, match="the header lacks the column"):
        read_addresses(b"X,Y,NUMBER,STREET\n15,58,1,Storgatan\n")


def test_geojson_points_in_sweref_are_reprojected():
    to_3006 = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    x, y = to_3006.transform(14.537, 61.004)
    data = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3006"}},
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {
                    "gatunamn": "Vasagatan",
                    "adressplatsnummer": "3",
                    "bokstavstillagg": "A",
                    "postnummer": "79230",
                    "postort": "Mora",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": []},
                "properties": {},
            },
        ],
    }
    result = read_addresses(json.dumps(data).encode())
    record = result.records[0]
    assert record.display == "Vasagatan 3 A, 792 30 Mora"
    assert record.lon == pytest.approx(14.537, abs=1e-7)
    assert record.lat == pytest.approx(61.004, abs=1e-7)
    assert [str(e) for e in result.errors] == ["feature 1: geometry is LineString, not a Point"]


class _FakeNominatim(BaseHTTPRequestHandler):
    """Answers /search like Nominatim's jsonv2 format; /fail answers 500."""

    seen: list[tuple[str, dict[str, list[str]], str]] = []

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query)
        type(self).seen.append((url.path, params, self.headers.get("User-Agent", "")))
        if url.path.endswith("/search") and "fail" not in self.path:
            body = json.dumps(
                [
                    {
                        "place_id": 1,
                        "osm_type": "node",
                        "osm_id": 42,
                        "lat": "58.5371",
                        "lon": "15.0412",
                        "display_name": "12B, Storgatan, Motala, 591 30, Sverige",
                        "address": {
                            "house_number": "12B",
                            "road": "Storgatan",
                            "town": "Motala",
                            "postcode": "591 30",
                            "country_code": "se",
                        },
                    }
                ]
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(500)
            self.end_headers()

    def log_message(self, *args):
        """Keep test output quiet."""


def _serve():
    server = HTTPServer(("127.0.0.1", 0), _FakeNominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_nominatim_geocoder_asks_and_reads_a_local_server():
    server, base_url = _serve()
    try:
        geocoder = NominatimGeocoder(base_url, "varsla-tests/1.0", min_interval_s=0)
        results = geocoder.search("Storgatan 12B, Motala")
        path, params, user_agent = _FakeNominatim.seen[-1]
        assert path == "/search"
        assert params["q"] == ["Storgatan 12B, Motala"]
        assert params["countrycodes"] == ["se"]
        assert params["format"] == ["jsonv2"]
        assert user_agent == "varsla-tests/1.0"
        [result] = results
        assert (result.street, result.number, result.letter, result.postcode, result.city) == (
            "Storgatan",
            12,
            "B",
            "59130",
            "Motala",
        )
        assert (result.lon, result.lat) == (15.0412, 58.5371)
        with pytest.raises(GeocoderError, match="the geocoder answered HTTP 500"):
            NominatimGeocoder(base_url + "/fail", "varsla-tests/1.0", min_interval_s=0).search("x")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(GeocoderError, match="could not be reached"):
        NominatimGeocoder(base_url, "varsla-tests/1.0", timeout_s=1).search("Storgatan")


def test_nominatim_is_off_by_default_and_needs_a_user_agent():
    assert NominatimGeocoder.enabled_by_default is False
    with pytest.raises(ValueError, match="user_agent"):
        NominatimGeocoder("http://127.0.0.1:1", " ")
    with pytest.raises(ValueError, match="http or https"):
        NominatimGeocoder("file:///etc/passwd", "x")
