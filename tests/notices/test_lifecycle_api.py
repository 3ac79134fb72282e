"""The notice lifecycle driven through the JSON API by two (and three) operators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import api_headers, create_operator, create_zone, notice_payload


@pytest.fixture
def people(session):
    create_zone(session)
    author = create_operator(session, "author", "author@test.varsla.se")
    approver = create_operator(session, "approver", "approver@test.varsla.se")
    approver2 = create_operator(session, "approver", "approver2@test.varsla.se")
    admin = create_operator(session, "admin", "admin@test.varsla.se")
    keys = {
        "author": api_headers(session, author),
        "approver": api_headers(session, approver),
        "approver2": api_headers(session, approver2),
        "admin": api_headers(session, admin),
    }
    session.commit()
    return keys


def _post(client, path, who, body=None, expect=200):
    response = client.post(f"/api/v1{path}", json=body or {}, headers=who)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_whole_lifecycle_with_two_people_and_audit_trail(client, people):
    author, approver = people["author"], people["approver"]
    notice = _post(client, "/notices", author, notice_payload(), expect=201)
    nid = notice["id"]
    assert notice["status"] == "draft"
    assert notice["revisions"][0]["created_by"] == "author@test.varsla.se"

    assert _post(client, f"/notices/{nid}/submit", author)["status"] == "pending_approval"
    approved = _post(client, f"/notices/{nid}/approve", approver)
    assert approved["status"] == "approved"
    assert approved["revisions"][0]["approved_by"] == "approver@test.varsla.se"
    active = _post(client, f"/notices/{nid}/publish", approver)
    assert active["status"] == "active"
    assert active["revisions"][0]["msg_type"] == "Alert"

    # An update is a new revision that waits for a second person; the notice still says rev 1.
    proposed = _post(
        client,
        f"/notices/{nid}/update",
        author,
        {
            "texts": {
                "sv": {
                    "headline": "Koka vattnet i Gesunda och Sollerön",
                    "instruction": "Koka vattnet.",
                }
            },
        },
    )
    assert proposed["status"] == "active"
    assert proposed["revision"] == 1
    assert proposed["pending_revision"] == {
        "number": 2,
        "msg_type": "Update",
        "state": "pending_approval",
    }
    refused = client.post(f"/api/v1/notices/{nid}/approve", json={}, headers=people["author"])
    assert refused.status_code == 403
    _post(client, f"/notices/{nid}/approve", approver)
    updated = _post(client, f"/notices/{nid}/publish", author)
    assert updated["revision"] == 2
    assert updated["revisions"][1]["msg_type"] == "Update"
    assert updated["texts"]["sv"]["headline"] == "Koka vattnet i Gesunda och Sollerön"
    assert updated["texts"]["en"]["headline"] == "Boil water in Gesunda"  # untouched language kept

    # The all-clear passes the same approval.
    waiting = _post(client, f"/notices/{nid}/cancel", author)
    assert waiting["status"] == "active"
    assert waiting["pending_revision"]["msg_type"] == "Cancel"
    _post(client, f"/notices/{nid}/approve", approver)
    ended = _post(client, f"/notices/{nid}/publish", approver)
    assert ended["status"] == "cancelled"
    assert ended["revisions"][-1]["msg_type"] == "Cancel"
    assert ended["texts"]["sv"]["headline"] == "Faran över i Gesunda"

    trail = client.get(f"/api/v1/notices/{nid}/audit", headers=author).get_json()["items"]
    assert [(e["action"], e["by"]) for e in trail] == [
        ("create", "author@test.varsla.se"),
        ("submit", "author@test.varsla.se"),
        ("approve", "approver@test.varsla.se"),
        ("publish", "approver@test.varsla.se"),
        ("propose_update", "author@test.varsla.se"),
        ("approve", "approver@test.varsla.se"),
        ("publish", "author@test.varsla.se"),
        ("propose_all_clear", "author@test.varsla.se"),
        ("approve", "approver@test.varsla.se"),
        ("publish_all_clear", "approver@test.varsla.se"),
    ]
    assert trail[3]["from_status"] == "approved" and trail[3]["to_status"] == "active"
    assert all(e["at"] for e in trail)


def test_the_submitter_cannot_approve_their_own_notice(client, people):
    approver = people["approver"]
    nid = _post(client, "/notices", approver, notice_payload(), expect=201)["id"]
    _post(client, f"/notices/{nid}/submit", approver)
    refused = client.post(f"/api/v1/notices/{nid}/approve", json={}, headers=approver)
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert "another approver" in refused.get_json()["detail"]
    assert _post(client, f"/notices/{nid}/approve", people["approver2"])["status"] == "approved"


def test_an_approver_who_edited_a_draft_cannot_approve_it(client, people):
    """Editing someone else's draft in place makes the editor one of its authors: the
    two-person rule cannot be walked around by editing and letting the author submit."""
    author, approver = people["author"], people["approver"]
    nid = _post(client, "/notices", author, notice_payload(), expect=201)["id"]
    changed = {"texts": {"sv": {"headline": "Koka vattnet i hela Gesunda"}}}
    _post(client, f"/notices/{nid}/update", approver, changed)
    _post(client, f"/notices/{nid}/submit", author)
    refused = client.post(f"/api/v1/notices/{nid}/approve", json={}, headers=approver)
    assert refused.status_code == 403
    assert "edited" in refused.get_json()["detail"]
    audit = client.get(f"/api/v1/notices/{nid}/audit", headers=author).get_json()["items"]
    assert ("edit", "approver@test.varsla.se") in [(e["action"], e["by"]) for e in audit]
    assert _post(client, f"/notices/{nid}/approve", people["approver2"])["status"] == "approved"


@pytest.mark.parametrize(
    ("steps", "action", "who", "status", "detail"),
    [
        ([], "approve", "approver", 409, "draft"),
        ([], "publish", "approver", 403, "second person"),
        ([("submit", "author")], "submit", "author", 409, "pending_approval"),
        ([("submit", "author")], "approve", "author", 403, "role approver"),
        ([("submit", "author")], "publish", "approver", 403, "second person"),
        ([("submit", "author"), ("approve", "approver")], "approve", "approver2", 409, "approved"),
        (
            [("submit", "author"), ("approve", "approver"), ("publish", "approver")],
            "submit",
            "author",
            409,
            "active",
        ),
        (
            [("submit", "author"), ("approve", "approver"), ("publish", "approver")],
            "approve",
            "approver2",
            409,
            "nothing is waiting",
        ),
        ([("cancel", "author")], "submit", "author", 409, "cancelled"),
        ([("cancel", "author")], "update", "author", 409, "cancelled"),
    ],
)
def test_forbidden_transitions_are_refused_clearly(
    client, people, steps, action, who, status, detail
):
    nid = _post(client, "/notices", people["author"], notice_payload(), expect=201)["id"]
    for step, by in steps:
        _post(client, f"/notices/{nid}/{step}", people[by])
    body = {"texts": {"sv": {"headline": "Ny rubrik"}}} if action == "update" else {}
    response = client.post(f"/api/v1/notices/{nid}/{action}", json=body, headers=people[who])
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert detail in problem["detail"]
    assert problem["status"] == status and problem["title"]


def test_reject_sends_back_to_draft_with_reason(client, people):
    nid = _post(client, "/notices", people["author"], notice_payload(), expect=201)["id"]
    _post(client, f"/notices/{nid}/submit", people["author"])
    missing = client.post(f"/api/v1/notices/{nid}/reject", json={}, headers=people["approver"])
    assert missing.status_code == 422 and missing.get_json()["field"] == "reason"
    rejected = _post(client, f"/notices/{nid}/reject", people["approver"], {"reason": "Fel zon"})
    assert rejected["status"] == "draft"
    assert rejected["revisions"][0]["reason"] == "Fel zon"
    edited = _post(
        client,
        f"/notices/{nid}/update",
        people["author"],
        {"texts": {"sv": {"headline": "Koka vattnet i Gesunda by"}}},
    )
    assert (
        edited["revision"] == 1 and edited["texts"]["sv"]["headline"] == "Koka vattnet i Gesunda by"
    )


def test_admin_may_publish_alone_only_with_an_audited_reason(client, people):
    nid = _post(client, "/notices", people["admin"], notice_payload(), expect=201)["id"]
    without = client.post(f"/api/v1/notices/{nid}/publish", json={}, headers=people["admin"])
    assert without.status_code == 403
    by_author = client.post(
        f"/api/v1/notices/{nid}/publish",
        json={"emergency_reason": "Akut"},
        headers=people["author"],
    )
    assert by_author.status_code == 403
    published = _post(
        client,
        f"/notices/{nid}/publish",
        people["admin"],
        {"emergency_reason": "Ledningsbrott, ingen godkännare nås"},
    )
    assert published["status"] == "active"
    trail = client.get(f"/api/v1/notices/{nid}/audit", headers=people["admin"]).get_json()["items"]
    assert trail[-1]["action"] == "emergency_publish"
    assert trail[-1]["details"]["reason"] == "Ledningsbrott, ingen godkännare nås"


def test_publishing_later_schedules_and_the_scheduler_activates(app, client, people):
    from alerts.extensions import db
    from alerts.notices.operations import activate_due

    nid = _post(client, "/notices", people["author"], notice_payload(), expect=201)["id"]
    _post(client, f"/notices/{nid}/submit", people["author"])
    _post(client, f"/notices/{nid}/approve", people["approver"])
    at = datetime.now(UTC) + timedelta(hours=1)
    scheduled = _post(client, f"/notices/{nid}/publish", people["approver"], {"at": at.isoformat()})
    assert scheduled["status"] == "scheduled"
    with db.begin() as session:
        assert activate_due(session) == []
    with db.begin() as session:
        assert len(activate_due(session, now=at + timedelta(seconds=1))) == 1
    with db.begin() as session:
        assert activate_due(session, now=at + timedelta(seconds=2)) == []
    assert (
        client.get(f"/api/v1/notices/{nid}", headers=people["author"]).get_json()["status"]
        == "active"
    )


def test_expired_notices_end(app, client, people):
    from alerts.extensions import db
    from alerts.notices.operations import expire_ended

    expires = datetime.now(UTC) + timedelta(hours=2)
    nid = _post(
        client, "/notices", people["admin"], notice_payload(expires=expires.isoformat()), expect=201
    )["id"]
    _post(client, f"/notices/{nid}/publish", people["admin"], {"emergency_reason": "test"})
    with db.begin() as session:
        assert [str(n.id) for n in expire_ended(session, now=expires)] == [nid]
    assert (
        client.get(f"/api/v1/notices/{nid}", headers=people["admin"]).get_json()["status"]
        == "expired"
    )


def test_a_draft_can_start_from_a_template(client, people):
    notice = _post(
        client,
        "/notices",
        people["author"],
        {
            "template": "planned_water_outage",
            "area": {"zones": ["gesunda"]},
            "onset": "2030-11-25T09:00:00+01:00",
            "expires": "2030-11-25T13:00:00+01:00",
        },
        expect=201,
    )
    assert notice["category"] == "water" and notice["severity"] == "Minor"
    assert (
        notice["texts"]["sv"]["headline"]
        == "Planerat vattenavbrott i Gesunda 25 nov 09:00–25 nov 13:00"
    )
    assert notice["texts"]["en"]["headline"].startswith("Planned water outage in Gesunda")


def test_api_requires_a_valid_key(client, people):
    assert client.get("/api/v1/notices").status_code == 401
    bad = client.get("/api/v1/notices", headers={"Authorization": "Bearer vsk_forged"})
    assert bad.status_code == 401 and bad.mimetype == "application/problem+json"


def test_lists_are_paged(client, people):
    for _ in range(3):
        _post(client, "/notices", people["author"], notice_payload(), expect=201)
    first = client.get("/api/v1/notices?limit=2", headers=people["author"]).get_json()
    assert len(first["items"]) == 2 and first["next"]
    second = client.get(
        f"/api/v1/notices?limit=2&cursor={first['next']}", headers=people["author"]
    ).get_json()
    assert len(second["items"]) == 1 and second["next"] is None
    ids = {n["id"] for n in first["items"]} | {n["id"] for n in second["items"]}
    assert len(ids) == 3
