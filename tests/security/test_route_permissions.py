"""Every route of the app, walked as anonymous, author, approver and admin.

:data:`ROUTES` classifies each (rule, method) of ``app.url_map``; the walk fails on a rule
missing from it (a new route must say who may use it) and on an entry whose rule is gone.
What each class means is checked for each kind of caller:

- ``public``: anyone, never asked to log in;
- ``api``: an API key of any role; anonymous gets a 401 problem (a 403 only for the
  two-person rule, which is about the notice, not the role);
- ``api_approver``: an approver's or admin's key; an author's key gets 403 and changes nothing;
- ``console``: a console session of any role; anonymous is redirected to the login page;
- ``console_approver``: as ``console``, and an author's attempt changes nothing;
- ``console_admin``: as ``console`` for an admin; an author or approver gets 403;
- ``login_step``: the login's code step (TOTP); without a password just checked, anyone,
  signed in or not, is sent back to the login page;
- ``logout``: anyone; afterwards the console asks that client to log in;
- ``signed``: Twilio's signature; anything unsigned is 403, whoever sends it;
- ``token``: a link's secret; an unknown one is 404;
- ``operations``: /metrics, whose protection the operations work decides; never a 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import Notice
from alerts.notices.operations import create_notice, submit_notice
from alerts.notices.schemas import NoticeIn
from tests.factories import api_headers, create_operator, create_zone, notice_payload

ROUTES: dict[tuple[str, str], str] = {
    ("/", "GET"): "public",
    ("/accessibility", "GET"): "public",
    ("/archive", "GET"): "public",
    ("/notices/<notice_id>", "GET"): "public",
    ("/static/<path:filename>", "GET"): "public",
    ("/banner", "GET"): "public",
    ("/banner.js", "GET"): "public",
    ("/cap/<notice_id>.xml", "GET"): "public",
    ("/cap/<notice_id>/<int:revision>.xml", "GET"): "public",
    ("/feeds/cap.atom", "GET"): "public",
    ("/feeds/notices.<any(rss, atom):kind>", "GET"): "public",
    ("/feeds/zones/<slug>.<any(rss, atom):kind>", "GET"): "public",
    ("/healthz", "GET"): "public",
    ("/metrics", "GET"): "operations",
    ("/api/v1/openapi.json", "GET"): "public",
    ("/api/v1/active", "GET"): "public",
    ("/api/v1/addresses", "GET"): "public",
    ("/api/v1/zones", "GET"): "public",
    ("/api/v1/zones/<slug>", "GET"): "public",
    ("/api/v1/zones/at", "GET"): "public",
    ("/api/v1/templates", "GET"): "api",
    ("/api/v1/notices", "GET"): "api",
    ("/api/v1/notices", "POST"): "api",
    ("/api/v1/notices/<notice_id>", "GET"): "api",
    ("/api/v1/notices/<notice_id>/audit", "GET"): "api",
    ("/api/v1/notices/<notice_id>/deliveries", "GET"): "api",
    ("/api/v1/notices/<notice_id>/sms-preview", "GET"): "api",
    ("/api/v1/notices/<notice_id>/submit", "POST"): "api",
    ("/api/v1/notices/<notice_id>/return-to-draft", "POST"): "api",
    ("/api/v1/notices/<notice_id>/publish", "POST"): "api",
    ("/api/v1/notices/<notice_id>/update", "POST"): "api",
    ("/api/v1/notices/<notice_id>/cancel", "POST"): "api",
    ("/api/v1/notices/<notice_id>/approve", "POST"): "api_approver",
    ("/api/v1/notices/<notice_id>/reject", "POST"): "api_approver",
    ("/console/login", "GET"): "public",
    ("/console/login", "POST"): "public",
    ("/console/logout", "POST"): "logout",
    ("/console/", "GET"): "console",
    ("/console/notices/new", "GET"): "console",
    ("/console/notices/new", "POST"): "console",
    ("/console/notices/<notice_id>", "GET"): "console",
    ("/console/notices/<notice_id>/<action>", "POST"): "console_approver",
    ("/console/outbox", "GET"): "console",
    ("/console/login/code", "GET"): "login_step",
    ("/console/login/code", "POST"): "login_step",
    # The operator's own account (phone, password, TOTP); training mode. Admin-only pages
    # and who may send an exercise: tests/console/test_training_mode.py, test_totp.py.
    ("/console/account", "GET"): "console",
    ("/console/account", "POST"): "console",
    ("/console/admin/test-group", "GET"): "console",
    ("/console/admin/test-group", "POST"): "console",
    ("/console/notices/<notice_id>/exercise", "POST"): "console",
    ("/console/exercises", "GET"): "console",
    ("/console/exercises/<run_id>", "GET"): "console",
    ("/console/exercises/<run_id>/cap.xml", "GET"): "console",
    ("/webhooks/twilio/inbound", "POST"): "signed",
    ("/webhooks/twilio/status", "POST"): "signed",
    ("/n/<code>", "GET"): "token",
    ("/u/<token>", "GET"): "token",
    ("/u/<token>", "POST"): "token",
    ("/readyz", "GET"): "public",
    # The console's drafting, approval and delivery pages, and the API's reach figures.
    # (Which role may do what on them is tests/console/test_permissions.py's walk.)
    ("/api/v1/notices/<notice_id>/reach", "GET"): "api",
    ("/api/v1/reach", "POST"): "api",
    ("/console/admin/accounts", "GET"): "console",
    ("/console/admin/accounts", "POST"): "console",
    ("/console/admin/audit", "GET"): "console",
    ("/console/notices/<notice_id>/all-clear", "GET"): "console",
    ("/console/notices/<notice_id>/all-clear", "POST"): "console",
    ("/console/notices/<notice_id>/deliveries.csv", "GET"): "console",
    ("/console/notices/<notice_id>/deliveries.json", "GET"): "console",
    ("/console/notices/<notice_id>/deliveries/timeline.json", "GET"): "console",
    ("/console/notices/<notice_id>/edit", "GET"): "console",
    ("/console/notices/<notice_id>/edit", "POST"): "console",
    ("/console/notices/<notice_id>/preview/<kind>", "GET"): "console",
    ("/console/notices/<notice_id>/update", "GET"): "console",
    ("/console/notices/<notice_id>/update", "POST"): "console",
    ("/console/reach", "POST"): "console",
    ("/console/sms-parts", "POST"): "console",
    # Zones and the address register: every operator looks; only admins change zones.
    ("/console/zones", "GET"): "console",
    ("/console/zones/<slug>/rename", "POST"): "console_admin",
    ("/console/zones/upload", "POST"): "console_admin",
    ("/console/zones/upload/confirm", "POST"): "console_admin",
    ("/console/register", "GET"): "console",
    # Residents: the sign-up API and pages are open (rate-limited); everything about one
    # subscription needs its link's secret.
    ("/api/v1/subscriptions", "POST"): "public",
    ("/api/v1/subscriptions/verify", "POST"): "public",
    ("/api/v1/subscriptions/manage-link", "POST"): "public",
    ("/privacy", "GET"): "public",
    ("/subscribe", "GET"): "public",
    ("/subscribe", "POST"): "public",
    ("/subscriptions/link", "GET"): "public",
    ("/subscriptions/link", "POST"): "public",
    ("/subscribe/verify/<token>", "GET"): "token",
    ("/subscribe/verify/<token>", "POST"): "token",
    ("/subscribe/verify/<token>/resend", "POST"): "token",
    ("/subscriptions/confirm/<token>", "GET"): "token",
    ("/subscriptions/confirm/<token>", "POST"): "token",
    ("/subscriptions/<token>", "GET"): "token",
    ("/subscriptions/<token>/addresses", "POST"): "token",
    ("/subscriptions/<token>/addresses/<int:location_id>/remove", "POST"): "token",
    ("/subscriptions/<token>/contact", "POST"): "token",
    ("/subscriptions/<token>/delete", "GET"): "token",
    ("/subscriptions/<token>/delete", "POST"): "token",
    ("/subscriptions/<token>/export.json", "GET"): "token",
    ("/subscriptions/<token>/preferences", "POST"): "token",
    ("/subscriptions/<token>/revoke", "POST"): "token",
}
ROLES = ("author", "approver", "admin")
#: Bodies for the API's POSTs (others get {}).
BODIES: dict[str, Any] = {
    "/api/v1/notices": notice_payload(),
    "/api/v1/notices/<notice_id>/reject": {"reason": "Fel område"},
    "/api/v1/notices/<notice_id>/update": {"severity": "Moderate"},
}


class World:
    """A zone, a writer (whose notices the others act on) and one operator per role."""

    def __init__(self, session) -> None:
        self.session = session
        create_zone(session)
        self.writer = create_operator(session, "author", "writer@test.varsla.se")
        self.operators = {
            role: create_operator(session, role, f"{role}@test.varsla.se") for role in ROLES
        }
        self.keys = {role: api_headers(session, op) for role, op in self.operators.items()}
        session.commit()

    def pending_notice(self) -> Notice:
        """A fresh notice written and submitted by the writer, awaiting approval."""
        notice = create_notice(
            self.session, NoticeIn.model_validate(notice_payload()), by=self.writer
        )
        submit_notice(self.session, notice, by=self.writer)
        self.session.commit()
        return notice

    def url(self, rule: str, notice: Notice | None, action: str = "approve") -> str:
        values = {
            "<notice_id>": str(notice.id) if notice else "00000000-0000-0000-0000-000000000000",
            "<int:revision>": "1",
            "<path:filename>": "varsla.css",
            "<slug>": "gesunda",
            "<any(rss, atom):kind>": "rss",
            "<code>": "unknown-code",
            "<token>": "unknown-token",
            "<int:location_id>": "1",
            "<kind>": "sms",
            "<action>": action,
            "<run_id>": "00000000-0000-0000-0000-000000000000",
        }
        for placeholder, value in values.items():
            rule = rule.replace(placeholder, value)
        return rule


@pytest.fixture
def world(session) -> World:
    return World(session)


def _status_of(session, notice: Notice) -> str:
    session.expire_all()
    return session.get(Notice, notice.id).status.value


def _request(client, method: str, url: str, **kwargs):
    return client.open(url, method=method, **kwargs)


def _login(client, operator) -> None:
    with client.session_transaction() as cookie:
        cookie["operator_id"] = operator.id
        cookie["session_version"] = operator.session_version


def _refuses_login(response) -> bool:
    return response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_every_route_is_classified(app):
    present = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    unknown = sorted(present - set(ROUTES))
    gone = sorted(set(ROUTES) - present)
    assert not unknown, f"routes nobody classified (add them to ROUTES): {unknown}"
    assert not gone, f"ROUTES lists routes the app no longer has: {gone}"


@pytest.mark.parametrize(
    ("rule", "method"), sorted(ROUTES), ids=[f"{m} {r}" for r, m in sorted(ROUTES)]
)
def test_each_route_as_each_caller(app, session, world, rule, method):
    kind = ROUTES[(rule, method)]
    json_body = BODIES.get(rule, {}) if rule.startswith("/api/") and method == "POST" else None

    # Anonymous.
    notice = world.pending_notice() if "<notice_id>" in rule else None
    anonymous = _request(app.test_client(), method, world.url(rule, notice), json=json_body)
    assert anonymous.status_code < 500, (rule, method, anonymous.status_code)
    if kind == "public":
        assert anonymous.status_code not in (401, 403) and not _refuses_login(anonymous)
    elif kind in ("api", "api_approver"):
        assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
    elif kind in ("console", "console_approver", "console_admin", "logout", "login_step"):
        assert _refuses_login(anonymous), anonymous.status_code
    elif kind == "signed":
        assert anonymous.status_code == 403
    elif kind == "token":
        assert anonymous.status_code == 404
    if notice is not None:
        assert _status_of(session, notice) == "pending_approval", "anonymous changed a notice"

    # Each role.
    for role in ROLES:
        operator = world.operators[role]
        client = app.test_client()
        headers: dict[str, str] = {}
        if kind.startswith("api"):
            headers = world.keys[role]
        elif kind.startswith("console") or kind in ("logout", "signed", "token", "login_step"):
            _login(client, operator)
        notice = world.pending_notice() if "<notice_id>" in rule else None
        response = _request(
            client, method, world.url(rule, notice), json=json_body, headers=headers
        )
        where = (rule, method, role, response.status_code)
        assert response.status_code < 500, where
        if kind in ("api", "api_approver"):
            assert response.status_code != 401, where
        if kind == "api" and response.status_code == 403:
            assert response.get_json()["title"] == "Two-person rule", where
        if kind == "logout":
            assert _refuses_login(response), where
            assert _refuses_login(client.get("/console/")), where
        if kind in ("console", "console_approver"):
            assert not _refuses_login(response), where
        if kind == "console_admin":
            assert not _refuses_login(response), where
            assert (response.status_code == 403) == (role != "admin"), where
        if kind == "login_step":
            assert _refuses_login(response), where
        if kind == "signed":
            assert response.status_code == 403, where  # a console session is no signature
        if kind == "token":
            assert response.status_code == 404, where
        if kind in ("api_approver", "console_approver"):
            status = _status_of(session, notice)
            if role == "author":
                assert status == "pending_approval", where
                if kind == "api_approver":
                    assert response.status_code == 403, where
            else:
                assert status != "pending_approval", where
