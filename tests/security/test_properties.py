"""Property tests (hypothesis): the parsers and validators of untrusted input hold for any input.

- geometry import (geodata.areas, geodata.geometry_checks, geodata.zones) raises only its
  own errors, whatever JSON it is given;
- address normalisation (geodata.address_text) reads back what it writes and never fails
  on free text;
- phone parsing (the register import's normaliser) gives E.164 or ValueError, idempotently;
- SMS segmenting (channels.gsm, channels.compose.sms): parts never exceed their limits, and
  GSM-7 is chosen exactly when every character is in the alphabet;
- text validation (alerts.text): accepted text is NFC and XML 1.0-safe; showable() output is
  always accepted by lxml and by clean_text.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree
from shapely.geometry import MultiPolygon, Polygon

from alerts.residents.register_import import normalise_phone
from alerts.text import clean_text, showable
from channels.base import NoticeText
from channels.compose.sms import MAX_SEGMENTS, compose_sms
from channels.gsm import (
    GSM7,
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_MULTI_UNITS,
    GSM7_SINGLE_UNITS,
    UCS2,
    UCS2_MULTI_UNITS,
    UCS2_SINGLE_UNITS,
    is_gsm7,
    max_units,
    sms_info,
)
from geodata.address_text import (
    format_address,
    normalise_postcode,
    parse_address_query,
    parse_house_number,
    street_key,
)
from geodata.areas import AreaError, build_area, parse_polygon_geojson
from geodata.geometry_checks import GeometryProblems, polygon_rings
from geodata.zones import ZoneImportError, read_zones
from tests.channels.conftest import create_snapshot

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- geometry ------------------------------------------------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=10, max_value=25),
    st.floats(min_value=54, max_value=70),
    st.integers(min_value=-(2**70), max_value=2**70),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)
positions = st.lists(numbers, min_size=0, max_size=3)
sweden_positions = st.tuples(st.floats(14.0, 14.2), st.floats(60.0, 60.2)).map(list)
rings = st.one_of(
    st.lists(positions, max_size=8),
    st.lists(sweden_positions, min_size=3, max_size=8).map(lambda r: [*r, r[0]]),
)
polygon_coordinates = st.lists(rings, max_size=3)
geometries = st.one_of(
    st.builds(
        lambda t, c: {"type": t, "coordinates": c},
        st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString"]),
        st.one_of(polygon_coordinates, st.lists(polygon_coordinates, max_size=3), json_values),
    ),
    json_values,
)


@PROPERTY
@given(geometries)
def test_a_drawn_area_is_a_polygon_or_an_area_error(geometry):
    try:
        result = parse_polygon_geojson(geometry, field="area.geometry")
    except AreaError as exc:
        assert exc.field.startswith("area.geometry") and exc.message
        return
    assert isinstance(result, Polygon | MultiPolygon) and result.is_valid and result.area > 0


@PROPERTY
@given(geometries)
def test_polygon_rings_raise_only_geometry_problems(geometry):
    try:
        polygon_rings(geometry)
    except GeometryProblems as exc:
        assert exc.problems


@PROPERTY
@given(st.tuples(numbers, numbers, numbers))
def test_a_circle_is_an_area_or_an_area_error(circle):
    try:
        area = build_area(circles=[circle])
    except AreaError as exc:
        assert exc.message
        return
    assert not area.is_empty and all(math.isfinite(v) for v in area.bounds)


@PROPERTY
@given(
    st.lists(
        st.fixed_dictionaries(
            {"type": st.just("Feature"), "properties": json_values, "geometry": geometries}
        ),
        max_size=3,
    )
)
def test_zone_import_raises_only_its_own_error(features):
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    try:
        result = read_zones(data)
    except ZoneImportError as exc:
        assert exc.problems
        return
    assert all(zone.geometry.is_valid for zone in result.zones)


@PROPERTY
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(b"PK\x03\x04".__add__)))
def test_zone_import_of_any_bytes_raises_only_its_own_error(data):
    with contextlib.suppress(ZoneImportError):
        read_zones(data)


# --- addresses -----------------------------------------------------------------------------

street_words = st.sampled_from(
    [
        "Storgatan",
        "Västra Storgatan",
        "Prästgårdsvägen",
        "Sankt Olofs gata",
        "Ågatan",
        "Östra Ringvägen",
    ]
)
cities = st.sampled_from(["Motala", "Mora", "Borensberg", "Sollerön", "Östra Ryd"])


@PROPERTY
@given(
    street_words,
    st.integers(1, 9999),
    st.sampled_from(["", "A", "b", "Ö"]),
    st.integers(10000, 99999).map(str),
    cities,
)
def test_a_formatted_address_parses_back(street, number, letter, postcode, city):
    query = parse_address_query(format_address(street, number, letter, postcode, city))
    assert query.street_key == street_key(street)
    assert (query.number, query.letter) == (number, letter.upper())
    assert query.postcode == postcode


@PROPERTY
@given(st.text(max_size=60))
def test_free_text_always_parses_and_keys_are_plain(text):
    query = parse_address_query(text)
    assert re.fullmatch("[a-z0-9]*", query.street_key)
    assert query.city_key is None or re.fullmatch("[a-z0-9]+", query.city_key)


@PROPERTY
@given(st.text(max_size=12))
def test_postcodes_and_house_numbers_are_read_or_refused(text):
    with contextlib.suppress(ValueError):
        assert re.fullmatch("[0-9]{5}", normalise_postcode(text))
    try:
        number, letter = parse_house_number(text)
        assert number is None or number >= 0
        assert letter == letter.upper() and len(letter) <= 1
    except ValueError:
        pass


# --- phones --------------------------------------------------------------------------------

separators = st.sampled_from(["", " ", "-", "  "])


@PROPERTY
@given(st.sampled_from("02369"), st.lists(st.integers(0, 9), min_size=7, max_size=7), separators)
def test_a_swedish_mobile_number_in_any_spelling_becomes_e164(second, digits, sep):
    rest = "".join(map(str, digits))
    e164 = normalise_phone(f"07{second}{sep}{rest[:3]}{sep}{rest[3:]}")
    assert e164 == f"+467{second}{rest}"
    assert normalise_phone(e164) == e164
    assert normalise_phone(f"+46 7{second}{sep}{rest}") == e164


@PROPERTY
@given(st.text(max_size=30))
def test_any_text_is_a_phone_number_or_a_value_error(text):
    try:
        e164 = normalise_phone(text)
    except ValueError:
        return
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", e164)
    assert normalise_phone(e164) == e164


# --- SMS -----------------------------------------------------------------------------------

gsm_text = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
any_text = st.text(max_size=700)


@PROPERTY
@given(st.one_of(gsm_text, any_text, st.text(alphabet="aé€😀–", max_size=400)))
def test_sms_parts_never_exceed_their_limits(text):
    info = sms_info(text)
    assert (info.encoding == GSM7) == is_gsm7(text)
    assert info.encoding in (GSM7, UCS2)
    single, multi = (
        (GSM7_SINGLE_UNITS, GSM7_MULTI_UNITS)
        if info.encoding == GSM7
        else (UCS2_SINGLE_UNITS, UCS2_MULTI_UNITS)
    )
    if info.segments == 1:
        assert info.length_units <= single
    else:
        assert info.length_units > single
        assert (info.segments - 1) * multi < info.length_units + multi  # no part wasted ...
        assert info.length_units <= info.segments * multi  # ... and none over its limit
    assert info.length_units <= max_units(info.encoding, info.segments)


accepted_text = st.text(min_size=1, max_size=600).filter(lambda t: _accepted(t) is not None)


def _accepted(text: str) -> str | None:
    try:
        return clean_text(text)
    except ValueError:
        return None


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(accepted_text, st.text(max_size=300).map(showable), st.text(max_size=300).map(showable))
def test_a_composed_sms_fits_in_its_parts(headline, description, instruction):
    headline = " ".join(headline.split()) or "Koka vattnet"
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(headline=headline, description=description, instruction=instruction)
        }
    )
    message = compose_sms(snapshot, "sv", link="https://v.example/n/1", reference="r")
    info = sms_info(message.body)
    assert info.segments <= MAX_SEGMENTS, (info, message.body)
    assert info.length_units <= max_units(info.encoding, MAX_SEGMENTS)
    assert (info.encoding == GSM7) == is_gsm7(message.body)
    assert message.body.endswith("https://v.example/n/1")


# --- text validation -----------------------------------------------------------------------

troublesome = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),
    st.text(alphabet="\x00\x0b\x1b\ufffe\uffff\ud800\udfff\u202e\u2066a\u0301e\t\n\r", max_size=20),
)


def _xml_roundtrip(text: str) -> str:
    element = etree.Element("headline")
    element.text = text  # lxml refuses (ValueError) what XML 1.0 cannot carry
    parsed = etree.fromstring(etree.tostring(element, encoding="utf-8"))
    return parsed.text or ""


@PROPERTY
@given(troublesome, st.booleans())
def test_accepted_text_is_nfc_and_xml_safe(text, multiline):
    try:
        cleaned = clean_text(text, multiline=multiline)
    except ValueError as exc:
        assert str(exc)
        return
    assert unicodedata.is_normalized("NFC", cleaned)
    assert _xml_roundtrip(cleaned) == cleaned  # lxml writes a CR as &#13;: kept exactly
    cleaned.encode("utf-8")  # no lone surrogates


@PROPERTY
@given(troublesome)
def test_showable_text_is_always_accepted(text):
    shown = showable(text)
    _xml_roundtrip(shown)
    assert clean_text(shown) == unicodedata.normalize("NFC", shown)
    assume(shown)
