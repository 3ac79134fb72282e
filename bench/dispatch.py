"""Dispatch benchmark on PostgreSQL: publish call, time to first SMS, fan-out, messages/s.

Run: ``.venv/bin/python bench/dispatch.py`` (PostgreSQL on 127.0.0.1:5432, trust auth).
Creates and drops its own database, starts fake Twilio servers
(``python -m tests.fakes.twilio_server``) and ``varsla worker`` processes.
Goals on a 2-core machine, at 100,000 residents (SMS and email: 200,000 deliveries),
for a publish, an update and an all-clear: the publish call answers in < 300 ms,
the first SMS request reaches the provider < 1 s after the call, and the fan-out
(written by the workers in chunks) completes in < 5 s; then 1,000 SMS/s at 0 ms
provider latency, 500 SMS/s at 100 ms. Last, the SQLite default: the embedded
dispatcher of ``varsla serve`` at 100 ms.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from alerts.db import make_engine  # noqa: E402

ADMIN_URL = os.environ.get(
    "VARSLA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SUBSCRIBERS = 100_000
EMBEDDED_SUBSCRIBERS = 3_000
WINDOW_S = 6.0  # each throughput figure is measured over this steady-state window
ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "test-auth-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def start_fake(latency_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.twilio_server",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    process.stdout.readline()  # "fake Twilio on ..." once it listens
    return process, f"http://127.0.0.1:{port}"


def worker_env(url: str, twilio_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "VARSLA_DATABASE_URL": url,
        "VARSLA_SECRET_KEY": "bench",
        "VARSLA_BASE_URL": "https://varsla.example.se",
        "VARSLA_SMS_RATE": "0",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM": "Varsla",
        "VARSLA_TWILIO_API_URL": twilio_url,
        "LOG_LEVEL": "WARNING",
    }


def start_workers(
    n: int, url: str, twilio_urls: list[str], concurrency: int
) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "worker",
                "--concurrency",
                str(concurrency),
                "--batch-size",
                "200",
            ],
            cwd=ROOT,
            env=worker_env(url, twilio_urls[i % len(twilio_urls)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(n)
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def populate(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (phone, email, language, legal_basis, source, verified_at,"
                " phone_verified_at, email_verified_at, created_at, updated_at)"
                " SELECT '+4670' || lpad(g::text, 7, '0'),"
                " 'r' || g || '@example.se', CASE WHEN g % 5 = 0 THEN 'en' ELSE 'sv' END,"
                " 'consent', 'bench', now(), now(), now(), now(), now()"
                " FROM generate_series(1, :n) g"
            ),
            {"n": SUBSCRIBERS},
        )
        conn.execute(
            text(
                "INSERT INTO subscriber_locations (subscriber_id, label, lon, lat, created_at)"
                " SELECT id, '', 14.566 + random() * 0.033, 60.876 + random() * 0.016, now()"
                " FROM subscribers"
            )
        )
        conn.execute(text("ANALYZE"))


def main() -> None:
    from alerts.app import create_app
    from alerts.migrate import upgrade

    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"varsla_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar()
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    print(f"# dispatch benchmark — {machine()}, PostgreSQL {version}")
    processes: list[subprocess.Popen] = []
    try:
        engine = make_engine(url)
        upgrade(engine)
        populate(engine)
        fake0, fake0_url = start_fake(0)
        processes.append(fake0)
        os.environ.update(worker_env(url, fake0_url))
        app = create_app({"VARSLA_DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        from alerts.extensions import db
        from tests.delivery import Desk

        with app.app_context():
            session = db.sessionmaker()
            desk = Desk(session)

            # 1-2. Publish, update and all-clear: the call, the first SMS, the fan-out.
            sms_notice = publish_latencies(session, desk, url)

            # 3. Messages per second: 1, 2, 4 workers x 0 ms, 100 ms provider latency.
            for latency in (0, 100):
                fakes = [start_fake(latency) for _ in range(2)]
                processes += [f for f, _ in fakes]
                for count in (1, 2, 4):
                    session.execute(
                        text(
                            "UPDATE deliveries SET status = 'pending', attempts = 0, lease_owner = NULL,"
                            " lease_expires_at = NULL, provider_ref = NULL, not_before = now()"
                            " WHERE notice_id = :n"
                        ),
                        {"n": sms_notice.id},
                    )
                    session.commit()
                    concurrency = 16 if latency == 0 else 64
                    workers = start_workers(count, url, [u for _, u in fakes], concurrency)
                    rate = measure(session, sms_notice.id)
                    stop(workers)
                    print(
                        f"throughput: {count} worker(s) x {concurrency} threads, provider "
                        f"latency {latency:>3} ms: {rate:,.0f} SMS/s"
                    )
                stop([f for f, _ in fakes])
            print("goals: 1,000 SMS/s at 0 ms, 500 SMS/s at 100 ms")
            session.close()
        db.engine.dispose()
        engine.dispose()
    finally:
        stop([p for p in processes if p.poll() is None])
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


PUBLISH_CALL_GOAL_S = 0.3
FIRST_SMS_GOAL_S = 1.0
FANOUT_GOAL_S = 5.0
LATENCY_WORKERS = 2


def start_idle_workers(n: int, url: str, twilio_url: str) -> list[subprocess.Popen]:
    """``n`` workers, returned once each has started and listens: starting one takes
    seconds on a busy machine, which must not count as the publish's delay. Email is
    unlimited (to the local outbox): threads waiting for email tokens would hold up
    SMS, which is the sending half's matter, not the fan-out's."""
    env = {**worker_env(url, twilio_url), "VARSLA_EMAIL_RATE": "0"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--concurrency", "16"]
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(n)
    ]
    for worker in workers:
        assert worker.stdout is not None
        line = b""
        while b"samtidighet" not in line and b"concurrency" not in line:  # its start line
            line = worker.stdout.readline()
            assert line, "a worker did not start"
        # The rest of its output is not read: keep it from filling the pipe.
        threading.Thread(target=worker.stdout.read, daemon=True).start()
    time.sleep(1)  # each has run its first loop turn and listens
    return workers


def publish_latencies(session, desk, url: str):
    """Publish, update and all-clear a 100,000-resident SMS + email notice while
    ``LATENCY_WORKERS`` idle workers wait; print for each the publish call's time, the
    first SMS request's delay after the call, and when its fan-out job was written to its
    end. Returns an SMS-only notice with every row written, for the throughput runs."""
    from alerts.models import FanoutJob
    from alerts.notices.operations import (
        approve_notice,
        cancel_notice,
        publish_notice,
        update_notice,
    )
    from alerts.notices.schemas import CancelIn, NoticeChangesIn
    from tests.delivery import expand_all
    from tests.fakes.twilio_server import FakeTwilio

    def publish(notice, kind: str, first_line: str) -> None:
        seen = len(fake.messages)
        t0 = time.time()
        publish_notice(session, notice, by=desk.approver)
        session.commit()
        call = time.time() - t0
        revision = notice.current_revision.id
        first: float | None = None
        deadline = time.time() + 30
        while time.time() < deadline and first is None:
            arrived = fake.messages[seen:]
            first = next((m.created for m in arrived if m.body.startswith(first_line)), None)
            seen += len(arrived)
            time.sleep(0.002)
        finished = None
        while time.time() < deadline + 60 and finished is None:
            session.expire_all()
            job = session.scalar(select(FanoutJob).where(FanoutJob.revision_id == revision))
            finished = job.finished_at if job is not None else None
            time.sleep(0.05)
        done = finished.timestamp() - t0 if finished else float("nan")
        rows = session.scalar(
            select(FanoutJob.rows_written).where(FanoutJob.revision_id == revision)
        )
        delay = (first or float("nan")) - t0
        print(
            f"{kind:>9}: publish call {call * 1000:,.0f} ms"
            f" [goal < {PUBLISH_CALL_GOAL_S * 1000:.0f} ms],"
            f" first SMS {delay:.3f} s after the call [goal < {FIRST_SMS_GOAL_S:g} s],"
            f" fan-out of {rows:,} rows done {done:.2f} s after the call"
            f" [goal < {FANOUT_GOAL_S:g} s]"
        )

    with FakeTwilio() as fake:
        workers = start_idle_workers(LATENCY_WORKERS, url, fake.url)
        try:
            notice = desk.approved(channels=["sms", "email"])
            publish(notice, "publish", "Koka vattnet")
            time.sleep(3)  # sending is under way when the update comes
            changes = {"texts": {"sv": {"headline": "Koka vattnet i hela Gesunda"}}}
            update_notice(session, notice, NoticeChangesIn.model_validate(changes), by=desk.author)
            approve_notice(session, notice, by=desk.approver)
            session.commit()
            publish(notice, "update", "UPPDATERING")
            time.sleep(3)
            cancel_notice(session, notice, CancelIn(), by=desk.author)
            approve_notice(session, notice, by=desk.approver)
            session.commit()
            publish(notice, "all-clear", "AVBLÅST")
        finally:
            stop(workers)
    session.execute(text("UPDATE deliveries SET status = 'dropped' WHERE status = 'pending'"))
    session.commit()
    # The throughput runs send one SMS-only notice's 100,000 rows, written beforehand.
    sms_notice = desk.approved(channels=["sms"])
    publish_notice(session, sms_notice, by=desk.approver)
    session.commit()
    expand_all(session)
    return sms_notice


def embedded(latency_ms: float = 100) -> None:
    """The SQLite default: the one dispatcher ``varsla serve`` starts, against a provider
    answering in ``latency_ms``."""
    import tempfile

    from alerts.app import create_app
    from alerts.dispatch.worker import start_embedded
    from alerts.extensions import db
    from alerts.migrate import upgrade
    from tests.delivery import Desk, add_residents

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/varsla.sqlite3"
        upgrade(make_engine(url))
        fake, fake_url = start_fake(latency_ms)
        try:
            os.environ.update(worker_env(url, fake_url))
            app = create_app({"VARSLA_DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
            with app.app_context():
                session = db.sessionmaker()
                desk = Desk(session)
                add_residents(session, EMBEDDED_SUBSCRIBERS)
                notice = desk.publish(channels=["sms"])
                stop_dispatcher = start_embedded(app)
                rate = measure(session, notice.id)
                stop_dispatcher()
                session.close()
            db.engine.dispose()
        finally:
            stop([fake])
    print(
        f"embedded (varsla serve on SQLite, its one dispatcher), provider latency "
        f"{latency_ms:g} ms: {rate:,.0f} SMS/s"
    )


def measure(session, notice_id) -> float:
    """Accepted per second over WINDOW_S, starting once sending is under way."""

    from alerts.models import Delivery

    def accepted() -> int:
        return session.scalar(
            select(func.count()).where(
                Delivery.notice_id == notice_id, Delivery.status == "accepted"
            )
        )

    deadline = time.monotonic() + 30
    while accepted() < 200 and time.monotonic() < deadline:  # workers started, warmed up
        time.sleep(0.1)
    start_count, start = accepted(), time.monotonic()
    time.sleep(WINDOW_S)
    return (accepted() - start_count) / (time.monotonic() - start)


if __name__ == "__main__":
    started = datetime.now(UTC)
    main()
    embedded()
    print(f"(total {(datetime.now(UTC) - started).total_seconds():.0f} s)")
