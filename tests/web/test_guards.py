"""Requests no view should have to handle are refused before any view runs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from alerts.models import Notice, NoticeRevision
from alerts.web.guards import MAX_JSON_DEPTH, json_depth
from tests.factories import api_headers, create_operator, create_zone, notice_payload


@pytest.fixture
def author(session):
    create_zone(session)
    headers = api_headers(session, create_operator(session, "author", "author@test.varsla.se"))
    session.commit()
    return headers


def test_json_depth_counts_brackets_outside_strings():
    assert json_depth(b'{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth(b'"just a string"') == 0
    assert json_depth(b'{"a": "\\"[["}') == 1


def test_deeply_nested_json_is_400_not_500(client, session, author):
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/api/v1/notices", data=deep, headers={**author, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"
    assert f"deeper than {MAX_JSON_DEPTH}" in response.get_json()["detail"]
    nested = notice_payload(template_values={"place": "x"})
    nested["area"]["geometry"] = json.loads("[" * 40 + "]" * 40)
    assert client.post("/api/v1/notices", json=nested, headers=author).status_code == 400
    assert session.scalar(select(func.count()).select_from(Notice)) == 0


def test_an_oversize_body_is_413_before_it_is_read(client, session, author):
    ring = [[14.5 + i * 1e-6, 60.9] for i in range(200_000)]
    body = notice_payload(area={"geometry": {"type": "Polygon", "coordinates": [ring]}})
    response = client.post("/api/v1/notices", json=body, headers=author)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert session.scalar(select(func.count()).select_from(Notice)) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/addresses?q=Storgatan%00",
        "/api/v1/notices?cursor=%00",
        "/feeds/zones/ges%00unda.rss",
        "/api/v1/active?zone=%00",
        "/notices/%00",
    ],
)
def test_nul_anywhere_in_the_url_is_400(client, author, path):
    response = client.get(path, headers=author)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


def test_nul_in_a_form_field_is_400(client):
    response = client.post("/console/login", data={"email": "a\x00@b.se", "password": "x"})
    assert response.status_code == 400


def test_a_stored_control_character_cannot_take_the_feeds_down(client, session, author):
    """Text written before the edge checked it (here, straight into the database) is
    shown without the character, and every feed and CAP document still parses."""
    from lxml import etree

    approver = api_headers(session, create_operator(session, "approver", "ok@test.varsla.se"))
    session.commit()
    nid = client.post("/api/v1/notices", json=notice_payload(), headers=author).get_json()["id"]
    client.post(f"/api/v1/notices/{nid}/submit", json={}, headers=author)
    client.post(f"/api/v1/notices/{nid}/approve", json={}, headers=approver)
    assert (
        client.post(f"/api/v1/notices/{nid}/publish", json={}, headers=approver).status_code == 200
    )
    texts = {"sv": {"headline": "Koka\x0bvattnet\ufffe nu", "description": "", "instruction": ""}}
    session.execute(update(NoticeRevision).values(texts=texts))
    session.commit()
    for path in ("/feeds/notices.rss", "/feeds/notices.atom", "/feeds/cap.atom", f"/cap/{nid}.xml"):
        response = client.get(path)
        assert response.status_code == 200, path
        root = etree.fromstring(response.get_data())
        assert "Kokavattnet nu" in etree.tostring(root, encoding="unicode"), path
    assert "Kokavattnet nu" in client.get(f"/notices/{nid}").get_data(as_text=True)


def test_limits_are_said_not_clamped(client, author):
    for limit in ("501", "0", "-1", "many"):
        response = client.get(f"/api/v1/notices?limit={limit}", headers=author)
        assert response.status_code == 422, limit
        assert response.get_json()["field"] == "limit"
    assert client.get("/api/v1/notices?limit=500", headers=author).status_code == 200


def test_a_forged_cursor_is_422_not_500(client, author):
    import base64

    for offset in (2**63, -1, "x", True):
        cursor = base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()
        response = client.get(f"/api/v1/notices?cursor={cursor}", headers=author)
        assert response.status_code == 422, offset
        assert response.get_json()["field"] == "cursor"


def test_a_revision_that_is_not_a_number_is_422(client, author):
    nid = client.post("/api/v1/notices", json=notice_payload(), headers=author).get_json()["id"]
    for junk in ("junk", "-1", "1.5", "99999999999"):
        response = client.get(f"/api/v1/notices/{nid}/sms-preview?revision={junk}", headers=author)
        assert response.status_code == 422, junk
        assert response.get_json()["field"] == "revision"
    ok = client.get(f"/api/v1/notices/{nid}/sms-preview?revision=1", headers=author)
    assert ok.status_code == 200


def test_the_database_file_and_the_secret_key_are_private_from_the_start(tmp_path):
    import stat

    from alerts.config import _instance_secret
    from alerts.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'varsla.sqlite3'}")
    with engine.connect():
        pass
    engine.dispose()
    assert stat.S_IMODE((tmp_path / "data" / "varsla.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    secret = _instance_secret(tmp_path / "instance")
    assert len(secret) > 40 and _instance_secret(tmp_path / "instance") == secret
    assert stat.S_IMODE((tmp_path / "instance" / "secret_key").stat().st_mode) == 0o600


def test_notice_lists_stay_small_and_refuse_filters_they_do_not_know(client, author):
    ring = [[14.56 + i * 1e-5, 60.87 + (i % 2) * 1e-3] for i in range(4000)]
    ring.append(ring[0])
    drawn = notice_payload(area={"geometry": {"type": "Polygon", "coordinates": [ring]}})
    created = client.post("/api/v1/notices", json=drawn, headers=author)
    assert created.status_code in (201, 422), created.get_json()
    nid = client.post("/api/v1/notices", json=notice_payload(), headers=author).get_json()["id"]
    listed = client.get("/api/v1/notices", headers=author).get_json()["items"]
    assert nid in [n["id"] for n in listed]
    for item in listed:
        assert "area_geometry" not in item and "revisions" not in item
        assert item["headlines"]["sv"] and item["links"]["self"].endswith(item["id"])
    assert len(json.dumps(listed)) < 2000 * len(listed)
    typo = client.get("/api/v1/notices?stauts=draft", headers=author)
    assert typo.status_code == 422 and typo.get_json()["field"] == "stauts"
    junk = client.get("/api/v1/notices?status=junk", headers=author)
    assert junk.status_code == 422 and junk.get_json()["field"] == "status"
    both = client.get("/api/v1/notices?status=draft&status=active", headers=author).get_json()
    assert nid in [n["id"] for n in both["items"]]
