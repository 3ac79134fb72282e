"""Approvers with a mobile number are told by SMS, through the dispatcher's Twilio account,
that a submitted revision waits for them; all approvers still get the email."""

from __future__ import annotations

from sqlalchemy import select

from alerts.models import OutboxMessage
from alerts.notices.operations import create_notice
from alerts.notices.schemas import NoticeIn
from tests.factories import PASSWORD, create_operator, notice_payload


def _submit_from_the_console(app, session, author):
    notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=author)
    session.commit()
    client = app.test_client()
    client.post("/console/login", data={"email": author.email, "password": PASSWORD})
    done = client.post(f"/console/notices/{notice.id}/submit")
    assert done.status_code == 302
    return notice


def test_an_approver_with_a_number_gets_an_sms_with_the_link(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    approver = desk.approver
    client = dispatch_app.test_client()
    client.post("/console/login", data={"email": approver.email, "password": PASSWORD})
    assert (
        client.post("/console/account", data={"do": "phone", "phone": "070-174 06 05"}).status_code
        == 302
    )
    create_operator(db_session, "approver", "second@test.varsla.se")  # no number: email only
    db_session.commit()

    notice = _submit_from_the_console(dispatch_app, db_session, desk.author)

    sms = fake_twilio.messages
    assert [m.to for m in sms] == ["+46701740605"]
    assert f"http://varsla.test/console/notices/{notice.id}" in sms[0].body
    assert "Koka vattnet i Gesunda" in sms[0].body and "väntar på godkännande" in sms[0].body
    emailed = sorted(r for m in fake_smtp.received for r in m.rcpt_tos)
    assert emailed == ["approver@test.varsla.se", "second@test.varsla.se"]
    assert desk.author.email not in emailed  # the author is not asked to approve their own


def test_without_twilio_the_sms_waits_in_the_local_outbox(app, session):
    from tests.factories import create_zone

    create_zone(session)
    author = create_operator(session, "author", "author@test.varsla.se")
    approver = create_operator(session, "approver", "approver@test.varsla.se")
    approver.phone = "+46701740605"
    session.commit()
    _submit_from_the_console(app, session, author)
    session.expire_all()
    texts = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all()
    assert [t.recipient for t in texts] == ["+46701740605"]
    assert "/console/notices/" in texts[0].body
