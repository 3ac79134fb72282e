"""Recipients of an area: the tiled SQL prefilter gives exactly what testing every point gives."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping
from sqlalchemy import insert

from alerts.models import LegalBasis, Subscriber, SubscriberLocation, utcnow
from alerts.places.targeting import area_tiles, subscriber_ids_in_area
from geodata.matching import points_in_area_mask
from tests.conftest import running_app

RING = Polygon(
    [(14.50, 60.90), (14.62, 60.88), (14.66, 60.95), (14.58, 61.02), (14.49, 60.99)],
    holes=[[(14.55, 60.94), (14.58, 60.94), (14.58, 60.96), (14.55, 60.96)]],
)
AREAS = {
    "polygon with a hole": RING,
    "two parts": MultiPolygon([RING, box(14.70, 60.90, 14.72, 60.91)]),
    "circle": Point(14.6, 60.95).buffer(0.04, 64),
    "thin box": box(14.5, 60.95, 14.7, 60.950001),
}


@pytest.fixture(scope="module")
def points(database_url, tmp_path_factory):
    """20,000 subscribers, one location each; some exactly on vertices and edges. Written
    once for the module, whose tests only read them; the tables are emptied at its end."""
    from alerts.extensions import db

    rng = np.random.default_rng(11)
    lon = np.round(rng.uniform(14.45, 14.75, 20_000), 6)
    lat = np.round(rng.uniform(60.85, 61.05, 20_000), 6)
    on_boundary = [(14.50, 60.90), (14.55, 60.95), (14.62, 60.88), (14.70, 60.905), (14.6, 60.95)]
    for i, (x, y) in enumerate(on_boundary):
        lon[i], lat[i] = x, y
    now = utcnow()
    with running_app(database_url, tmp_path_factory.mktemp("targeting")):
        with db.sessionmaker() as session:
            _insert_points(session, lon, lat, now)
        yield lon, lat


@pytest.fixture
def session(points):
    """A session on the module's subscribers. (The suite's ``session`` comes with an app
    that empties every table after each test.)"""
    from alerts.extensions import db

    with db.sessionmaker() as session:
        yield session


def _insert_points(session, lon, lat, now) -> None:
    session.execute(
        insert(Subscriber.__table__),
        [
            {
                "id": i + 1,
                "phone": None,
                "email": f"p{i}@example.org",
                "language": "sv",
                "legal_basis": LegalBasis.CONSENT,
                "source": "test",
                "verified_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(lon.size)
        ],
    )
    session.execute(
        insert(SubscriberLocation.__table__),
        [
            {"subscriber_id": i + 1, "label": "", "lon": x, "lat": y, "created_at": now}
            for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True))
        ],
    )
    session.commit()


@pytest.mark.parametrize("name", list(AREAS))
def test_tiled_prefilter_finds_exactly_the_points_inside(session, points, name):
    lon, lat = points
    area = AREAS[name]
    expected = set((np.flatnonzero(points_in_area_mask(area, lon, lat)) + 1).tolist())
    assert expected
    assert subscriber_ids_in_area(session, mapping(area)) == expected


def test_points_on_the_boundary_count_as_inside(session, points):
    found = subscriber_ids_in_area(session, mapping(RING))
    assert {1, 2, 3} <= found  # two vertices and a corner of the hole
    assert subscriber_ids_in_area(session, mapping(box(14.69, 60.90, 14.70, 60.91))) >= {4}


def test_an_area_with_nobody_inside_is_empty(session, points):
    assert subscriber_ids_in_area(session, mapping(box(16.0, 58.0, 16.1, 58.1))) == set()


def test_tiles_split_into_covered_and_crossed_boxes():
    covered, crossed = area_tiles(RING, RING.bounds)
    assert covered and crossed
    assert all(RING.covers(box(*b)) for b in covered)
    assert all(RING.intersects(box(*b)) for b in crossed)
    assert len(covered) + len(crossed) < 64
