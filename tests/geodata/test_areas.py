"""Notice areas: circles in true metres, unions, clear refusals, simplification for transport."""

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from geodata.areas import (
    AreaError,
    area_bbox_lon_lat,
    area_m2,
    as_coordinate_pairs_lat_lon,
    build_area,
    cap_polygon_strings,
    count_points,
    parse_polygon_geojson,
    simplify_for_transport,
)
from geodata.zones import read_zones
from tests.geodata.helpers import (
    MORA_CENTRE_LON_LAT,
    MOTALA_CENTRE_LON_LAT,
    MUNICIPALITIES_PATH,
    square,
)


@pytest.mark.parametrize(
    "centre_lon_lat", [MOTALA_CENTRE_LON_LAT, MORA_CENTRE_LON_LAT, (23.9, 65.8)]
)
def test_circle_of_800_m_has_the_area_of_a_circle(centre_lon_lat):
    area = build_area(circles=[(*centre_lon_lat, 800)])
    assert area_m2(area) == pytest.approx(math.pi * 800**2, rel=0.01)
    lon, lat = centre_lon_lat
    assert area.covers(Point(lon, lat))
    # 790 m north is inside, 810 m north is outside (1° of latitude ≈ 111.3 km).
    assert area.covers(Point(lon, lat + 790 / 111_320))
    assert not area.covers(Point(lon, lat + 810 / 111_320))


def test_union_of_zone_polygon_and_circle():
    zone = shapely.box(15.00, 58.50, 15.02, 58.52)
    drawn = square(15.05, 58.50, 0.01)
    area = build_area([zone], drawn, [(15.10, 58.55, 500)])
    assert isinstance(area, MultiPolygon)
    assert len(area.geoms) == 3
    for inside in [(15.01, 58.51), (15.055, 58.505), (15.10, 58.55)]:
        assert area.covers(Point(inside))
    assert not area.covers(Point(15.03, 58.51))
    expected = area_m2(zone) + area_m2(Polygon(drawn["coordinates"][0])) + math.pi * 500**2
    assert area_m2(area) == pytest.approx(expected, rel=0.005)


def test_overlapping_parts_merge_into_one():
    zone = shapely.box(15.00, 58.50, 15.02, 58.52)
    area = build_area([zone], None, [(15.02, 58.51, 800)])
    assert len(area.geoms) == 1
    assert area_m2(area) < area_m2(zone) + math.pi * 800**2


def test_an_empty_area_is_refused():
    with pytest.raises(AreaError) as info:
        build_area([], None, [])
    assert info.value.field == "area"
    assert info.value.message == (
        "the area is empty: choose at least one zone, draw a polygon or give a circle"
    )


def test_bad_circles_are_refused():
    with pytest.raises(AreaError) as info:
        build_area(circles=[(15.0, 58.5, 0)])
    assert (info.value.field, info.value.message) == (
        "circles[0].radius_m",
        "the radius must be between 1 m and 100 km, not 0 m",
    )
    with pytest.raises(AreaError, match="lat/lon swapped"):
        build_area(circles=[(58.5, 15.0, 800)])


def test_drawn_polygon_is_parsed():
    polygon = parse_polygon_geojson(square())
    assert isinstance(polygon, Polygon)
    assert polygon.covers(Point(15.005, 58.505))
    feature = {"type": "Feature", "properties": {}, "geometry": square()}
    assert parse_polygon_geojson(feature).equals(polygon)


def refusal(obj, **kwargs) -> tuple[str, str]:
    """Parse expecting a refusal; return (field, message)."""
    with pytest.raises(AreaError) as info:
        parse_polygon_geojson(obj, **kwargs)
    return info.value.field, info.value.message


def test_drawn_point_is_refused():
    assert refusal({"type": "Point", "coordinates": [15, 58]}) == (
        "type",
        "geometry is a Point; an area must be a Polygon or MultiPolygon",
    )


def test_drawn_polygon_with_invalid_json_is_refused():
    assert refusal('{"type": "Polygon", ', field="geometry")[0] == "geometry"


def test_unclosed_drawn_polygon_is_refused():
    geometry = square()
    geometry["coordinates"][0].pop()
    field, message = refusal(geometry)
    assert field == "coordinates"
    assert message.startswith("the outer ring is not closed")


def test_drawn_polygon_with_too_few_points_is_refused():
    geometry = {"type": "Polygon", "coordinates": [[[15, 58], [15.1, 58], [15, 58]]]}
    assert refusal(geometry) == (
        "coordinates",
        "the outer ring has only 3 positions; a ring needs at least 4 "
        "(three corners and the first position repeated at the end)",
    )


def strip(width_m: float, length_m: float = 300.0, lon: float = 15.0, lat: float = 58.5):
    """A drawn rectangle ``width_m`` north-south by ``length_m`` east-west."""
    dlat = width_m / 111_320
    dlon = length_m / (111_320 * math.cos(math.radians(lat)))
    ring = [[lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_drawn_polygon_on_a_line_is_refused():
    line = {
        "type": "Polygon",
        "coordinates": [[[15, 58.5], [15.01, 58.5], [15.02, 58.5], [15, 58.5]]],
    }
    assert refusal(line) == ("coordinates", "the polygon has no area: its points lie on a line")


def test_drawn_sliver_is_refused_with_its_width():
    # 300 m long and half a metre wide: a boundary drawn back along itself.
    field, message = refusal(strip(0.5), field="area.geometry")
    assert field == "area.geometry.coordinates"
    assert message == (
        "the polygon is 0.5 m wide on average (at least 2 m): its points lie almost on a line"
    )
    sliver = strip(0.5, lon=15.1)["coordinates"]
    parts = {"type": "MultiPolygon", "coordinates": [square()["coordinates"], sliver]}
    assert refusal(parts)[1].startswith("part 2 is 0.5 m wide on average")


def test_drawn_street_strip_is_accepted():
    # The houses along one side of a street: 20 m by 300 m, some 6,000 m².
    polygon = parse_polygon_geojson(strip(20))
    assert area_m2(polygon) == pytest.approx(6_000, rel=0.01)


def test_self_intersecting_drawn_polygon_is_refused_with_where():
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[15.0, 58.5], [15.02, 58.52], [15.02, 58.5], [15.0, 58.52], [15.0, 58.5]]],
    }
    assert refusal(bow_tie, field="area.geometry") == (
        "area.geometry.coordinates",
        "the boundary crosses itself near (15.010000, 58.510000) (lon, lat); "
        "redraw the polygon so that its edges do not cross",
    )


def test_out_of_range_coordinates_are_refused():
    field, message = refusal(square(200.0, 58.5))
    assert field == "coordinates"
    assert message.startswith("coordinates (200, 58.5) are out of range")


def test_swapped_lat_lon_for_sweden_is_refused():
    geometry = square()
    geometry["coordinates"][0] = [[lat, lon] for lon, lat in geometry["coordinates"][0]]
    field, message = refusal(geometry)
    assert field == "coordinates"
    assert message.startswith("coordinates look like lat/lon swapped")


def test_drawn_polygon_with_a_hole_outside_is_refused():
    geometry = square()
    geometry["coordinates"].append(square(15.5, 58.5, 0.001)["coordinates"][0])
    assert refusal(geometry)[1].startswith("a hole lies outside its outer ring near")


def _large_area():
    zones = read_zones(MUNICIPALITIES_PATH, slug_property="id").zones
    return build_area([z.geometry for z in zones if z.properties["lan_code"] in ("05", "20")])


def test_simplification_stays_under_250_points_and_keeps_the_area():
    area = _large_area()  # Östergötland and Dalarna: about 900 points, with holes and islands
    assert count_points(area) > 500
    rng = np.random.default_rng(7)
    min_lon, min_lat, max_lon, max_lat = area_bbox_lon_lat(area)
    lon = rng.uniform(min_lon, max_lon, 20_000)
    lat = rng.uniform(min_lat, max_lat, 20_000)
    # Include points on the boundary itself: they count as inside.
    boundary = np.asarray(area.geoms[0].exterior.coords)
    points = np.vstack([np.column_stack([lon, lat]), boundary])
    simplified = simplify_for_transport(area, must_contain_lon_lat=points)
    assert count_points(simplified) <= 250
    assert simplified.covers(area)
    inside = shapely.intersects_xy(area, points[:, 0], points[:, 1])
    assert shapely.intersects_xy(simplified, points[inside, 0], points[inside, 1]).all()
    assert area_m2(simplified) < 1.25 * area_m2(area)


def test_simplification_fills_holes_and_keeps_small_areas():
    with_hole = Polygon(
        shapely.box(15.0, 58.5, 15.1, 58.6).exterior.coords,
        [shapely.box(15.04, 58.54, 15.06, 58.56).exterior.coords],
    )
    simplified = simplify_for_transport(with_hole)
    assert count_points(simplified) == 5
    assert simplified.covers(Point(15.05, 58.55))
    assert simplified.equals(MultiPolygon([shapely.box(15.0, 58.5, 15.1, 58.6)]))


def test_coordinate_pairs_for_cap_are_lat_first_and_closed():
    area = build_area([shapely.box(15.0, 58.5, 15.1, 58.6)])
    [ring] = as_coordinate_pairs_lat_lon(area)
    assert ring[0] == ring[-1]
    assert {pair for pair in ring} == {(58.5, 15.0), (58.5, 15.1), (58.6, 15.1), (58.6, 15.0)}
    [text] = cap_polygon_strings(area)
    assert "58.500000,15.000000" in text.split(" ")


def test_bbox_is_lon_lat_order():
    assert area_bbox_lon_lat(shapely.box(15.0, 58.5, 15.1, 58.6)) == (15.0, 58.5, 15.1, 58.6)
