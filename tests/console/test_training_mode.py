"""Training mode: the test group (admins), "send as exercise" (anyone who may write
notices), and the issue's acceptance criterion: an exercise reaches only the test group
(the fake SMTP and Twilio servers receive exactly the test-group messages, each marked as
an exercise; no resident gets anything) and appears in no feed, page, banner,
/api/v1/active or CAP index, nor in the notice's delivery figures."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from sqlalchemy import func, select

from alerts.models import Delivery, ExerciseRun, Notice, TestGroupMember
from alerts.notices.operations import create_notice
from alerts.notices.schemas import NoticeIn
from tests.channels.test_cap import SCHEMA
from tests.delivery import create_subscriber, run_dispatcher
from tests.factories import PASSWORD, create_operator, notice_payload

RESIDENT_PHONE = "+46709999001"
RESIDENT_EMAIL = "resident@example.se"
PUBLIC = (
    "/",
    "/archive",
    "/feeds/notices.rss",
    "/feeds/notices.atom",
    "/feeds/zones/gesunda.rss",
    "/feeds/zones/gesunda.atom",
    "/feeds/cap.atom",
    "/api/v1/active?zone=gesunda",
    "/banner?zone=gesunda",
    "/banner.js",
)


def sign_in(app, email: str):
    client = app.test_client()
    answer = client.post("/console/login", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 302
    return client


def add_member(admin, **fields):
    data = {"do": "add", "language": "sv", **fields}
    return admin.post("/console/admin/test-group", data=data)


@pytest.fixture
def training(dispatch_app, db_session, desk):
    """Desk operators, an admin who filled in the test group, and one resident in Gesunda."""
    create_operator(db_session, "admin", "admin@test.varsla.se")
    create_subscriber(db_session, phone=RESIDENT_PHONE, email=RESIDENT_EMAIL)
    db_session.commit()
    admin = sign_in(dispatch_app, "admin@test.varsla.se")
    assert (
        add_member(
            admin, name="Anna Jour", phone="070-174 06 05", email="anna@motala.se"
        ).status_code
        == 302
    )
    assert add_member(admin, name="Bo Test", email="bo@motala.se", language="en").status_code == 302
    return desk


def public_pages(client) -> dict[str, str]:
    return {path: client.get(path).get_data(as_text=True) for path in PUBLIC}


def test_an_exercise_of_a_draft_reaches_only_the_test_group_and_nothing_public(
    dispatch_app, db_session, training, fake_twilio, fake_smtp
):
    notice = create_notice(
        db_session, NoticeIn.model_validate(notice_payload()), by=training.author
    )
    db_session.commit()
    author = sign_in(dispatch_app, "author@test.varsla.se")
    page = author.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert "Skicka som övning" in page

    sent = author.post(f"/console/notices/{notice.id}/exercise", data={"revision": "1"})
    assert sent.status_code == 302 and "/console/exercises/" in sent.headers["Location"]
    run_dispatcher(dispatch_app)

    sms = fake_twilio.messages
    assert [m.to for m in sms] == ["+46701740605"]
    # GSM-7 has no en dash: the SMS reads "ÖVNING - ".
    assert re.match(r"ÖVNING [–-] Koka vattnet i Gesunda\n", sms[0].body)
    mails = sorted(fake_smtp.received, key=lambda m: m.rcpt_tos)
    assert [m.rcpt_tos for m in mails] == [["anna@motala.se"], ["bo@motala.se"]]
    assert mails[0].message["Subject"] == "ÖVNING – Koka vattnet i Gesunda"
    assert mails[1].message["Subject"] == "EXERCISE – Boil water in Gesunda"
    body = mails[1].message.get_body(("plain",)).get_content()
    assert body.startswith("EXERCISE – Boil water in Gesunda")
    # A test-group member has no subscription: no unsubscribe link or header, and says so.
    assert "This is an exercise, sent to the test group at bo@motala.se." in body
    assert "/u/" not in body and "List-Unsubscribe" not in mails[1].message
    swedish = mails[0].message.get_body(("plain",)).get_content()
    assert "Det här är en övning, skickad till testgruppen" in swedish
    html = mails[0].message.get_body(("html",)).get_content()
    assert "ÖVNING – Koka vattnet i Gesunda" in html
    # "Read more" leads to the notice's console page, which the staff member can open: a
    # draft has no public page.
    console_page = f"http://varsla.test/console/notices/{notice.id}"
    assert f"Read more: {console_page}" in body and f'href="{console_page}"' in html
    assert f"http://varsla.test/notices/{notice.id}" not in body + swedish + html
    assert author.get(console_page.removeprefix("http://varsla.test")).status_code == 200
    everyone = {m.to for m in sms} | {r for m in mails for r in m.rcpt_tos}
    assert RESIDENT_PHONE not in everyone and RESIDENT_EMAIL not in everyone

    db_session.expire_all()
    assert db_session.get(Notice, notice.id).status == "draft"  # the notice did not change
    assert (
        db_session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.notice_id == notice.id)
        )
        == 0
    )

    public = dispatch_app.test_client()
    for path, text in public_pages(public).items():
        assert "Koka vattnet" not in text and "Boil water" not in text, path
        assert "ÖVNING" not in text and "Exercise" not in text, path
    assert '"items": []' in public.get("/api/v1/active?zone=gesunda").get_data(
        as_text=True
    ).replace('"items":[]', '"items": []')
    for path in (f"/notices/{notice.id}", f"/cap/{notice.id}.xml", f"/cap/{notice.id}/1.xml"):
        assert public.get(path).status_code == 404, path

    # The console shows the run and how each delivery went.
    run_page = author.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Anna Jour" in run_page and "Bo Test" in run_page
    assert run_page.count('data-status="accepted"') == 3
    listing = author.get("/console/exercises").get_data(as_text=True)
    assert "Koka vattnet i Gesunda" in listing
    # The CAP a drill would carry, in the console only; valid CAP 1.2.
    cap = author.get(sent.headers["Location"] + "/cap.xml")
    assert cap.mimetype == "application/cap+xml"
    assert SCHEMA.validate(etree.fromstring(cap.data))
    assert b"<status>Exercise</status>" in cap.data
    assert dispatch_app.test_client().get(sent.headers["Location"] + "/cap.xml").status_code == 302


def test_an_exercise_of_a_live_notice_leaves_its_reach_and_report_alone(
    dispatch_app, db_session, training, fake_twilio, fake_smtp
):
    notice = training.publish()
    run_dispatcher(dispatch_app)
    assert [m.to for m in fake_twilio.messages] == [RESIDENT_PHONE]
    author = sign_in(dispatch_app, "author@test.varsla.se")
    before = author.get(f"/console/notices/{notice.id}/deliveries.json").get_json()
    feeds_before = public_pages(dispatch_app.test_client())
    fake_twilio.clear()
    mails_before = len(fake_smtp.received)

    sent = author.post(f"/console/notices/{notice.id}/exercise", data={})
    assert sent.status_code == 302
    run_dispatcher(dispatch_app)

    assert [m.to for m in fake_twilio.messages] == ["+46701740605"]
    assert re.match(r"ÖVNING [–-] Koka vattnet i Gesunda\n", fake_twilio.messages[0].body)
    new_mails = fake_smtp.received[mails_before:]
    assert sorted(r for m in new_mails for r in m.rcpt_tos) == [
        "anna@motala.se",
        "bo@motala.se",
    ]
    assert all(m.message["Subject"].startswith(("ÖVNING – ", "EXERCISE – ")) for m in new_mails)

    db_session.expire_all()
    assert db_session.get(Notice, notice.id).status == "active"
    assert len(db_session.get(Notice, notice.id).revisions) == 1
    after = author.get(f"/console/notices/{notice.id}/deliveries.json").get_json()
    assert after == before  # the exercise is not the notice's reach
    feeds_after = public_pages(dispatch_app.test_client())
    for path, text in feeds_after.items():
        assert "ÖVNING" not in text and "EXERCISE" not in text, path
        assert "<status>Exercise" not in text
    assert feeds_after["/api/v1/active?zone=gesunda"] == feeds_before["/api/v1/active?zone=gesunda"]
    cap = dispatch_app.test_client().get(f"/cap/{notice.id}.xml").get_data(as_text=True)
    assert "<status>Actual</status>" in cap and "ÖVNING" not in cap


def test_only_admins_manage_the_test_group(dispatch_app, db_session, training):
    author = sign_in(dispatch_app, "author@test.varsla.se")
    assert author.get("/console/admin/test-group").status_code == 403
    assert "/console/admin/test-group" not in author.get("/console/").get_data(as_text=True)
    refused = add_member(author, name="Intrång", phone="0701112233")
    assert refused.status_code == 403
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(TestGroupMember)) == 2
    admin = sign_in(dispatch_app, "admin@test.varsla.se")
    assert "/console/admin/test-group" in admin.get("/console/").get_data(as_text=True)


def test_test_group_entries_are_checked_with_errors_beside_the_fields(dispatch_app, training):
    admin = sign_in(dispatch_app, "admin@test.varsla.se")
    bad = add_member(admin, name="", phone="12345", email="inte-en-adress")
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    for field in ("name", "phone", "email"):
        assert f'id="err-{field}"' in text, field
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', text), field
    assert 'href="#f-phone"' in text  # the summary links to the field
    none = add_member(admin, name="Ingen kontakt")
    assert (
        none.status_code == 422
        and "Ange ett mobilnummer, en e-post eller båda." in none.get_data(as_text=True)
    )
    english = admin.post(
        "/console/admin/test-group?lang=en",
        data={"do": "add", "name": "", "email": "x@motala.se"},
    )
    assert "Write a name." in english.get_data(as_text=True)
    page = admin.get("/console/admin/test-group").get_data(as_text=True)
    member = re.search(r'name="member" value="(\d+)"', page).group(1)
    assert (
        admin.post("/console/admin/test-group", data={"do": "remove", "member": member}).status_code
        == 302
    )
    assert admin.get("/console/admin/test-group").get_data(as_text=True).count('name="member"') == 1


def test_an_empty_test_group_sends_nothing(dispatch_app, db_session, desk, fake_twilio):
    create_operator(db_session, "admin", "admin@test.varsla.se")
    notice = create_notice(db_session, NoticeIn.model_validate(notice_payload()), by=desk.author)
    db_session.commit()
    author = sign_in(dispatch_app, "author@test.varsla.se")
    answer = author.post(f"/console/notices/{notice.id}/exercise", data={}, follow_redirects=True)
    assert "Testgruppen är tom" in answer.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(ExerciseRun)) == 0


def test_exercise_runs_are_purged_after_the_delivery_retention(dispatch_app, db_session, training):
    from datetime import timedelta

    from alerts.dispatch.jobs import purge_old_exercises
    from alerts.models import ExerciseRecipient, utcnow

    notice = create_notice(
        db_session, NoticeIn.model_validate(notice_payload()), by=training.author
    )
    db_session.commit()
    author = sign_in(dispatch_app, "author@test.varsla.se")
    old = author.post(f"/console/notices/{notice.id}/exercise", data={})
    recent = author.post(f"/console/notices/{notice.id}/exercise", data={})
    run_dispatcher(dispatch_app)
    old_id = old.headers["Location"].rsplit("/", 1)[1]
    db_session.expire_all()
    for run in db_session.scalars(select(ExerciseRun)):
        if str(run.id) == old_id:
            run.created_at = utcnow() - timedelta(days=400)  # past the default 365
    db_session.commit()
    assert purge_old_exercises(db_session) == 1
    db_session.commit()
    assert author.get(old.headers["Location"]).status_code == 404
    assert author.get(recent.headers["Location"]).status_code == 200
    assert db_session.scalar(select(func.count()).select_from(Delivery)) == 3
    assert db_session.scalar(select(func.count()).select_from(ExerciseRecipient)) == 2
