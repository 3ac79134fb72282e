"""Fan-out respects what residents chose: categories and pause decide who gets a new alert;
whoever got an alert still hears its update and all-clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from alerts.models import Subscriber
from alerts.residents.models import CATEGORIES
from tests.delivery import create_subscriber, run_dispatcher

WATER_ONLY = 1  # the bit of "water"


def test_the_resident_categories_match_the_notice_categories():
    from alerts.notices.models import Category

    assert tuple(c.value for c in Category) == CATEGORIES


def recipients(fake_twilio) -> list[str]:
    return sorted(m.to for m in fake_twilio.messages)


def test_a_resident_who_chose_water_gets_no_road_closure(
    dispatch_app, db_session, desk, fake_twilio
):
    create_subscriber(db_session, phone="+46701000001", categories=WATER_ONLY)
    create_subscriber(db_session, phone="+46701000002")  # all categories
    db_session.commit()
    desk.publish(category="roads", texts={"sv": {"headline": "Vägen är avstängd"}})
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000002"]
    fake_twilio.clear()
    desk.publish()  # water
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000001", "+46701000002"]


def test_a_paused_subscription_gets_nothing_until_the_pause_ends(
    dispatch_app, db_session, desk, fake_twilio
):
    paused = create_subscriber(
        db_session, phone="+46701000001", paused_until=datetime.now(UTC) + timedelta(days=3)
    )
    create_subscriber(db_session, phone="+46701000002")
    db_session.commit()
    desk.publish()
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000002"]

    db_session.execute(
        update(Subscriber)
        .where(Subscriber.id == paused.id)
        .values(paused_until=datetime.now(UTC) - timedelta(minutes=1))
    )
    db_session.commit()
    fake_twilio.clear()
    desk.publish(texts={"sv": {"headline": "Nytt läckage"}})
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000001", "+46701000002"]


def test_update_and_all_clear_reach_everyone_who_got_the_alert_whatever_they_chose_since(
    dispatch_app, db_session, desk, fake_twilio
):
    anna = create_subscriber(db_session, phone="+46701000001")
    bo = create_subscriber(db_session, phone="+46701000002", categories=WATER_ONLY)
    db_session.commit()
    notice = desk.publish()
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000001", "+46701000002"]

    # Anna now wants only road notices, Bo pauses; someone new who paused joins.
    db_session.execute(update(Subscriber).where(Subscriber.id == anna.id).values(categories=16))
    db_session.execute(
        update(Subscriber)
        .where(Subscriber.id == bo.id)
        .values(paused_until=datetime.now(UTC) + timedelta(days=3))
    )
    create_subscriber(
        db_session, phone="+46701000003", paused_until=datetime.now(UTC) + timedelta(days=3)
    )
    db_session.commit()
    fake_twilio.clear()
    desk.update(
        db_session.get(type(notice), notice.id), texts={"sv": {"headline": "Koka fortfarande"}}
    )
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000001", "+46701000002"]

    fake_twilio.clear()
    desk.cancel(db_session.get(type(notice), notice.id))
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000001", "+46701000002"]


def test_an_unverified_contact_gets_nothing_while_the_verified_one_does(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    create_subscriber(
        db_session, phone="+46701000001", email="anna@example.se", email_verified_at=None
    )
    db_session.commit()
    desk.publish()
    run_dispatcher(dispatch_app)
    assert recipients(fake_twilio) == ["+46701000001"]
    assert fake_smtp.received == []
