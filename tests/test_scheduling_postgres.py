"""Two schedulers racing on one PostgreSQL database publish each due notice once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from alerts.models import AuditEvent, Notice
from alerts.notices.operations import approve_notice, create_notice, publish_notice, submit_notice
from alerts.notices.schemas import NoticeIn
from tests.conftest import running_app
from tests.factories import create_operator, create_zone, notice_payload

ROOT = Path(__file__).resolve().parents[1]
DUE = 60


@pytest.fixture
def pg_app(pg_url, tmp_path):
    with running_app(pg_url, tmp_path) as app:
        yield app


def _schedule(session, at: datetime) -> list[str]:
    create_zone(session)
    author = create_operator(session, "author", "author@test.varsla.se")
    approver = create_operator(session, "approver", "approver@test.varsla.se")
    ids = []
    for _ in range(DUE):
        notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=author)
        submit_notice(session, notice, by=author)
        approve_notice(session, notice, by=approver)
        publish_notice(session, notice, by=approver, at=at)
        ids.append(notice.id)
    session.commit()
    return ids


@pytest.mark.postgres
def test_two_schedulers_publish_a_due_notice_exactly_once(pg_app, pg_url):
    """60 notices fall due at once; each is activated by exactly one of the two."""
    from alerts.extensions import db

    with db.sessionmaker() as session:
        _race(session, pg_url)


def _race(session, pg_url: str) -> None:
    ids = _schedule(session, datetime.now(UTC) + timedelta(hours=1))
    # All fall due together, shortly after both schedulers have started.
    session.execute(update(Notice).values(publish_at=datetime.now(UTC) + timedelta(seconds=2)))
    session.commit()
    assert session.scalar(select(func.count()).where(Notice.status == "scheduled")) == DUE

    env = {
        **os.environ,
        "VARSLA_DATABASE_URL": pg_url,
        "VARSLA_SCHEDULER_INTERVAL_S": "0.2",
        "VARSLA_SECRET_KEY": "x",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"]
    schedulers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            session.expire_all()
            active = session.scalar(select(func.count()).where(Notice.status == "active"))
            if active == DUE:
                break
            assert all(p.poll() is None for p in schedulers), "a scheduler died"
            time.sleep(0.1)
        time.sleep(1.0)  # more ticks of both schedulers over the already active notices
        assert all(p.poll() is None for p in schedulers), "a scheduler died"
    finally:
        for process in schedulers:
            process.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=10)[0].decode() for p in schedulers]

    session.expire_all()
    active = session.scalar(select(func.count()).where(Notice.status == "active"))
    assert active == DUE, "\n".join(o[-3000:] for o in outputs)
    activations = session.execute(
        select(AuditEvent.notice_id, func.count())
        .where(AuditEvent.action == "activate")
        .group_by(AuditEvent.notice_id)
    ).all()
    assert {notice_id: count for notice_id, count in activations} == {i: 1 for i in ids}
    # Both schedulers really ran (each logged its start), so the race was real.
    assert all("scheduler ticking" in out for out in outputs), outputs
