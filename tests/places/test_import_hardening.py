"""Hostile or odd files given to `varsla zones|addresses|residents import`: one clear line each.

Before: a UTF-16 CSV (Excel's "Unicode text"), a field over 131,072 characters
and deeply nested GeoJSON ended in tracebacks; a 1 MB zip holding 1 GB of zeros
as `.shp` took 2.2 GB of memory; a header echoed in an error carried terminal
escape codes through.
"""

from __future__ import annotations

import codecs
import json
import tracemalloc
import zipfile

import pytest
from sqlalchemy import select

from alerts.models import Address, Subscriber, Zone
from alerts.places.register import import_addresses
from geodata.textfiles import CSV_FIELD_MAX, shown
from geodata.zones import MAX_SHAPEFILE_BYTES, ZoneImportError, read_zones
from tests.places.helpers import count, write

HEADER = "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID"
ROWS = [
    "15.0400,58.5320,12,Storgatan,,Motala,Motala,Östergötlands län,59130,t-1",
    "15.0402,58.5322,14,Storgatan,,Motala,Motala,Östergötlands län,59130,t-2",
]
ESCAPE = "\x1b]0;owned\x07\x1b[2J"
DEEP = "[" * 100_000 + "]" * 100_000
PRJ_SWEREF = (
    'PROJCS["SWEREF99_TM",GEOGCS["GCS_SWEREF99",DATUM["D_SWEREF99",SPHEROID["GRS_1980",'
    '6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",15.0],'
    'PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


def excel_unicode_text(lines: list[str]) -> bytes:
    """What Excel's "Save as Unicode text" writes: UTF-16 LE with a BOM, tab-separated."""
    text = "\r\n".join(line.replace(",", "\t") for line in lines) + "\r\n"
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def assert_one_clear_line(result, *words: str) -> str:
    """The command failed (or reported) without a traceback and without raw escapes."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "\x1b" not in result.output and "\x07" not in result.output
    for word in words:
        assert word in result.output, result.output
    return result.output


def test_addresses_in_excels_unicode_text_are_imported(runner, session, tmp_path):
    path = tmp_path / "register.txt"
    path.write_bytes(excel_unicode_text([HEADER, *ROWS]))
    result = runner.invoke(args=["addresses", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 addresses" in result.output
    streets = session.scalars(select(Address.street).order_by(Address.source_id)).all()
    assert streets == ["Storgatan", "Storgatan"]


def test_residents_in_excels_unicode_text_are_imported(runner, session, tmp_path):
    import_addresses(session, "\n".join([HEADER, *ROWS]).encode())
    session.commit()
    path = tmp_path / "customers.txt"
    path.write_bytes(
        excel_unicode_text(
            ["address,phone,email,language", '"Storgatan 12, 591 30 Motala",0701740605,,sv']
        )
    )
    result = runner.invoke(args=["residents", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert session.scalars(select(Subscriber.phone)).all() == ["+46701740605"]


def test_utf16_without_a_byte_order_mark_is_refused_in_one_line(runner, session, tmp_path):
    path = tmp_path / "register.csv"
    path.write_bytes("\n".join([HEADER, *ROWS]).encode("utf-16-le"))
    result = runner.invoke(args=["addresses", "import", str(path)])
    assert result.exit_code == 1
    assert_one_clear_line(result, "NUL", "UTF-8")
    assert count(session, Address) == 0


@pytest.mark.parametrize("command", ["addresses", "residents"])
def test_a_field_over_the_csv_limit_is_an_error_of_its_row(runner, session, tmp_path, command):
    if command == "addresses":
        lines = [
            HEADER,
            ROWS[0],
            f"15.04,58.53,3,{'x' * (CSV_FIELD_MAX + 1)},,Motala,,,59130,t",
            ROWS[1],
        ]
    else:
        import_addresses(session, "\n".join([HEADER, *ROWS]).encode())
        session.commit()
        lines = [
            "address,phone,email,language",
            '"Storgatan 12, 591 30 Motala",0701740605,,sv',
            f'"Storgatan 14, 591 30 Motala",0701740606,{"x" * (CSV_FIELD_MAX + 1)},sv',
            '"Storgatan 14, 591 30 Motala",0701740607,,sv',
        ]
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    result = runner.invoke(args=[command, "import", path])
    assert result.exit_code == 0, result.output
    output = assert_one_clear_line(
        result, f"line 3: cannot be read: has a field longer than {CSV_FIELD_MAX}"
    )
    assert "x" * 100 not in output
    imported = Address if command == "addresses" else Subscriber
    assert count(session, imported) == 2


@pytest.mark.parametrize("command", ["zones", "addresses"])
def test_deeply_nested_geojson_is_refused_in_one_line(runner, session, tmp_path, command):
    path = write(
        tmp_path, "deep.geojson", '{"type": "FeatureCollection", "features": ' + DEEP + "}"
    )
    result = runner.invoke(args=[command, "import", path])
    assert result.exit_code == 1
    assert_one_clear_line(result, "nests arrays or objects too deeply")


def test_a_number_too_long_to_read_is_refused_in_one_line(runner, session, tmp_path):
    path = write(
        tmp_path, "long.geojson", '{"type": "FeatureCollection", "features": [' + "9" * 5000 + "]}"
    )
    result = runner.invoke(args=["zones", "import", path])
    assert result.exit_code == 1
    assert_one_clear_line(result, "cannot be read as JSON", "4300 digits")


def _zip_bomb(path, uncompressed_bytes: int) -> None:
    """A zip whose .shp unpacks to ``uncompressed_bytes`` zeros, streamed (never in memory)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("zones.shp", "w", force_zip64=True) as shp:
            for _ in range(uncompressed_bytes // len(chunk)):
                shp.write(chunk)
        archive.writestr("zones.dbf", b"")
        archive.writestr("zones.prj", PRJ_SWEREF)


def test_a_zip_bomb_is_refused_by_its_declared_size_with_bounded_memory(runner, session, tmp_path):
    path = tmp_path / "bomb.zip"
    _zip_bomb(path, 1 << 30)
    assert path.stat().st_size < 8 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ZoneImportError) as refused:
            read_zones(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"peak {peak / 1e6:.0f} MB"
    assert f"at most {MAX_SHAPEFILE_BYTES / 1e6:,.0f} MB" in str(refused.value)
    result = runner.invoke(args=["zones", "import", str(path)])
    assert result.exit_code == 1
    assert_one_clear_line(result, "1,074 MB unpacked")
    assert count(session, Zone) == 0


def test_a_damaged_shapefile_is_refused_in_one_line(runner, session, tmp_path):
    path = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("zones.shp", b"\x00\x00\x27\x0a" + b"\xff" * 200)
        archive.writestr("zones.shx", b"\x01" * 10)
        archive.writestr("zones.dbf", b"\x03" + b"\xfe" * 60)
        archive.writestr("zones.prj", PRJ_SWEREF)
    result = runner.invoke(args=["zones", "import", str(path)])
    assert result.exit_code == 1
    assert_one_clear_line(result, "the shapefile cannot be read")


@pytest.mark.parametrize("command", ["addresses", "residents"])
def test_a_header_with_terminal_escapes_is_shown_escaped(runner, session, tmp_path, command):
    path = write(tmp_path, "evil.csv", f"name{ESCAPE},other\nx,y\n")
    result = runner.invoke(args=[command, "import", path])
    assert result.exit_code == 1
    output = assert_one_clear_line(result, "lacks the column")
    assert "\\x1b]0;owned\\x07" in output.lower()


def test_values_with_terminal_escapes_are_shown_escaped(runner, session, tmp_path):
    lines = [
        HEADER,
        f"15.04{ESCAPE},58.53,3,Storgatan,,Motala,,,59130,t",
        f"15.04,58.53,5,Stor{ESCAPE},,Motala,,,59130,u",
    ]
    result = runner.invoke(
        args=["addresses", "import", write(tmp_path, "evil.csv", "\n".join(lines))]
    )
    assert result.exit_code == 0, result.output
    output = assert_one_clear_line(result, "line 2", "line 3", "\\x1b")
    assert count(session, Address) == 0
    assert "owned" in output


def test_zone_names_that_no_feed_can_carry_are_refused(runner, session, tmp_path):
    ring = [[15.0, 58.5], [15.01, 58.5], [15.01, 58.51], [15.0, 58.51], [15.0, 58.5]]
    feature = {
        "type": "Feature",
        "properties": {"name": f"Motala\x0b{ESCAPE}"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path = write(
        tmp_path, "zones.geojson", json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    result = runner.invoke(args=["zones", "import", path])
    assert result.exit_code == 1
    assert_one_clear_line(result, "its name contains a control character", "U+000B")
    assert count(session, Zone) == 0


def test_shown_escapes_every_control_and_keeps_text():
    assert shown("Bergkarlås ✓") == "Bergkarlås ✓"
    assert shown("a\x1b[31mb\nc\u202ed\x9b") == "a\\x1b[31mb\\x0ac\\u202ed\\x9b"
    assert shown("x" * 500).endswith("…") and len(shown("x" * 500)) == 201
