"""The audit log page: admins only, filtered by who, what, notice and day."""

from __future__ import annotations

import re

from tests.console.conftest import notice_in_state


def _rows(html: str) -> list[str]:
    body = html[html.index('<table id="audit">') :]
    return re.findall(r"<tr><td><time", body)


def test_only_admins_read_the_audit_log(session, office, as_):
    notice_in_state(session, office, "active")
    for who in ("author", "approver"):
        refused = as_(who).get("/console/admin/audit")
        assert refused.status_code == 403
        assert "Det här kräver rollen Administratör" in refused.get_data(as_text=True)
    page = as_("admin").get("/console/admin/audit")
    assert page.status_code == 200
    assert len(_rows(page.get_data(as_text=True))) == 4  # create, submit, approve, publish


def test_the_audit_log_filters_by_who_what_and_notice(session, office, as_):
    first = notice_in_state(session, office, "active")
    second = notice_in_state(session, office, "pending")
    admin = as_("admin")
    by_approver = admin.get("/console/admin/audit?who=approver@test.varsla.se").get_data(
        as_text=True
    )
    assert len(_rows(by_approver)) == 2  # approved and published the first
    submits = admin.get("/console/admin/audit?action=submit").get_data(as_text=True)
    assert len(_rows(submits)) == 2 and "Skickade för godkännande" in submits
    one = admin.get(f"/console/admin/audit?notice={second.id}").get_data(as_text=True)
    assert len(_rows(one)) == 2 and str(second.id) in one and str(first.id) not in one
    none = admin.get("/console/admin/audit?since=2099-01-01").get_data(as_text=True)
    assert _rows(none) == []
    english = admin.get("/console/admin/audit?lang=en&action=publish").get_data(as_text=True)
    assert "Audit log" in english and len(_rows(english)) == 1
