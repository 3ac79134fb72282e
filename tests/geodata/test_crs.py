"""CRS names as files write them, and transformations in lon/lat order."""

import numpy as np
import pytest
from pyproj import CRS

from geodata import crs


@pytest.mark.parametrize(
    "name",
    [
        "EPSG:3006",
        "urn:ogc:def:crs:EPSG::3006",
        "urn:ogc:def:crs:EPSG:6.3:3006",
        "http://www.opengis.net/def/crs/EPSG/0/3006",
    ],
)
def test_sweref_is_recognised_in_every_spelling(name):
    assert crs.parse_crs_name(name) == "EPSG:3006"


def test_crs84_and_missing_crs_mean_wgs84_lon_lat():
    assert crs.parse_crs_name("urn:ogc:def:crs:OGC:1.3:CRS84") == "EPSG:4326"
    assert crs.crs_from_geojson({"type": "FeatureCollection", "features": []}) == "EPSG:4326"


def test_unknown_crs_is_refused_with_its_name():
    with pytest.raises(crs.CRSError, match="unknown coordinate system 'EPSG:999999'"):
        crs.parse_crs_name("EPSG:999999")


def test_esri_prj_of_sweref_is_identified():
    wkt = CRS("EPSG:3006").to_wkt("WKT1_ESRI")
    assert crs.crs_from_wkt(wkt) == "EPSG:3006"


def test_transformers_are_cached_and_lon_lat_ordered():
    assert crs.get_transformer("EPSG:4326", "EPSG:3006") is crs.get_transformer(
        "EPSG:4326", "EPSG:3006"
    )
    easting, northing = crs.transform_xy(
        np.array([15.037]), np.array([58.537]), crs.WGS84, crs.SWEREF99_TM
    )
    # Motala: easting about 502 km, northing about 6 489 km in SWEREF 99 TM.
    assert 500_000 < easting[0] < 505_000
    assert 6_485_000 < northing[0] < 6_492_000


def test_swapped_lat_lon_is_named():
    problem = crs.check_lon_lat_plausible(np.array([58.537]), np.array([15.037]))
    assert problem is not None and problem.startswith("coordinates look like lat/lon swapped")


def test_swapped_easting_northing_is_named():
    problem = crs.check_source_coordinates(
        np.array([6_489_000.0]), np.array([502_000.0]), "EPSG:3006"
    )
    assert problem is not None and "easting/northing swapped" in problem
