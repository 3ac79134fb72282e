"""Every console route as anonymous, author, approver and admin: which buttons each sees
for a notice in each state, and that what is not offered is refused by direct URL too."""

from __future__ import annotations

import re

import pytest

from alerts.models import Notice
from tests.console.conftest import notice_in_state

ALL_POSTS = (
    "submit",
    "approve",
    "reject",
    "return-to-draft",
    "publish",
    "emergency-publish",
    "withdraw",
)
PAGES = ("edit", "update", "all-clear")

# (who, state) -> the actions the notice page offers.
EXPECTED = {
    ("author", "draft"): {"edit", "submit", "withdraw"},
    ("author", "pending"): {"return-to-draft"},
    ("author", "approved"): {"return-to-draft", "publish", "schedule"},
    ("author", "active"): {"update", "all-clear"},
    ("author", "update_pending"): {"all-clear"},
    ("author", "cancelled"): set(),
    ("approver", "draft"): {"edit", "submit", "withdraw"},
    ("approver", "pending"): {"return-to-draft", "approve", "reject"},
    ("approver", "approved"): {"return-to-draft", "reject", "publish", "schedule"},
    ("approver", "active"): {"update", "all-clear"},
    ("approver", "update_pending"): {"approve", "reject", "all-clear"},
    ("approver", "cancelled"): set(),
    ("admin", "draft"): {"edit", "submit", "emergency-publish", "withdraw"},
    ("admin", "pending"): {"return-to-draft", "approve", "reject", "emergency-publish"},
    ("admin", "approved"): {"return-to-draft", "reject", "publish", "schedule"},
    ("admin", "active"): {"update", "all-clear"},
    ("admin", "update_pending"): {"approve", "reject", "emergency-publish", "all-clear"},
    ("admin", "cancelled"): set(),
}


def offered(html: str) -> set[str]:
    return set(re.findall(r'data-action="([a-z-]+)"', html))


def _state(session, notice_id):
    session.expire_all()
    notice = session.get(Notice, notice_id)
    return notice.status, [(r.number, r.state) for r in notice.revisions]


@pytest.mark.parametrize(("who", "state"), sorted(EXPECTED))
def test_buttons_follow_role_and_state_and_the_rest_is_refused_by_url(
    session, office, as_, who, state
):
    notice = notice_in_state(session, office, state)
    client = as_(who)
    page = client.get(f"/console/notices/{notice.id}")
    assert page.status_code == 200
    can = offered(page.get_data(as_text=True))
    assert can == EXPECTED[(who, state)]
    before = _state(session, notice.id)
    for action in ALL_POSTS:
        if action in can:
            continue
        refused = client.post(
            f"/console/notices/{notice.id}/{action}",
            data={"reason": "Fel område", "emergency_reason": "Ledningsbrott"},
        )
        assert refused.status_code in (403, 409), (action, refused.status_code)
        text = refused.get_data(as_text=True)
        assert "<h1>40" in text  # an error page that says why, not a redirect
        assert _state(session, notice.id) == before, action
    for path in PAGES:
        answer = client.get(f"/console/notices/{notice.id}/{path}")
        if path in can:
            assert answer.status_code == 200, path
        else:
            assert answer.status_code in (403, 409), (path, answer.status_code)
            assert client.post(f"/console/notices/{notice.id}/{path}").status_code in (403, 409)
    assert _state(session, notice.id) == before


def test_an_offered_action_works_by_its_button(session, office, as_):
    notice = notice_in_state(session, office, "pending")
    approver = as_("approver")
    page = approver.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert "approve" in offered(page)
    done = approver.post(f"/console/notices/{notice.id}/approve", follow_redirects=True)
    assert done.status_code == 200
    assert "Klart. Meddelandet: Godkänt;" in done.get_data(as_text=True)
    assert _state(session, notice.id)[0] == "approved"


def test_the_author_who_submitted_cannot_approve_even_as_approver(session, office, as_):
    from alerts.notices.operations import create_notice, submit_notice
    from alerts.notices.schemas import NoticeIn
    from tests.factories import notice_payload

    notice = create_notice(
        session, NoticeIn.model_validate(notice_payload()), by=office["approver"]
    )
    submit_notice(session, notice, by=office["approver"])
    session.commit()
    client = as_("approver")
    assert "approve" not in offered(
        client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    )
    refused = client.post(f"/console/notices/{notice.id}/approve")
    assert refused.status_code == 403
    assert "en annan godkännare måste godkänna det" in refused.get_data(as_text=True)


def test_anonymous_is_sent_to_login_everywhere(session, office, app):
    notice = notice_in_state(session, office, "active")
    client = app.test_client()
    gets = [
        "/console/",
        "/console/notices/new",
        "/console/outbox",
        "/console/admin/audit",
        "/console/admin/accounts",
        f"/console/notices/{notice.id}",
        f"/console/notices/{notice.id}/edit",
        f"/console/notices/{notice.id}/update",
        f"/console/notices/{notice.id}/all-clear",
        f"/console/notices/{notice.id}/deliveries.json",
        f"/console/notices/{notice.id}/deliveries.csv",
        f"/console/notices/{notice.id}/preview/email-sv",
    ]
    for path in gets:
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert "/console/login" in answer.headers["Location"], path
    posts = [f"/console/notices/{notice.id}/{a}" for a in ALL_POSTS] + [
        "/console/notices/new",
        "/console/reach",
        "/console/sms-parts",
        f"/console/notices/{notice.id}/all-clear",
    ]
    for path in posts:
        answer = client.post(path, data={"reason": "x"})
        assert answer.status_code == 302 and "/console/login" in answer.headers["Location"], path
    assert _state(session, notice.id)[0] == "active"


@pytest.mark.parametrize("who", ["author", "approver", "admin"])
def test_every_console_page_opens_for_every_role(session, office, as_, who):
    notice = notice_in_state(session, office, "active")
    client = as_(who)
    for path in [
        "/console/",
        "/console/notices/new",
        "/console/outbox",
        f"/console/notices/{notice.id}",
        f"/console/notices/{notice.id}/deliveries.json",
        f"/console/notices/{notice.id}/deliveries.csv",
        f"/console/notices/{notice.id}/preview/email-sv",
    ]:
        assert client.get(path).status_code == 200, (who, path)


def test_approvers_are_told_that_a_submitted_notice_waits_for_them(session, office, as_):
    from sqlalchemy import select

    from alerts.models import OutboxMessage

    notice = notice_in_state(session, office, "draft")
    client = as_("author")
    done = client.post(f"/console/notices/{notice.id}/submit", follow_redirects=True)
    assert "2 godkännare har fått e-post om att det väntar." in done.get_data(as_text=True)
    session.expire_all()
    mails = session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)).all()
    assert [m.recipient for m in mails] == ["admin@test.varsla.se", "approver@test.varsla.se"]
    assert f"http://varsla.test/console/notices/{notice.id}" in mails[0].body
    assert "Koka vattnet i Gesunda" in mails[0].subject
