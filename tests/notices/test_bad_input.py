"""Bad requests get 400/422 naming the field, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.models import AuditEvent, Notice
from tests.factories import api_headers, create_operator, create_zone, notice_payload


@pytest.fixture
def author(session):
    create_zone(session)
    headers = api_headers(session, create_operator(session, "author", "author@test.varsla.se"))
    session.commit()
    return headers


def _nothing_written(session) -> bool:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Notice)) == 0
        and session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    )


def _long(n: int) -> str:
    return "Koka vattnet " * (n // 13 + 1)


CASES = [
    ("unknown field", notice_payload(colour="red"), 422, "colour", "unknown field"),
    (
        "unknown nested field",
        notice_payload(area={"zones": ["gesunda"], "radius": 3}),
        422,
        "area.radius",
        "unknown field",
    ),
    ("wrong severity", notice_payload(severity="Catastrophic"), 422, "severity", "Extreme"),
    ("wrong category", notice_payload(category="weather"), 422, "category", "water"),
    ("wrong channel", notice_payload(channels=["sms", "fax"]), 422, "channels.1", "sms"),
    (
        "expiry before onset",
        notice_payload(onset="2030-01-02T10:00:00+01:00", expires="2030-01-02T09:00:00+01:00"),
        422,
        "expires",
        "after onset",
    ),
    (
        "expiry in the past",
        notice_payload(expires="2020-01-01T00:00:00+00:00"),
        422,
        "expires",
        "future",
    ),
    ("naive time", notice_payload(onset="2030-01-02T10:00:00"), 422, "onset", "timezone"),
    (
        "over-long headline",
        notice_payload(texts={"sv": {"headline": _long(200)}}),
        422,
        "texts.sv.headline",
        "160",
    ),
    (
        "missing Swedish",
        notice_payload(texts={"en": {"headline": "Boil water"}}),
        422,
        "texts.sv",
        "required",
    ),
    (
        "unsupported language",
        notice_payload(texts={"sv": {"headline": "a"}, "de": {"headline": "b"}}),
        422,
        "texts.de",
        "sv",
    ),
    (
        "empty headline",
        notice_payload(texts={"sv": {"headline": " "}}),
        422,
        "texts.sv.headline",
        "at least 1",
    ),
    ("no area", notice_payload(area={}), 422, "area", "at least one"),
    (
        "unknown zone",
        notice_payload(area={"zones": ["gesunda", "atlantis"]}),
        422,
        "area.zones.1",
        "atlantis",
    ),
    (
        "circle without radius",
        notice_payload(area={"circle": {"center": [14.5, 60.9]}}),
        422,
        "area.circle.radius_m",
        "required",
    ),
    (
        "circle radius negative",
        notice_payload(area={"circle": {"center": [14.5, 60.9], "radius_m": -5}}),
        422,
        "area.circle.radius_m",
        "greater than or equal to 10",
    ),
    (
        "missing category without template",
        {k: v for k, v in notice_payload().items() if k != "category"},
        422,
        "category",
        "required",
    ),
    ("unknown template", notice_payload(template="volcano"), 422, "template", "unknown template"),
    (
        "circle smaller than a house",
        notice_payload(area={"circle": {"center": [14.5, 60.9], "radius_m": 0.5}}),
        422,
        "area.circle.radius_m",
        "greater than or equal to 10",
    ),
    *[
        (
            f"{name} in a headline",
            notice_payload(texts={"sv": {"headline": f"Koka{char}vattnet"}}),
            422,
            "texts.sv.headline",
            message,
        )
        for name, char, message in (
            ("vertical tab from a Word paste", "\x0b", "U+000B"),
            ("non-character", "\ufffe", "U+FFFE"),
            ("unpaired surrogate", "\ud800", "unicode string"),
            ("right-to-left override", "\u202e", "bidirectional"),
            ("line break", "\n", "one line"),
        )
    ],
    (
        "NUL in a headline (400 before any view, as PostgreSQL cannot store it)",
        notice_payload(texts={"sv": {"headline": "Koka\x00vattnet"}}),
        400,
        "texts.sv.headline",
        "U+0000",
    ),
    (
        "control character in a description",
        notice_payload(texts={"sv": {"headline": "Koka", "description": "a\x1bb"}}),
        422,
        "texts.sv.description",
        "U+001B",
    ),
    (
        "10 MB template value",
        notice_payload(
            template="boil_water", texts={}, template_values={"place": "x" * 10_000_000}
        ),
        413,
        None,
        None,
    ),
    (
        "long template value",
        notice_payload(template="boil_water", texts={}, template_values={"place": "Å" * 201}),
        422,
        "template_values.place",
        "at most 200",
    ),
    (
        "template value that pushes the headline past its limit",
        notice_payload(template="boil_water", texts={}, template_values={"place": "Å" * 150}),
        422,
        "texts.sv.headline",
        "at most 160",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "field", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_notice_is_refused_naming_the_field(
    client, session, author, case, body, status, field, message
):
    response = client.post("/api/v1/notices", json=body, headers=author)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    if field is None:  # refused before the body was read
        assert _nothing_written(session)
        return
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in fields, problem
    assert message in fields[field], problem
    assert _nothing_written(session)


def test_every_field_at_fault_is_named_in_one_answer(client, session, author):
    """The time order and the channels were checked only once every field was valid: a
    client mending a bad circle then heard of its expiry before the onset."""
    body = notice_payload(
        area={"circle": {"center": [14.5, 60.9], "radius_m": 5}},
        onset="2030-01-02T10:00:00+01:00",
        expires="2030-01-02T09:00:00+01:00",
        next_update="2030-01-02T09:30:00+01:00",
        channels=[],
    )
    problem = client.post("/api/v1/notices", json=body, headers=author).get_json()
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {"area.circle.radius_m", "expires", "next_update", "channels"}
    assert fields["expires"] == "expires must be after onset"
    assert fields["next_update"] == "next_update must be after onset"
    assert _nothing_written(session)


def test_malformed_json_is_a_400_naming_the_body(client, session, author):
    response = client.post(
        "/api/v1/notices",
        data=b'{"category": "water",',
        headers={**author, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"
    assert "not valid JSON" in response.get_json()["detail"]
    assert _nothing_written(session)


def test_json_that_is_not_an_object(client, session, author):
    response = client.post("/api/v1/notices", json=["a", "list"], headers=author)
    assert response.status_code == 422
    assert _nothing_written(session)


def test_bad_action_body_changes_nothing(client, session, author):
    nid = client.post("/api/v1/notices", json=notice_payload(), headers=author).get_json()["id"]
    response = client.post(f"/api/v1/notices/{nid}/submit", json={"force": True}, headers=author)
    assert response.status_code == 422 and response.get_json()["field"] == "force"
    assert client.get(f"/api/v1/notices/{nid}", headers=author).get_json()["status"] == "draft"


def test_unknown_notice_is_404(client, author):
    for path in (
        "/api/v1/notices/not-a-uuid",
        "/api/v1/notices/5b0b8a4e-8a3c-4d7e-9d1f-000000000000",
    ):
        response = client.get(path, headers=author)
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
