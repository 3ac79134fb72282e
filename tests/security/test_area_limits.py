"""Areas and times at their limits are refused with 422 naming the field, never 500.

Before: a million-vertex polygon was accepted after 36 s; a circle centre given
as [lat, lon] and times at the calendar's edges (year 1 at +14:00, 9999 at
-12:00) ended in 500; year 1 and 9999 were stored as they were.
"""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from alerts.models import Notice
from geodata.areas import MAX_DRAWN_PARTS, MAX_DRAWN_POSITIONS
from tests.factories import api_headers, create_operator, create_zone, notice_payload

#: Motala's surroundings, (min_lon, min_lat, max_lon, max_lat).
MOTALA_BOX = (14.90, 58.45, 15.25, 58.65)


@pytest.fixture
def author(session):
    create_zone(session)
    headers = api_headers(session, create_operator(session, "author", "author@test.varsla.se"))
    session.commit()
    return headers


def _refused(client, headers, body, field: str, words: str) -> dict:
    response = client.post("/api/v1/notices", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in messages, problem
    assert words in messages[field], problem
    return problem


def _ring(n: int, lon: float = 14.58, lat: float = 60.88, radius: float = 0.005) -> list:
    points = [
        [lon + radius * math.cos(2 * math.pi * i / n), lat + radius * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]
    return [*points, points[0]]


def _drawn(geometry: dict) -> dict:
    return notice_payload(area={"geometry": geometry})


def test_a_drawn_polygon_over_the_vertex_limit_is_refused(client, session, author):
    body = _drawn({"type": "Polygon", "coordinates": [_ring(MAX_DRAWN_POSITIONS)]})
    problem = _refused(client, author, body, "area.geometry", f"at most {MAX_DRAWN_POSITIONS}")
    assert f"{MAX_DRAWN_POSITIONS + 1} positions" in problem["detail"]
    assert session.scalar(select(func.count()).select_from(Notice)) == 0


def test_a_drawn_polygon_under_the_limits_is_accepted(client, author):
    body = _drawn({"type": "Polygon", "coordinates": [_ring(2_000)]})
    assert client.post("/api/v1/notices", json=body, headers=author).status_code == 201


def test_a_multipolygon_over_the_part_limit_is_refused(client, author):
    parts = [[_ring(4, lon=14.0 + i * 0.02, radius=0.005)] for i in range(MAX_DRAWN_PARTS + 1)]
    body = _drawn({"type": "MultiPolygon", "coordinates": parts})
    _refused(client, author, body, "area.geometry", f"at most {MAX_DRAWN_PARTS}")


@pytest.mark.parametrize(
    ("coordinates", "words"),
    [
        ([[[14.5, 60.9], [14.6, 60.9], [14.7, 60.9], [14.5, 60.9]]], "no area"),
        ([[[14.5, 60.9], [14.6, 61.0], [14.6, 60.9], [14.5, 61.0], [14.5, 60.9]]], "crosses"),
    ],
    ids=["zero area", "self-intersecting"],
)
def test_degenerate_drawn_polygons_are_refused_naming_the_field(client, author, coordinates, words):
    body = _drawn({"type": "Polygon", "coordinates": coordinates})
    _refused(client, author, body, "area.geometry.coordinates", words)


def test_a_circle_centre_given_as_lat_lon_is_refused_by_the_zones_extent(client, session, author):
    create_zone(session, slug="motala", name="Motala", bounds=MOTALA_BOX)
    session.commit()
    body = notice_payload(area={"circle": {"center": [58.54, 15.04], "radius_m": 800}})
    problem = _refused(client, author, body, "area.circle.center", "order is [lon, lat]")
    assert "[15.04, 58.54]" in problem["detail"]
    right = notice_payload(area={"circle": {"center": [15.04, 58.54], "radius_m": 800}})
    assert client.post("/api/v1/notices", json=right, headers=author).status_code == 201


def test_a_circle_far_from_every_zone_is_refused_naming_the_centre(client, author):
    body = notice_payload(area={"circle": {"center": [2.35, 48.85], "radius_m": 800}})
    _refused(client, author, body, "area.circle.center", "outside Sweden")


@pytest.mark.parametrize(
    ("center", "words"),
    [([15.04, 158.54], "order is [lon, lat]"), ([200.0, 95.0], "longitude -180..180")],
    ids=["swapped out of range", "nowhere"],
)
def test_without_zones_a_circle_centre_gets_range_checks(client, session, author, center, words):
    body = notice_payload(area={"circle": {"center": center, "radius_m": 800}})
    _refused(client, author, body, "area.circle.center", words)


EDGES = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-12:00",
]


@pytest.mark.parametrize("moment", EDGES)
@pytest.mark.parametrize("field", ["onset", "expires"])
def test_times_at_the_calendars_edges_are_422(client, session, author, field, moment):
    _refused(client, author, notice_payload(**{field: moment}), field, "must lie between")
    assert session.scalar(select(func.count()).select_from(Notice)) == 0


@pytest.mark.parametrize("moment", EDGES)
def test_publishing_at_the_calendars_edges_is_422(client, session, moment):
    from tests.delivery import Desk

    desk = Desk(session)
    headers = api_headers(session, desk.approver)
    session.commit()
    notice = desk.approved()
    response = client.post(
        f"/api/v1/notices/{notice.id}/publish", json={"at": moment}, headers=headers
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["field"] == "at"
    session.refresh(notice)
    assert notice.status.value == "approved"
