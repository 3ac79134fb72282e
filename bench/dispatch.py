"""Dispatch benchmark on PostgreSQL: fan-out, time to first SMS, messages per second.

Run: ``.venv/bin/python bench/dispatch.py`` (PostgreSQL on 127.0.0.1:5432, trust auth).
Creates and drops its own database, starts fake Twilio servers
(``python -m tests.fakes.twilio_server``) and ``varsla worker`` processes.
Goals on a 2-core machine: 200,000 rows in < 5 s, first SMS < 1 s after
publish, 1,000 SMS/s at 0 ms provider latency, 500 SMS/s at 100 ms. Last, the
SQLite default: the embedded dispatcher of ``varsla serve`` at 100 ms.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
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
        from alerts.models import Delivery
        from alerts.notices.operations import publish_notice
        from tests.delivery import Desk

        with app.app_context():
            session = db.sessionmaker()
            desk = Desk(session)

            # 1. Fan-out: 100,000 subscribers x 2 channels, in the publishing transaction.
            notice = desk.approved(channels=["sms", "email"])
            started = time.perf_counter()
            publish_notice(session, notice, by=desk.approver)
            session.commit()
            elapsed = time.perf_counter() - started
            rows = session.scalar(select(func.count()).where(Delivery.notice_id == notice.id))
            print(
                f"fan-out: {rows:,} rows written in {elapsed:.2f} s, publish to commit "
                f"({rows / elapsed:,.0f} rows/s)  [goal: 200,000 in < 5 s]"
            )
            session.execute(text("UPDATE deliveries SET status = 'dropped'"))
            session.commit()

            # 2. Time from publish to the first provider request: a worker waits, idle.
            from tests.fakes.twilio_server import FakeTwilio

            with FakeTwilio() as fake:
                workers = start_workers(1, url, [fake.url], 16)
                sms_notice = desk.approved(channels=["sms"])
                time.sleep(4)  # the worker has started and is idle
                t0 = time.time()
                publish_notice(session, sms_notice, by=desk.approver)  # fan-out included
                session.commit()
                committed = time.time()
                deadline = time.time() + 10
                while not fake.messages and time.time() < deadline:
                    time.sleep(0.002)
                first = fake.messages[0].created if fake.messages else float("nan")
                stop(workers)
            print(
                f"first SMS request: {first - t0:.3f} s after the publish call, "
                f"{first - committed:.3f} s after its commit  [goal: < 1 s]"
            )

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
