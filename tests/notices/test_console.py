"""Operator login: CSRF-protected forms, throttled guessing, roles on every page."""

from __future__ import annotations

import re

import pytest

from tests.conftest import running_app
from tests.factories import PASSWORD, create_operator, create_zone, notice_payload


@pytest.fixture
def csrf_app(database_url, tmp_path):
    """The app with CSRF protection on, as in production."""
    with running_app(database_url, tmp_path, WTF_CSRF_ENABLED=True) as app:
        yield app


@pytest.fixture
def operator(csrf_app):
    from alerts.extensions import db

    with db.begin() as session:
        create_zone(session)
        create_operator(session, "author", "author@test.varsla.se")


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, html
    return match.group(1)


def _login(client, password: str = PASSWORD):
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={
            "email": "author@test.varsla.se",
            "password": password,
            "csrf_token": _token(page.get_data(as_text=True)),
        },
    )


def test_login_and_see_the_console(csrf_app, operator):
    client = csrf_app.test_client()
    assert client.get("/console/").status_code == 302
    response = _login(client)
    assert response.status_code == 302
    page = client.get("/console/")
    assert page.status_code == 200
    assert "author@test.varsla.se" in page.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(csrf_app, operator):
    client = csrf_app.test_client()
    response = client.post(
        "/console/login", data={"email": "author@test.varsla.se", "password": PASSWORD}
    )
    assert response.status_code in (200, 400)
    assert client.get("/console/").status_code == 302  # still not logged in


def test_wrong_password_then_throttled(csrf_app, operator):
    client = csrf_app.test_client()
    for _ in range(5):
        response = _login(client, "wrong password!!")
        assert response.status_code == 401
        assert "Fel e-post eller lösenord" in response.get_data(as_text=True)
    throttled = _login(client)  # even the right password waits now
    assert throttled.status_code == 429
    assert client.get("/console/").status_code == 302


def test_notice_actions_from_the_console(csrf_app, operator):
    from alerts.extensions import db
    from alerts.notices.operations import create_notice
    from alerts.notices.schemas import NoticeIn

    with db.begin() as session:
        from sqlalchemy import select

        from alerts.models import Operator

        author = session.scalar(select(Operator))
        notice = create_notice(
            session,
            NoticeIn.model_validate(
                notice_payload(texts={"sv": {"headline": '<script>alert(1)</script>"><img src=x>'}})
            ),
            by=author,
        )
        notice_id = notice.id
    client = csrf_app.test_client()
    _login(client)
    page = client.get(f"/console/notices/{notice_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    submitted = client.post(
        f"/console/notices/{notice_id}/submit",
        data={"csrf_token": _token(page)},
        follow_redirects=True,
    )
    done = submitted.get_data(as_text=True)
    assert "Klart. Meddelandet: Väntar på godkännande" in done  # the status in words
    assert "pending_approval" not in done
    # An author cannot approve: the console says why instead of failing.
    refused = client.post(
        f"/console/notices/{notice_id}/approve",
        data={"csrf_token": _token(page)},
        follow_redirects=True,
    )
    assert "Det här kräver rollen Godkännare" in refused.get_data(as_text=True)
