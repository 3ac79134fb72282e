"""The durable fan-out: a publish writes a job, workers expand it in chunks, and however the
expansion is interrupted every resident ends with exactly one delivery per channel."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from alerts.dispatch.claim import claim_batch
from alerts.dispatch.fanout import expand_next
from alerts.dispatch.outcomes import SendReport, apply_reports
from alerts.dispatch.report import delivery_report
from alerts.dispatch.worker import Dispatcher, DispatcherSettings
from alerts.models import Delivery, FanoutJob, Notice, Subscriber, SubscriberLocation
from channels.base import DeliveryResult, Outcome
from tests.conftest import running_app
from tests.delivery import (
    Desk,
    add_residents,
    create_subscriber,
    expand_all,
    open_fanout_jobs,
    provider_config,
    run_dispatcher,
    start_workers,
    stop_workers,
    wait_until_sent,
)
from tests.factories import PASSWORD
from tests.fakes.twilio_server import FakeTwilio

RESIDENTS = 23
CHUNK = 5


def _people(session, count: int = RESIDENTS) -> list[str]:
    """``count`` residents in Gesunda with SMS and email; their phone numbers."""
    phones = [f"+4670900{n:04d}" for n in range(count)]
    for n, phone in enumerate(phones):
        create_subscriber(session, phone=phone, email=f"r{n}@example.se")
    session.commit()
    return phones


def _rows(session, notice: Notice) -> Counter[tuple[int, int, str]]:
    """How many deliveries each (revision, subscriber, channel) has."""
    session.expire_all()
    return Counter(
        session.execute(
            select(Delivery.revision_number, Delivery.subscriber_id, Delivery.channel).where(
                Delivery.notice_id == notice.id
            )
        ).all()
    )


def _exactly_one_each(session, notice: Notice, revision: int, people: int) -> None:
    rows = _rows(session, notice)
    of_revision = {key: n for key, n in rows.items() if key[0] == revision}
    assert set(of_revision.values()) == {1}
    assert Counter(channel for _, _, channel in of_revision) == {"sms": people, "email": people}


def _job(session, notice: Notice, revision: int = 1) -> FanoutJob:
    session.expire_all()
    job = session.scalar(
        select(FanoutJob).where(
            FanoutJob.notice_id == notice.id, FanoutJob.revision_number == revision
        )
    )
    assert job is not None
    return job


def _expire_lease(session, notice: Notice, *, deliveries: bool = False) -> None:
    """What time does to the leases of a worker that died: they run out (its job's, and
    with ``deliveries`` those of the rows it had claimed)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    session.execute(
        update(FanoutJob).where(FanoutJob.notice_id == notice.id).values(lease_expires_at=past)
    )
    if deliveries:
        session.execute(
            update(Delivery)
            .where(Delivery.notice_id == notice.id, Delivery.status == "sending")
            .values(lease_expires_at=past)
        )
    session.commit()


def test_publish_writes_a_job_and_a_worker_writes_and_sends_the_rows(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    phones = _people(db_session)
    notice = desk.publish()
    # The publishing transaction holds the promise, not the rows.
    assert open_fanout_jobs(db_session, notice) == 1
    assert _rows(db_session, notice) == Counter()
    report = delivery_report(db_session, notice.id)
    assert report["fanout_in_progress"] is True
    assert report["fanout"][0]["state"] == "pending" and report["fanout"][0]["targets"] is None

    counts = run_dispatcher(dispatch_app, fanout_chunk=CHUNK)
    assert counts["accepted"] == 2 * RESIDENTS
    _exactly_one_each(db_session, notice, 1, RESIDENTS)
    assert sorted(m.to for m in fake_twilio.messages) == phones
    assert len(fake_smtp.received) == RESIDENTS
    job = _job(db_session, notice)
    assert (job.state, job.targets, job.expanded) == ("done", RESIDENTS, RESIDENTS)
    assert job.chunks == -(-RESIDENTS // CHUNK)  # in chunks, not at once
    assert job.rows_written == 2 * RESIDENTS
    report = delivery_report(db_session, notice.id)
    assert report["fanout_in_progress"] is False


def test_the_first_chunk_is_sendable_before_the_last_is_written(dispatch_app, db_session, desk):
    _people(db_session)
    notice = desk.publish(channels=["sms"])
    first = expand_next(db_session, "worker-a", chunk=CHUNK)
    db_session.commit()
    assert first is not None and first.written == {"sms": CHUNK} and not first.finished
    claimed = claim_batch(db_session, "worker-a", 100, lease_s=60)
    db_session.commit()
    assert len(claimed) == CHUNK  # sending starts with the first chunk
    job = _job(db_session, notice)
    assert job.state == "expanding" and job.expanded == CHUNK
    report = delivery_report(db_session, notice.id)
    assert report["fanout_in_progress"] and report["fanout"][0]["targets"] == RESIDENTS


@pytest.mark.parametrize(
    "interruption",
    [
        "after the commit, before any chunk",
        "mid-job, its worker's lease dead",
        "between chunks of one worker",
        "a chunk rolled back before its commit",
        "a chunk's rows committed but not its cursor",
    ],
)
def test_an_interrupted_fan_out_still_ends_with_exactly_one_delivery_each(
    dispatch_app, db_session, desk, fake_twilio, interruption
):
    phones = _people(db_session)
    notice = desk.publish()
    dispatcher = None  # a new worker
    if interruption == "mid-job, its worker's lease dead":
        for _ in range(2):
            expand_next(db_session, "dead-worker", chunk=CHUNK)
            db_session.commit()
        _expire_lease(db_session, notice)
    elif interruption == "between chunks of one worker":
        expand_next(db_session, "worker-a", chunk=CHUNK)
        db_session.commit()
        expand_next(db_session, "worker-a", chunk=CHUNK)
        db_session.commit()
        dispatcher = "worker-a"  # the same worker carries on where it stopped, lease and all
    elif interruption == "a chunk rolled back before its commit":
        expand_next(db_session, "dead-worker", chunk=CHUNK)
        db_session.commit()
        expand_next(db_session, "dead-worker", chunk=CHUNK)
        db_session.rollback()  # the process died inside the chunk's transaction
        assert _job(db_session, notice).chunks == 1
        _expire_lease(db_session, notice)
    elif interruption == "a chunk's rows committed but not its cursor":
        expand_next(db_session, "dead-worker", chunk=CHUNK)
        db_session.commit()
        before = _job(db_session, notice)
        cursor, expanded = before.cursor, before.expanded
        expand_next(db_session, "dead-worker", chunk=CHUNK)
        db_session.commit()
        # As if only the rows had reached the database: the cursor is where it was.
        db_session.execute(
            update(FanoutJob)
            .where(FanoutJob.id == before.id)
            .values(cursor=cursor, expanded=expanded, chunks=1)
        )
        db_session.commit()
        assert len(_rows(db_session, notice)) == 2 * 2 * CHUNK
        _expire_lease(db_session, notice)
    run_dispatcher(dispatch_app, owner=dispatcher, fanout_chunk=CHUNK)
    _exactly_one_each(db_session, notice, 1, RESIDENTS)
    assert sorted(m.to for m in fake_twilio.messages) == phones
    assert open_fanout_jobs(db_session) == 0


def test_a_live_workers_job_is_not_taken_from_it(dispatch_app, db_session, desk):
    _people(db_session)
    notice = desk.publish(channels=["sms"])
    expand_next(db_session, "worker-a", chunk=CHUNK)
    db_session.commit()
    assert expand_next(db_session, "worker-b", chunk=CHUNK) is None  # leased to worker-a
    db_session.rollback()
    _expire_lease(db_session, notice)
    taken = expand_next(db_session, "worker-b", chunk=CHUNK)
    db_session.commit()
    assert taken is not None and taken.written == {"sms": CHUNK}
    job = _job(db_session, notice)
    assert (job.lease_owner, job.attempts, job.expanded) == ("worker-b", 2, 2 * CHUNK)


def test_severe_jobs_and_every_first_chunk_go_first(dispatch_app, db_session, desk, fake_twilio):
    _people(db_session, 12)
    minor = desk.publish(severity="Minor", channels=["sms"])
    severe = desk.publish(
        severity="Severe",
        channels=["sms"],
        texts={
            "sv": {"headline": "Akut: drick inte vattnet", "instruction": "Drick inte."},
            "en": {"headline": "Urgent: do not drink", "instruction": "Do not drink."},
        },
    )
    order = [
        ("severe" if e.revision_id == severe.revisions[0].id else "minor", e.finished)
        for e in expand_all(db_session, chunk=CHUNK)
    ]
    assert order == [
        ("severe", False),  # the most severe first chunk
        ("minor", False),  # then every other first chunk
        ("severe", False),  # then the rest, most severe first
        ("severe", True),
        ("minor", False),
        ("minor", True),
    ]
    run_dispatcher(dispatch_app, concurrency=1, batch_size=1)
    # (A send the provider answers too slowly on a loaded machine is tried again: the order
    # is of each message's first request.)
    firsts = dict.fromkeys((m.to, m.body.split("\n")[0]) for m in fake_twilio.messages)
    heads = [head for _, head in firsts]
    assert heads == ["Akut: drick inte vattnet"] * 12 + ["Koka vattnet i Gesunda"] * 12
    assert minor.id != severe.id


def test_an_update_while_the_original_is_still_fanning_out(
    dispatch_app, db_session, desk, fake_twilio
):
    phones = _people(db_session)
    notice = desk.publish(channels=["sms"])
    # A worker wrote the first chunk and holds the job; a dispatcher sends that chunk.
    expand_next(db_session, "worker-a", chunk=CHUNK, lease_s=600)
    db_session.commit()
    settings = DispatcherSettings.from_app(dispatch_app, concurrency=2, poll_s=0.05)
    Dispatcher(dispatch_app, settings).run(should_stop=lambda: len(fake_twilio.messages) >= CHUNK)
    originals = {m.to for m in fake_twilio.messages}
    assert len(originals) == CHUNK
    assert _job(db_session, notice).state == "expanding"
    # worker-a dies mid-job; the update is published before anyone takes its job over.
    _expire_lease(db_session, notice)
    desk.update(notice, texts={"sv": {"headline": "Koka vattnet i hela Gesunda"}})
    published = len(fake_twilio.messages)
    run_dispatcher(dispatch_app, fanout_chunk=CHUNK)

    after = fake_twilio.messages[published:]
    heads = Counter(m.body.split("\n")[0] for m in after)
    # Nothing of the original after the update's publish; everyone in the area gets it once.
    assert heads == {"UPPDATERING: Koka vattnet i hela Gesunda": RESIDENTS}
    assert sorted(m.to for m in after) == phones
    assert _job(db_session, notice, 1).state == "stopped"
    assert _job(db_session, notice, 2).state == "done"
    rows = _rows(db_session, notice)
    assert sum(n for (revision, _, _), n in rows.items() if revision == 1) == CHUNK
    assert set(rows.values()) == {1}
    assert not db_session.scalar(
        select(func.count()).where(
            Delivery.notice_id == notice.id, Delivery.status.in_(["pending", "sending"])
        )
    )


def test_an_all_clear_while_the_original_is_fanning_out_follows_only_who_got_it(
    dispatch_app, db_session, desk, fake_twilio
):
    _people(db_session)
    notice = desk.publish(channels=["sms"])
    expand_next(db_session, "worker-a", chunk=CHUNK, lease_s=600)
    expand_next(db_session, "worker-a", chunk=CHUNK, lease_s=600)
    db_session.commit()
    # Of the two chunks written, worker-b holds three rows in flight when the all-clear goes.
    in_flight = claim_batch(db_session, "worker-b", 3, lease_s=600)
    db_session.commit()
    holders = {c.subscriber_id for c in in_flight}
    desk.cancel(notice)
    _expire_lease(db_session, notice)
    expand_all(db_session, chunk=CHUNK)
    # The all-clear is written for those three only, and must wait for their original.
    rows = _rows(db_session, notice)
    assert {subscriber for (revision, subscriber, _) in rows if revision == 2} == holders
    assert claim_batch(db_session, "worker-c", 100, lease_s=60) == []
    db_session.commit()
    # worker-b's sends of the original are accepted; then the all-clear goes to them.
    apply_reports(
        db_session,
        "worker-b",
        [
            SendReport(c, DeliveryResult(Outcome.ACCEPTED, provider_ref=f"SM{c.id}"))
            for c in in_flight
        ],
        DispatcherSettings.from_app(dispatch_app).retry,
    )
    db_session.commit()
    run_dispatcher(dispatch_app)
    assert len(fake_twilio.messages) == 3
    assert all(m.body.startswith("AVBLÅST: ") for m in fake_twilio.messages)
    report = delivery_report(db_session, notice.id)
    assert report["by_revision"]["1"]["sms"] == {"accepted": 3, "dropped": 2 * CHUNK - 3}
    assert [(f["revision"], f["state"]) for f in report["fanout"]] == [
        (1, "stopped"),
        (2, "done"),
    ]


def test_an_update_of_a_large_area_starts_from_the_area_alone_and_misses_nobody(
    dispatch_app, db_session, desk
):
    """An update's first chunk is cut from the area's list before earlier recipients are
    looked up; every later chunk from the full list. Chunks cover id ranges, so nobody falls
    between them: one row each, and the original's unsent rows all dropped."""
    add_residents(db_session, 1300)
    outside = create_subscriber(db_session, phone="+46709999999", lon_lat=(14.0, 59.0))
    notice = desk.publish(channels=["sms"])
    expand_all(db_session)
    # Someone who got the original and has since moved away still hears the update.
    db_session.execute(
        update(Delivery)
        .where(Delivery.notice_id == notice.id)
        .values(status="accepted")
        .where(Delivery.subscriber_id == db_session.scalar(select(func.min(Subscriber.id))))
    )
    first = db_session.scalar(select(func.min(Subscriber.id)))
    db_session.execute(
        update(SubscriberLocation)
        .where(SubscriberLocation.subscriber_id == first)
        .values(lon=14.0, lat=59.0)
    )
    db_session.commit()
    desk.update(notice, texts={"sv": {"headline": "Koka vattnet i hela Gesunda"}})
    steps = expand_all(db_session, chunk=400)
    # The first chunk: 400 of the area's list, and in the same id range the one who moved.
    assert [e.written.get("sms", 0) for e in steps] == [401, 400, 400, 99]
    rows = _rows(db_session, notice)
    assert set(rows.values()) == {1}
    updated = {subscriber for (revision, subscriber, _) in rows if revision == 2}
    assert len(updated) == 1300 and first in updated and outside.id not in updated
    report = delivery_report(db_session, notice.id)
    assert report["by_revision"]["1"]["sms"] == {"accepted": 1, "dropped": 1299}


@pytest.fixture
def slow_twilio():
    with FakeTwilio(latency_s=0.05) as fake:
        yield fake


@pytest.fixture
def worker_app(database_url, tmp_path, slow_twilio):
    with running_app(database_url, tmp_path, **provider_config(slow_twilio, None)) as app:
        yield app


def test_a_worker_killed_mid_expansion_loses_nothing(worker_app, database_url, slow_twilio):
    """Real processes: a ``varsla worker`` is SIGKILLed between chunks of a fan-out; another
    takes the job over once its lease runs out."""
    from alerts.extensions import db

    session = db.sessionmaker()
    desk = Desk(session)
    residents = 2000
    add_residents(session, residents)
    notice = desk.publish(channels=["sms"])
    options = ("--fanout-chunk", "50", "--concurrency", "32", "--lease-seconds", "2")
    victim = start_workers(1, database_url, slow_twilio, *options)[0]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = _job(session, notice)
            if job.chunks >= 3:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the worker never expanded the job")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        job = _job(session, notice)
        assert job.state == "expanding" and job.lease_owner is not None  # killed mid-job
        written_at_kill = job.expanded
        assert written_at_kill < residents
        _expire_lease(session, notice, deliveries=True)  # rather than wait 10 s for it
        survivor = start_workers(1, database_url, slow_twilio, *options)
        wait_until_sent(session, notice, survivor, timeout_s=120)
        stop_workers(survivor)
    finally:
        if victim.poll() is None:
            victim.kill()
    session.expire_all()
    rows = Counter(
        session.execute(
            select(Delivery.subscriber_id, Delivery.status).where(Delivery.notice_id == notice.id)
        ).all()
    )
    assert len(rows) == residents  # exactly one delivery per resident
    assert set(rows.values()) == {1}
    assert {status for _, status in rows} == {"accepted"}
    job = _job(session, notice)
    assert (job.state, job.expanded, job.attempts) == ("done", residents, 2)
    # Every resident got the message (the killed worker's sends in flight may repeat).
    assert {m.to for m in slow_twilio.messages} == {f"+4673{n:07d}" for n in range(residents)}
    session.close()


def test_a_job_that_cannot_be_written_waits_and_the_others_go_out(
    dispatch_app, db_session, desk, fake_twilio, monkeypatch
):
    """A chunk that fails (a bug, a record that cannot be written) backs its job off: the
    notices published after it still go out, the report and the metrics say what is wrong,
    and once the cause is gone the job is written to its end."""
    from alerts.dispatch import fanout

    phones = _people(db_session)
    broken = desk.publish(channels=["sms"])  # older and as severe: picked first
    shut_off = {"sv": {"headline": "Vattenavstängning i Gesunda", "description": "Läcka."}}
    desk.publish(channels=["sms"], texts=shut_off)
    write_rows = fanout._write_rows

    def fails_for_broken(session, notice, *args, **kwargs):
        if notice.id == broken.id:
            raise ValueError("a record it cannot write")
        return write_rows(session, notice, *args, **kwargs)

    monkeypatch.setattr(fanout, "_write_rows", fails_for_broken)
    run_dispatcher(dispatch_app, fanout_chunk=CHUNK)

    sent = fake_twilio.messages
    assert sorted(m.to for m in sent) == phones  # the later notice went out to everyone
    assert all("Vattenavstängning i Gesunda" in m.body for m in sent)
    job = _job(db_session, broken)
    assert (job.state, job.failures, job.rows_written) == ("pending", 1, 0)
    progress = delivery_report(db_session, broken.id)["fanout"][0]
    assert progress["in_progress"] and progress["failures"] == 1
    assert "ValueError: a record it cannot write" in progress["last_failure"]
    assert progress["retry_at"] > datetime.now(UTC)  # it waits, rather than every poll
    assert progress["stopped_because"] is None
    scrape = dispatch_app.test_client().get("/metrics").get_data(as_text=True)
    assert "varsla_fanout_jobs_failing 1.0" in scrape
    author = dispatch_app.test_client()
    signed_in = author.post(
        "/console/login", data={"email": "author@test.varsla.se", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    page = author.get(f"/console/notices/{broken.id}?lang=en").get_data(as_text=True)
    assert "The deliveries of revision 1 could not be written (failed attempts: 1, the last" in page
    assert "ValueError: a record it cannot write" in page

    monkeypatch.setattr(fanout, "_write_rows", write_rows)  # the cause is mended
    db_session.execute(
        update(FanoutJob)
        .where(FanoutJob.id == job.id)
        .values(retry_at=datetime.now(UTC) - timedelta(seconds=1))  # its wait is over
    )
    db_session.commit()
    run_dispatcher(dispatch_app, fanout_chunk=CHUNK)
    rows = _rows(db_session, broken)
    assert len(rows) == RESIDENTS and set(rows.values()) == {1}
    assert sorted(m.to for m in fake_twilio.messages) == sorted(phones * 2)
    job = _job(db_session, broken)
    assert (job.state, job.failures, job.retry_at) == ("done", 1, None)
    scrape = dispatch_app.test_client().get("/metrics").get_data(as_text=True)
    assert "varsla_fanout_jobs_failing 0.0" in scrape


def test_a_failing_job_waits_longer_each_time_up_to_five_minutes(dispatch_app, db_session, desk):
    from alerts.dispatch.fanout import record_failure

    _people(db_session, 1)
    notice = desk.publish(channels=["sms"])
    job_id = _job(db_session, notice).id
    waits = [record_failure(db_session, job_id, "ValueError: bad") for _ in range(2000)]
    db_session.commit()
    assert waits[:4] == [5.0, 10.0, 20.0, 40.0]
    assert max(waits) == waits[-1] == 300.0  # and never an overflow, however long it fails
    assert _job(db_session, notice).failures == 2000
