"""Approvers are told that a submitted revision waits for them: every approver by email,
those with a mobile number by SMS too, through the dispatcher's providers. The messages
are written with the submit, so a mail server or Twilio that fails at that moment only
delays them; Twilio's receipts and the outcome show on the notice's console page."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select, update

from alerts.dispatch import jobs
from alerts.dispatch.models import ApprovalMessage
from alerts.models import OutboxMessage
from alerts.notices.operations import create_notice
from alerts.notices.schemas import NoticeIn
from alerts.orm import utcnow
from alerts.scheduling import run_job
from tests.factories import PASSWORD, api_headers, create_operator, notice_payload


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


def _approval_messages(session) -> dict[tuple[str, str], ApprovalMessage]:
    session.expire_all()
    rows = session.scalars(select(ApprovalMessage)).all()
    return {(row.channel, row.address): row for row in rows}


def _retries_fall_due(session) -> None:
    """The wait before the next try is over (30 s and more in real time)."""
    session.execute(update(ApprovalMessage).values(not_before=utcnow() - timedelta(seconds=1)))
    session.commit()


def _tick(app) -> None:
    """One run of the scheduler's job, as ``varsla serve`` and ``varsla scheduler`` run it."""
    run_job(app, "send_approval_messages", jobs.send_approval_messages)


def _receipt(client, fake, message, status: str):
    params = fake.callback_params(message.sid, status)
    parts = urlsplit(message.status_callback)
    return client.post(
        f"{parts.path}?{parts.query}",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": fake.sign(message.status_callback, params)},
    )


def test_approvers_are_told_once_the_mail_server_and_twilio_answer_again(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    desk.approver.phone = "+46701740605"
    db_session.commit()
    fake_smtp.replies["approver@test.varsla.se"] = "451 4.3.0 Try again later"
    fake_twilio.faults["+46701740605"] = "503"
    notice = create_notice(db_session, NoticeIn.model_validate(notice_payload()), by=desk.author)
    db_session.commit()
    client = dispatch_app.test_client()
    client.post("/console/login", data={"email": desk.author.email, "password": PASSWORD})

    page = client.post(f"/console/notices/{notice.id}/submit", follow_redirects=True)

    # The submit went through; the approver is not told yet, and the author knows it.
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Väntar på godkännande" in text
    assert "2 meddelanden till godkännare kunde inte skickas nu" in text
    assert fake_smtp.received == [] and fake_twilio.messages == []
    waiting = _approval_messages(db_session)
    assert {key: row.status for key, row in waiting.items()} == {
        ("email", "approver@test.varsla.se"): "pending",
        ("sms", "+46701740605"): "pending",
    }
    assert all(row.not_before > utcnow() for row in waiting.values())  # not before the wait
    _tick(dispatch_app)
    assert fake_smtp.received == [] and fake_twilio.messages == []

    # The mail server and Twilio answer again: the next tick after the wait tells them.
    fake_smtp.replies.clear()
    fake_twilio.faults.clear()
    _retries_fall_due(db_session)
    _tick(dispatch_app)
    assert [m.rcpt_tos for m in fake_smtp.received] == [["approver@test.varsla.se"]]
    assert f"/console/notices/{notice.id}" in fake_smtp.received[0].message.get_content()
    (sms,) = fake_twilio.messages
    assert sms.to == "+46701740605" and f"/console/notices/{notice.id}" in sms.body
    _tick(dispatch_app)  # and only once
    assert len(fake_smtp.received) == 1 and len(fake_twilio.messages) == 1

    # Twilio's receipt moves the SMS forward; the notice page says what each approver got.
    assert _receipt(client, fake_twilio, sms, "delivered").get_data(as_text=True) == "delivered\n"
    assert _receipt(client, fake_twilio, sms, "sent").get_data(as_text=True) == "ignored\n"
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    told = page[page.index('id="approvers-told"') :]
    told = told[: told.index("</ul>")]
    assert 'data-channel="email" data-status="accepted">Skickat<' in told
    assert 'data-channel="sms" data-status="delivered">Levererat<' in told


def test_a_message_that_keeps_failing_ends_failed_and_the_page_says_so(
    dispatch_app, db_session, desk, fake_smtp
):
    fake_smtp.replies["approver@test.varsla.se"] = "451 4.3.0 Try again later"
    notice = _submit_from_the_console(dispatch_app, db_session, desk.author)
    for _ in range(10):
        _retries_fall_due(db_session)
        _tick(dispatch_app)
    (row,) = _approval_messages(db_session).values()
    assert (row.status, row.attempts) == ("failed", 5)
    assert fake_smtp.received == []
    client = dispatch_app.test_client()
    client.post("/console/login", data={"email": desk.approver.email, "password": PASSWORD})
    client.get("/console/language/en")
    page = client.get(f"/console/notices/{notice.id}?lang=en").get_data(as_text=True)
    assert "Approvers told" in page and 'data-status="failed">Failed<' in page


def test_a_revision_approved_meanwhile_is_not_announced_any_more(
    dispatch_app, db_session, desk, fake_smtp
):
    from alerts.notices.operations import approve_notice

    create_operator(db_session, "approver", "second@test.varsla.se")
    db_session.commit()
    fake_smtp.replies["second@test.varsla.se"] = "451 4.3.0 Try again later"
    notice = _submit_from_the_console(dispatch_app, db_session, desk.author)
    assert [m.rcpt_tos for m in fake_smtp.received] == [["approver@test.varsla.se"]]

    db_session.expire_all()  # the submit came through the console's own session
    approve_notice(db_session, notice, by=desk.approver)
    db_session.commit()
    fake_smtp.replies.clear()
    _retries_fall_due(db_session)
    _tick(dispatch_app)
    assert len(fake_smtp.received) == 1  # the second approver is not asked any more
    assert _approval_messages(db_session)[("email", "second@test.varsla.se")].status == "dropped"


def _submit_through_the_api(app, session, author):
    notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=author)
    session.commit()
    headers = api_headers(session, author)
    session.commit()
    done = app.test_client().post(f"/api/v1/notices/{notice.id}/submit", json={}, headers=headers)
    return notice, done


def test_a_submit_through_the_api_tells_the_approvers_at_once(
    dispatch_app, db_session, desk, fake_smtp
):
    """A system submitting through the API (a utility's control room) gets its notice in
    front of the approvers as fast as an author in the console: not at the next tick."""
    notice, done = _submit_through_the_api(dispatch_app, db_session, desk.author)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["status"] == "pending_approval"
    assert [m.rcpt_tos for m in fake_smtp.received] == [["approver@test.varsla.se"]]
    assert f"/console/notices/{notice.id}" in fake_smtp.received[0].message.get_content()
    assert _approval_messages(db_session)[("email", "approver@test.varsla.se")].status == (
        "accepted"
    )
    _tick(dispatch_app)  # and only once
    assert len(fake_smtp.received) == 1


def test_an_api_submit_stands_when_the_mail_server_fails_and_the_tick_tells_later(
    dispatch_app, db_session, desk, fake_smtp
):
    fake_smtp.replies["approver@test.varsla.se"] = "451 4.3.0 Try again later"
    _, done = _submit_through_the_api(dispatch_app, db_session, desk.author)
    assert done.status_code == 200 and done.get_json()["status"] == "pending_approval"
    assert fake_smtp.received == []
    assert _approval_messages(db_session)[("email", "approver@test.varsla.se")].status == (
        "pending"
    )
    fake_smtp.replies.clear()
    _retries_fall_due(db_session)
    _tick(dispatch_app)
    assert [m.rcpt_tos for m in fake_smtp.received] == [["approver@test.varsla.se"]]


def test_a_receipt_naming_no_approval_message_of_ours_is_unknown(dispatch_app, fake_twilio):
    client = dispatch_app.test_client()
    for ref in ("approval-" + "9" * 40, "approval-0", "approval-x1", "9" * 40 + ".1"):
        url = f"http://varsla.test/webhooks/twilio/status?ref={ref}"
        params = {
            "MessageSid": "SM" + "0" * 32,
            "MessageStatus": "delivered",
            "AccountSid": fake_twilio.account_sid,
        }
        answer = client.post(
            f"/webhooks/twilio/status?ref={ref}",
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": fake_twilio.sign(url, params)},
        )
        assert answer.status_code == 404, ref
