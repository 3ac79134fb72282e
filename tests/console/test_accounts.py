"""Account administration in the console: admins only; passwords and keys shown once."""

from __future__ import annotations

import re

from alerts.models import ApiKey, Operator


def test_only_admins_manage_accounts(office, as_):
    for who in ("author", "approver"):
        client = as_(who)
        assert client.get("/console/admin/accounts").status_code == 403
        refused = client.post(
            "/console/admin/accounts",
            data={"do": "create", "email": "x@test.varsla.se", "role": "admin"},
        )
        assert refused.status_code == 403
    assert as_("admin").get("/console/admin/accounts").status_code == 200


def test_create_change_role_reset_and_deactivate_an_operator(session, office, as_, app):
    admin = as_("admin")
    page = admin.post(
        "/console/admin/accounts",
        data={"do": "create", "email": "New@Test.varsla.se", "role": "author"},
    ).get_data(as_text=True)
    password = re.search(r'id="shown-once">[^<]*<code>([^<]+)</code>', page).group(1)
    newcomer = app.test_client()
    assert (
        newcomer.post(
            "/console/login", data={"email": "new@test.varsla.se", "password": password}
        ).status_code
        == 302
    )
    assert newcomer.get("/console/").status_code == 200
    operator = session.query(Operator).filter_by(email="new@test.varsla.se").one()
    admin.post(
        "/console/admin/accounts", data={"do": "role", "operator": operator.id, "role": "approver"}
    )
    session.expire_all()
    assert session.get(Operator, operator.id).role == "approver"
    assert newcomer.get("/console/").status_code == 302  # the role change ended the session
    page = admin.post(
        "/console/admin/accounts", data={"do": "reset", "operator": operator.id}
    ).get_data(as_text=True)
    fresh = re.search(r"<code>([^<]+)</code>", page).group(1)
    assert fresh != password
    admin.post("/console/admin/accounts", data={"do": "deactivate", "operator": operator.id})
    again = app.test_client()
    assert (
        again.post(
            "/console/login", data={"email": "new@test.varsla.se", "password": fresh}
        ).status_code
        == 401
    )
    dup = admin.post(
        "/console/admin/accounts",
        data={"do": "create", "email": "author@test.varsla.se", "role": "author"},
    )
    assert dup.status_code == 422
    assert "det finns redan en operatör med den e-postadressen" in dup.get_data(as_text=True)


def test_api_keys_are_created_shown_once_and_revoked(session, office, as_, client):
    admin = as_("admin")
    author = office["author"]
    page = admin.post(
        "/console/admin/accounts", data={"do": "key", "operator": author.id}
    ).get_data(as_text=True)
    key = re.search(r'id="shown-once">[^<]*<code>([^<]+)</code>', page).group(1)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/notices", headers=headers).status_code == 200
    listed = admin.get("/console/admin/accounts").get_data(as_text=True)
    assert key[:12] in listed and key not in listed  # the prefix, never the key again
    stored = session.query(ApiKey).filter_by(prefix=key[:12]).one()
    admin.post("/console/admin/accounts", data={"do": "revoke", "key": stored.id})
    assert client.get("/api/v1/notices", headers=headers).status_code == 401
