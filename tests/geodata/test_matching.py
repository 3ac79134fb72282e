"""Point-in-area matching: boundary inclusive, vectorised, zones by point."""

import numpy as np
import pytest
import shapely

from geodata.addresses import read_addresses
from geodata.demo import data_path, load_demo_zones
from geodata.matching import ZoneIndex, points_in_area_mask, zones_containing


def test_points_on_the_boundary_count_as_inside():
    area = shapely.box(15.0, 58.5, 15.1, 58.6)
    lon = np.array([15.05, 15.0, 15.1, 15.05, 15.0, 15.1, 14.9999, 15.05])
    lat = np.array([58.55, 58.5, 58.6, 58.5, 58.55, 58.55, 58.55, 58.6000001])
    assert points_in_area_mask(area, lon, lat).tolist() == [
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_points_on_a_drawn_polygons_vertices_count():
    area = shapely.Polygon([(15.0, 58.5), (15.2, 58.5), (15.1, 58.7), (15.0, 58.5)])
    coords = np.asarray(area.exterior.coords)
    assert points_in_area_mask(area, coords[:, 0], coords[:, 1]).all()


def test_empty_and_mismatched_inputs():
    area = shapely.box(15.0, 58.5, 15.1, 58.6)
    assert points_in_area_mask(area, np.array([]), np.array([])).shape == (0,)
    with pytest.raises(ValueError, match="differ in shape"):
        points_in_area_mask(area, np.zeros(3), np.zeros(2))


def test_demo_addresses_fall_in_their_zones():
    records = read_addresses(data_path("demo_addresses.csv").read_bytes()).records
    lon = np.array([r.lon for r in records])
    lat = np.array([r.lat for r in records])
    zones = {z.slug: z.geometry for z in load_demo_zones()}
    index = ZoneIndex(zones)
    point_index, zone_index = index.query_points(lon, lat)
    for slug, geometry in zones.items():
        mask = points_in_area_mask(geometry, lon, lat)
        from_index = np.zeros(len(records), dtype=bool)
        from_index[point_index[zone_index == index.slugs.index(slug)]] = True
        assert (mask == from_index).all(), slug
    first_in_gesunda = int(np.flatnonzero(points_in_area_mask(zones["gesunda"], lon, lat))[0])
    assert zones_containing(lon[first_in_gesunda], lat[first_in_gesunda], zones) == [
        "mora",
        "gesunda",
    ]
