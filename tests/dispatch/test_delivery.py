"""What residents actually receive: once, in their language, the all-clear after the original."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update

from alerts.dispatch.claim import claim_batch
from alerts.dispatch.outcomes import SendReport, apply_reports
from alerts.dispatch.worker import DispatcherSettings
from alerts.models import Delivery, FanoutJob, FanoutState, Notice, Subscriber
from channels.base import DeliveryResult, Outcome
from channels.gsm import GSM7, sms_info
from tests.delivery import create_subscriber, expand_all, open_fanout_jobs, run_dispatcher
from tests.factories import BERGKARLAS_BOX

BERGKARLAS_LON_LAT = (
    (BERGKARLAS_BOX[0] + BERGKARLAS_BOX[2]) / 2,
    (BERGKARLAS_BOX[1] + BERGKARLAS_BOX[3]) / 2,
)


def _statuses(session, notice) -> dict[tuple[int, str], int]:
    session.expire_all()
    rows = session.execute(
        select(Delivery.revision_number, Delivery.status, func.count())
        .where(Delivery.notice_id == notice.id)
        .group_by(Delivery.revision_number, Delivery.status)
    ).all()
    return {(number, status): count for number, status, count in rows}


def test_each_resident_gets_it_once_in_their_language(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    create_subscriber(db_session, phone="+46701000001", email="anna@example.se", language="sv")
    create_subscriber(db_session, phone="+46701000002", email="ben@example.com", language="en")
    create_subscriber(db_session, phone="+46701000003", verified=False)  # never verified
    create_subscriber(db_session, phone="+46701000004", sms_opted_out_at=datetime.now(UTC))
    create_subscriber(db_session, phone="+46701000005", lon_lat=BERGKARLAS_LON_LAT)  # outside
    db_session.commit()
    notice = desk.publish(expires=(datetime.now(UTC) + timedelta(hours=2)).isoformat())
    # The publishing transaction wrote the fan-out job; expanding it writes the rows.
    assert open_fanout_jobs(db_session, notice) == 1
    assert _statuses(db_session, notice) == {}
    expand_all(db_session)
    assert open_fanout_jobs(db_session, notice) == 0
    assert _statuses(db_session, notice) == {(1, "pending"): 4}

    counts = run_dispatcher(dispatch_app, concurrency=1)
    assert counts["accepted"] == 4

    sms = {m.to: m for m in fake_twilio.messages}
    assert set(sms) == {"+46701000001", "+46701000002"}
    anna, ben = sms["+46701000001"], sms["+46701000002"]
    assert anna.body.startswith("Koka vattnet i Gesunda\nKoka vatten i minst en minut.")
    assert ben.body.startswith("Boil water in Gesunda\nBoil water for at least one minute.")
    short = "http://varsla.test/n/"
    assert short in anna.body and str(notice.id) not in anna.body  # the short link
    assert sms_info(anna.body).encoding == GSM7
    assert anna.from_ == "Gesunda"
    assert 7000 < int(anna.validity_period) <= 7200  # from the notice's expiry
    callback = urlsplit(anna.status_callback)
    assert callback.path == "/webhooks/twilio/status"
    assert parse_qs(callback.query)["ref"][0].endswith(".1")

    mails = {m.rcpt_tos[0]: m.message for m in fake_smtp.received}
    assert set(mails) == {"anna@example.se", "ben@example.com"}
    assert mails["anna@example.se"]["Subject"] == "Koka vattnet i Gesunda"
    assert mails["ben@example.com"]["Subject"] == "Boil water in Gesunda"
    html = mails["ben@example.com"].get_body(("html",)).get_content()
    assert '<html lang="en">' in html
    for header in ("Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert mails["anna@example.se"][header], header
    assert mails["anna@example.se"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert fake_smtp.session_count == 1  # one connection reused across the batch

    # Once: running again, or expanding the fan-out again from its start, sends and
    # writes nothing.
    assert run_dispatcher(dispatch_app) == {}
    db_session.execute(
        update(FanoutJob)
        .where(FanoutJob.notice_id == notice.id)
        .values(state=FanoutState.PENDING, cursor=None, chunks=0, expanded=0)
    )
    db_session.commit()
    again = expand_all(db_session)
    assert [e.written for e in again] == [{"sms": 0, "email": 0}]
    assert run_dispatcher(dispatch_app) == {}
    assert len(fake_twilio.messages) == 2 and len(fake_smtp.received) == 2


def test_update_reaches_earlier_recipients_and_widened_area_then_all_clear(
    dispatch_app, db_session, desk, fake_twilio
):
    create_subscriber(db_session, phone="+46702000001", language="sv")
    create_subscriber(db_session, phone="+46702000002", language="en")
    create_subscriber(db_session, phone="+46702000003", lon_lat=BERGKARLAS_LON_LAT)
    db_session.commit()
    notice = desk.publish(channels=["sms"])
    run_dispatcher(dispatch_app)
    # Widen to a drawn polygon that covers Bergkarlås only: Gesunda residents still get it.
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [
                [BERGKARLAS_BOX[0], BERGKARLAS_BOX[1]],
                [BERGKARLAS_BOX[2], BERGKARLAS_BOX[1]],
                [BERGKARLAS_BOX[2], BERGKARLAS_BOX[3]],
                [BERGKARLAS_BOX[0], BERGKARLAS_BOX[3]],
                [BERGKARLAS_BOX[0], BERGKARLAS_BOX[1]],
            ]
        ],
    }
    desk.update(notice, area={"geometry": polygon})
    run_dispatcher(dispatch_app)
    desk.cancel(notice)
    run_dispatcher(dispatch_app)

    bodies = defaultdict(list)
    for message in fake_twilio.messages:
        bodies[message.to].append(message.body.split("\n")[0])
    assert bodies["+46702000001"] == [
        "Koka vattnet i Gesunda",
        "UPPDATERING: Koka vattnet i Gesunda",
        bodies["+46702000001"][2],
    ]
    assert bodies["+46702000001"][2].startswith("AVBLÅST: ")
    assert bodies["+46702000002"][0] == "Boil water in Gesunda"
    assert bodies["+46702000002"][1] == "UPDATE: Boil water in Gesunda"
    assert bodies["+46702000002"][2].startswith("ALL CLEAR: ")
    # The widened area adds the Bergkarlås resident from the update on.
    assert bodies["+46702000003"][0] == "UPPDATERING: Koka vattnet i Gesunda"
    assert bodies["+46702000003"][1].startswith("AVBLÅST: ")
    assert len(bodies["+46702000003"]) == 2


def test_all_clear_before_the_original_went_out_drops_both(
    dispatch_app, db_session, desk, fake_twilio
):
    create_subscriber(db_session, phone="+46703000001")
    db_session.commit()
    notice = desk.publish(channels=["sms"])
    expand_all(db_session)  # its rows are written, and nothing was dispatched
    desk.cancel(notice)
    run_dispatcher(dispatch_app)
    assert fake_twilio.messages == []
    assert _statuses(db_session, notice) == {(1, "dropped"): 1}


def test_all_clear_before_the_original_was_even_fanned_out_writes_neither(
    dispatch_app, db_session, desk, fake_twilio
):
    create_subscriber(db_session, phone="+46703000002")
    db_session.commit()
    notice = desk.publish(channels=["sms"])
    desk.cancel(notice)  # no worker ran in between: not even the original's rows exist
    run_dispatcher(dispatch_app)
    assert fake_twilio.messages == []
    assert _statuses(db_session, notice) == {}
    jobs = {
        j.revision_number: (j.state, j.error)
        for j in db_session.scalars(select(FanoutJob).where(FanoutJob.notice_id == notice.id))
    }
    assert jobs == {
        1: ("stopped", "not expanded further: superseded"),
        2: ("done", None),
    }


def test_all_clear_waits_for_the_original_in_flight(dispatch_app, db_session, desk):
    create_subscriber(db_session, phone="+46704000001")
    db_session.commit()
    notice = desk.publish(channels=["sms"])
    expand_all(db_session)
    # A worker holds the alert (in flight) when the all-clear is published.
    held = claim_batch(db_session, "worker-a", 10, lease_s=60)
    db_session.commit()
    assert [c.revision_number for c in held] == [1]
    desk.cancel(notice)
    expand_all(db_session)
    assert _statuses(db_session, notice) == {(1, "sending"): 1, (2, "pending"): 1}
    assert claim_batch(db_session, "worker-b", 10, lease_s=60) == []  # would overtake
    db_session.commit()
    apply_reports(
        db_session,
        "worker-a",
        [SendReport(held[0], DeliveryResult(Outcome.ACCEPTED, provider_ref="SM1"))],
        DispatcherSettings.from_app(dispatch_app).retry,
    )
    db_session.commit()
    after = claim_batch(db_session, "worker-b", 10, lease_s=60)
    assert [c.revision_number for c in after] == [2]


def test_severe_notices_go_before_minor_ones(dispatch_app, db_session, desk, fake_twilio):
    for n in range(3):
        create_subscriber(db_session, phone=f"+4670500000{n}")
    db_session.commit()
    desk.publish(severity="Minor", channels=["sms"])
    desk.publish(
        severity="Severe",
        channels=["sms"],
        texts={
            "sv": {"headline": "Akut: drick inte vattnet", "instruction": "Drick inte."},
            "en": {"headline": "Urgent: do not drink", "instruction": "Do not drink."},
        },
    )
    run_dispatcher(dispatch_app, concurrency=1, batch_size=1)
    heads = [m.body.split("\n")[0] for m in fake_twilio.messages]
    assert heads == ["Akut: drick inte vattnet"] * 3 + ["Koka vattnet i Gesunda"] * 3


def test_an_expired_notice_is_not_sent_late(dispatch_app, db_session, desk, fake_twilio):
    create_subscriber(db_session, phone="+46706000001")
    db_session.commit()
    notice = desk.publish(
        channels=["sms"], expires=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
    )
    expand_all(db_session)
    db_session.execute(
        update(Notice)
        .where(Notice.id == notice.id)
        .values(expires=datetime.now(UTC) - timedelta(seconds=1))
    )
    db_session.commit()
    run_dispatcher(dispatch_app)
    assert fake_twilio.messages == []
    assert _statuses(db_session, notice) == {(1, "dropped"): 1}


def test_provider_faults_retry_fail_or_opt_out(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    fake_twilio.faults.update(
        {
            "+46707000001": "21211",
            "+46707000002": "21610",
            "+46707000003": "429",
            "+46707000004": "500",
            "+46707000005": "timeout",
            "+46707000006": "21614",
        }
    )
    fake_smtp.replies.update(
        {"gone@example.se": "550 5.1.1 No such user", "busy@example.se": "451 4.3.0 Try later"}
    )
    people = {n: create_subscriber(db_session, phone=f"+4670700000{n}") for n in range(1, 8)}
    create_subscriber(db_session, email="gone@example.se")
    create_subscriber(db_session, email="busy@example.se")
    db_session.commit()
    notice = desk.publish()
    run_dispatcher(dispatch_app, concurrency=8)
    db_session.expire_all()
    rows = {
        (d.channel, phone or email): d
        for d, phone, email in db_session.execute(
            select(Delivery, Subscriber.phone, Subscriber.email)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.notice_id == notice.id)
        )
    }

    def outcome(key):
        d = rows[key]
        return d.status, d.error_code, d.attempts

    assert outcome(("sms", "+46707000001")) == ("failed", "21211", 1)
    assert outcome(("sms", "+46707000002")) == ("opted_out", "21610", 1)
    assert outcome(("sms", "+46707000003")) == ("failed", "20429", 3)
    assert outcome(("sms", "+46707000004")) == ("failed", "20500", 3)
    assert outcome(("sms", "+46707000005")) == ("failed", "timeout", 3)
    assert outcome(("sms", "+46707000006")) == ("failed", "21614", 1)
    assert outcome(("sms", "+46707000007"))[0] == "accepted"
    assert outcome(("email", "gone@example.se"))[:2] == ("failed", "550")
    assert outcome(("email", "busy@example.se")) == ("failed", "451", 3)
    assert "gave up after 3 attempts" in rows[("email", "busy@example.se")].error
    db_session.refresh(people[2])
    assert people[2].sms_opted_out_at is not None  # 21610: they texted STOP to our sender
    assert [m.to for m in fake_twilio.messages] == ["+46707000007"]
