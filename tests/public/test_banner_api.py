"""``/api/v1/active``, the ``/banner`` iframe fragment and ``banner.js``.

An unknown zone is a 404 (problem+json for the API), not an empty list: a typo
in ``data-zone`` should be visible, not silently show nothing.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta

import pytest

from alerts.public.responses import ActiveNotice, ActiveNotices
from channels.banner import active_json, active_payload
from tests.channels.snapshots import cancel, make_snapshot, revise
from tests.public.conftest import BERGKARLAS_TEXTS

GESUNDA_POINT = {"lat": "60.884", "lon": "14.58"}
BERGKARLAS_POINT = {"lat": "60.93", "lon": "14.40"}
ELSEWHERE = {"lat": "59.33", "lon": "18.07"}  # Stockholm


def active(client, **params):
    response = client.get("/api/v1/active", query_string=params)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    return response


def headlines(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [item["headline"] for item in response.get_json()["items"]]


def test_active_by_zone_and_by_point(client, newsroom):
    newsroom.publish()
    newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]}, severity="Moderate")
    assert headlines(active(client, zone="gesunda")) == ["Koka vattnet i Gesunda"]
    assert headlines(active(client, zone="bergkarlas")) == ["Vattenavstängning i Bergkarlås"]
    assert headlines(active(client, **GESUNDA_POINT)) == ["Koka vattnet i Gesunda"]
    assert headlines(active(client, **BERGKARLAS_POINT, lang="en")) == [
        "Water shut-off in Bergkarlås"
    ]
    assert headlines(active(client, **ELSEWHERE)) == []
    # Without a place: every active notice, most severe first.
    assert headlines(active(client)) == [
        "Koka vattnet i Gesunda",
        "Vattenavstängning i Bergkarlås",
    ]
    response = active(client, zone="gesunda")
    assert response.content_type == "application/json; charset=utf-8"
    payload = response.get_json()
    assert payload["alert"] is True
    (item,) = payload["items"]
    assert item["severity_label"] == "Allvarligt"
    assert item["url"].startswith("http://varsla.test/notices/")


def test_ended_and_unpublished_notices_are_not_active(client, newsroom):
    ended = newsroom.publish()
    newsroom.all_clear(ended)
    newsroom.draft()
    newsroom.schedule()
    assert headlines(active(client, zone="gesunda")) == []


def test_bad_places_are_clear_errors_with_cors(client, newsroom):
    unknown = active(client, zone="atlantis")
    assert unknown.status_code == 404
    assert unknown.mimetype == "application/problem+json"
    assert active(client, lat="sixty", lon="14").status_code == 400
    assert active(client, lat="60.9").status_code == 400
    assert active(client, lat="91", lon="14").status_code == 400


def test_active_json_answers_304_to_a_repeat(client, newsroom):
    newsroom.publish()
    first = active(client, zone="gesunda")
    repeat = client.get(
        "/api/v1/active?zone=gesunda", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert repeat.status_code == 304


def test_banner_fragment_for_an_iframe(client, newsroom):
    newsroom.publish()
    newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
    response = client.get("/banner?zone=gesunda")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "Koka vattnet i Gesunda" in body
    assert "Bergkarlås" not in body
    assert 'role="alert"' in body
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "script-src" not in csp  # no script at all
    assert "X-Frame-Options" not in response.headers
    assert "Set-Cookie" not in response.headers
    english = client.get("/banner", query_string={**BERGKARLAS_POINT, "lang": "en"})
    assert "Water shut-off in Bergkarlås" in english.get_data(as_text=True)
    assert client.get("/banner?zone=atlantis").status_code == 404


def test_banner_script_is_served_to_any_site(client):
    response = client.get("/banner.js")
    assert response.status_code == 200
    assert response.content_type == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert b"attachShadow" in response.data
    assert "Set-Cookie" not in response.headers
    again = client.get("/banner.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_if_modified_since_alone_sees_a_notice_leave(client, newsroom):
    import time

    newsroom.publish()
    later = newsroom.publish(severity="Extreme")
    first = active(client, zone="gesunda")
    assert len(first.get_json()["items"]) == 2
    time.sleep(1.1)  # Last-Modified has whole seconds
    newsroom.all_clear(later)
    # The newest remaining notice is older than the validator, yet the list changed.
    again = client.get(
        "/api/v1/active?zone=gesunda",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status_code == 200
    assert len(again.get_json()["items"]) == 1


@pytest.mark.parametrize("lang", ["sv", "en", "en-GB", "de"])
def test_the_documented_model_mirrors_the_banner_payload(lang):
    """The channel renders /active's bytes; the model that documents them must say the same:
    every field, no more, and the same values once dumped (every status, both languages)."""
    first = make_snapshot()
    promising = dataclasses.replace(
        make_snapshot(notice_id=uuid.uuid4()),
        next_update=first.sent + timedelta(hours=2),
        expected_restoration=first.sent + timedelta(hours=5),
    )
    snapshots = [
        first,
        promising,
        revise(make_snapshot(notice_id=uuid.uuid4(), severity="Minor", category="roads")),
        cancel(make_snapshot(notice_id=uuid.uuid4())),
        make_snapshot(notice_id=uuid.uuid4(), status="expired"),
    ]
    payload = active_payload(snapshots, lang, base_url="http://varsla.test")
    assert {item["status"] for item in payload["items"]} == {
        "active",
        "updated",
        "all_clear",
        "expired",
    }
    assert set(payload) == set(ActiveNotices.model_fields)
    for item in payload["items"]:
        # The promised times are there when the revision promises them, else absent.
        optional = (
            ActiveNotice.OMITTED_WHEN_NONE if item["id"] != str(promising.notice_id) else set()
        )
        assert (
            set(ActiveNotice.model_fields) - optional <= set(item) <= set(ActiveNotice.model_fields)
        )
    assert ActiveNotices.model_validate(payload).to_json() == payload
    body = active_json(snapshots, lang, base_url="http://varsla.test")
    assert ActiveNotices.model_validate_json(body).to_json() == json.loads(body)
