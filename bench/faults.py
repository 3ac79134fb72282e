"""Fault scripts: what a real night does to a fan-out, and what Varsla does about it.

One command each (PostgreSQL on 127.0.0.1:5432, trust auth; fake Twilio and SMTP
servers from tests/fakes; ``varsla worker`` processes)::

    .venv/bin/python bench/faults.py kill       # workers and a scheduler SIGKILLed again and again
    .venv/bin/python bench/faults.py provider   # Twilio answers 500, then times out, for a minute
    .venv/bin/python bench/faults.py smtp       # the SMTP server down for a minute, then back
    .venv/bin/python bench/faults.py postgres   # PostgreSQL restarted mid-dispatch (own cluster)
    .venv/bin/python bench/faults.py sqlite     # embedded SQLite on a full, then read-only disk
    .venv/bin/python bench/faults.py all

Each prints what it saw: sent, lost, duplicated, time to recover, and the
machine and its load. ``--residents`` (default 10,000) and ``--outage``
(default 60 s, the issue's minute) shorten a run. The PostgreSQL restart uses a
private cluster (initdb in a temporary folder, its own port) so that nobody
else's database on the shared server goes down; ``sqlite`` mounts a small
tmpfs (root).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from alerts.db import make_engine  # noqa: E402
from bench import webtier  # noqa: E402
from bench.dispatch import ADMIN_URL, free_port, machine  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def say(line: str) -> None:
    print(line, flush=True)


# --- databases, residents, processes ---------------------------------------------------


@contextmanager
def database(admin_url: str = ADMIN_URL):
    """A fresh, migrated database on the server at ``admin_url``; dropped afterwards."""
    from alerts.migrate import upgrade

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"varsla_faults_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def populate(url: str, residents: int, *, email: bool) -> None:
    """``residents`` verified subscribers inside the Gesunda test zone, in one statement each.
    Each contact is verified (a contact not yet verified receives nothing)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (phone, email, language, legal_basis, source, verified_at,"
                " phone_verified_at, email_verified_at, created_at, updated_at)"
                " SELECT '+4670' || lpad(g::text, 7, '0'),"
                " CASE WHEN :email THEN 'r' || g || '@example.se' END, 'sv', 'consent', 'bench',"
                " now(), now(), CASE WHEN :email THEN now() END, now(), now()"
                " FROM generate_series(1, :n) g"
            ),
            {"n": residents, "email": email},
        )
        conn.execute(
            text(
                "INSERT INTO subscriber_locations (subscriber_id, label, lon, lat, created_at)"
                " SELECT id, '', 14.566 + random() * 0.033, 60.876 + random() * 0.016, now()"
                " FROM subscribers"
            )
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def env_for(url: str, *, twilio=None, smtp_url: str = "", **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "VARSLA_DATABASE_URL": url,
        "VARSLA_SECRET_KEY": "bench",
        "VARSLA_BASE_URL": "https://varsla.example.se",
        "VARSLA_SMS_RATE": "0",
        "VARSLA_EMAIL_RATE": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    if twilio is not None:
        env.update(
            TWILIO_ACCOUNT_SID=twilio.account_sid,
            TWILIO_AUTH_TOKEN=twilio.auth_token,
            TWILIO_FROM="Varsla",
            VARSLA_TWILIO_API_URL=twilio.url,
        )
    if smtp_url:
        env["VARSLA_SMTP_URL"] = smtp_url
    return env


def spawn(command: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def worker(env: dict[str, str], *options: str, log: Path | None = None) -> subprocess.Popen:
    return spawn(["worker", "--concurrency", "16", *options], env, log)


def terminate(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def publish(url: str, channels: list[str]) -> tuple[str, float]:
    """Write, approve and publish a notice to the Gesunda zone; (its id, publish time)."""
    from alerts.app import create_app
    from alerts.extensions import db
    from alerts.models import Operator, Zone
    from alerts.notices.operations import publish_notice
    from tests.delivery import Desk

    app = create_app({"VARSLA_DATABASE_URL": url, "LOG_LEVEL": "WARNING", "SECRET_KEY": "b"})
    with app.app_context():
        session = db.sessionmaker()
        if session.scalar(select(Zone.id).where(Zone.slug == "gesunda")) is None:
            desk = Desk(session)
        else:  # a second notice: the zone and the two operators are there
            desk = Desk.__new__(Desk)
            desk.session = session
            desk.author, desk.approver = (
                session.scalar(select(Operator).where(Operator.email == f"{who}@test.varsla.se"))
                for who in ("author", "approver")
            )
        notice = desk.approved(channels=channels)
        started = time.time()
        publish_notice(session, notice, by=desk.approver)
        session.commit()
        notice_id = str(notice.id)
        session.close()
        db.require_engine().dispose()
    return notice_id, started


def statuses(url: str) -> Counter:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            from alerts.models import Delivery

            rows = conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
            return Counter({str(status): count for status, count in rows.all()})
    finally:
        engine.dispose()


def held_by(url: str, pid: int) -> set[str]:
    """Phone numbers of the rows a worker process holds under its lease (sending)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    text(
                        "SELECT s.phone FROM deliveries d JOIN subscribers s"
                        " ON s.id = d.subscriber_id WHERE d.status = 'sending'"
                        " AND d.lease_owner LIKE :owner"
                    ),
                    {"owner": f"%:{pid}:%"},
                ).scalars()
            )
    finally:
        engine.dispose()


def wait_settled(url: str, timeout_s: float, tick=None) -> float | None:
    """Until no delivery is pending or sending; the time it settled (None: timed out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        try:
            counts = statuses(url)
        except Exception:
            time.sleep(0.5)
            continue
        if counts and counts.get("pending", 0) + counts.get("sending", 0) == 0:
            return time.time()
        time.sleep(0.3)
    return None


def report(
    title: str,
    *,
    expected: set[str],
    received: list[str],
    counts: Counter,
    extra: list[str] = (),
) -> None:
    seen = Counter(received)
    lost = len(expected - set(seen))
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    say(f"## {title}")
    say(f"   {machine()}; {load()}")
    say(
        f"   sent {len(set(seen) & expected):,} of {len(expected):,} recipients; "
        f"lost {lost:,}; duplicated {duplicated:,} (messages {len(received):,})"
    )
    say(f"   deliveries by status: {dict(counts)}")
    for line in extra:
        say(f"   {line}")


# --- 1. workers and a scheduler killed ----------------------------------------------------


def scenario_kill(args) -> None:
    from tests.fakes.twilio_server import FakeTwilio

    lease = 6
    with database() as url, FakeTwilio(latency_s=0.02) as fake:
        populate(url, args.residents, email=False)
        env = env_for(url, twilio=fake, VARSLA_LEASE_S=str(lease), VARSLA_SCHEDULER_INTERVAL_S="2")
        workers = [worker(env) for _ in range(args.workers)]
        scheduler = spawn(["scheduler"], env)
        time.sleep(4)
        _, published = publish(url, ["sms"])
        kills = {"worker": 0, "scheduler": 0}
        in_flight: set[str] = set()
        last_kill = published
        rng = random.Random(13)

        def tick() -> None:
            nonlocal scheduler, last_kill
            if time.time() - last_kill < args.kill_every:
                return
            if statuses(url).get("pending", 0) == 0:
                return  # the tail: nothing left to interrupt
            victim = rng.randrange(len(workers))
            # Frozen first, so what it holds can be read before it dies holding it.
            workers[victim].send_signal(signal.SIGSTOP)
            in_flight.update(held_by(url, workers[victim].pid))
            workers[victim].kill()
            workers[victim].wait()
            kills["worker"] += 1
            workers[victim] = worker(env)
            if kills["worker"] % 3 == 0:
                scheduler.kill()
                scheduler.wait()
                kills["scheduler"] += 1
                scheduler = spawn(["scheduler"], env)
            last_kill = time.time()

        done = wait_settled(url, args.timeout, tick)
        terminate([*workers, scheduler])
        received = [m.to for m in fake.messages]
        expected = {f"+4670{n:07d}" for n in range(1, args.residents + 1)}
        twice = {phone for phone, n in Counter(received).items() if n > 1}
        report(
            f"kill: {args.workers} workers x 16 threads, SIGKILL one every {args.kill_every:g} s "
            f"(and the scheduler every third time), lease {lease} s",
            expected=expected,
            received=received,
            counts=statuses(url),
            extra=[
                f"kills: {kills['worker']} workers, {kills['scheduler']} scheduler",
                f"fan-out to settled: {done - published:.1f} s"
                if done
                else "did NOT settle in time",
                f"time to recover after the last kill: {done - last_kill:.1f} s "
                f"(a killed worker's rows wait for its lease, {lease} s)"
                if done
                else "",
                f"rows held by the killed workers: {len(in_flight):,}; duplicates among "
                f"them: {len(twice & in_flight):,}, outside them: {len(twice - in_flight):,}",
            ],
        )


# --- 2. the SMS provider down ----------------------------------------------------------------


def scenario_provider(args) -> None:
    from tests.fakes.twilio_server import FakeTwilio
    from tests.operations.outage import Outage

    half = args.outage / 2
    with database() as url, FakeTwilio(timeout_sleep_s=3, retry_after_s=0) as fake:
        outage = fake.faults = Outage()
        populate(url, args.residents, email=False)
        env = env_for(url, twilio=fake, VARSLA_TWILIO_TIMEOUT_S="2")
        workers = [worker(env) for _ in range(args.workers)]
        time.sleep(4)
        outage.start("500")
        _, published = publish(url, ["sms"])
        outage.schedule([("500", half), ("timeout", half)])
        phases: list[tuple[float, int]] = []
        while outage.mode is not None:
            phases.append((time.time(), outage.during))
            time.sleep(1)
        ended = time.time()
        done = wait_settled(url, args.timeout + 900)
        terminate(workers)
        per_s = Counter(int(t - published) for t, _ in phases)
        during = outage.during
        report(
            f"provider: Twilio answers 500 for {half:g} s, then times out (2 s client timeout) "
            f"for {half:g} s; {args.workers} workers; retry base 10 s, max 900 s, 6 attempts",
            expected={f"+4670{n:07d}" for n in range(1, args.residents + 1)},
            received=[m.to for m in fake.messages],
            counts=statuses(url),
            extra=[
                f"requests during the {args.outage:g} s outage: {during:,} "
                f"({during / max(args.residents, 1):.2f} per delivery, "
                f"{during / args.outage:,.0f}/s on average); after it: {outage.outside:,}",
                f"attempts in the outage's first 5 s: {phases[min(5, len(phases) - 1)][1]:,}; "
                f"in its last 10 s: {during - phases[max(0, len(phases) - 11)][1]:,}",
                f"time to recover (outage end to everything sent): {done - ended:.1f} s"
                if done
                else "did NOT settle in time",
            ],
        )
        del per_s


# --- 3. the SMTP server down -----------------------------------------------------------------


def scenario_smtp(args) -> None:
    from tests.fakes.smtp_server import FakeSmtp

    smtp = FakeSmtp()
    with database() as url:
        populate(url, args.residents, email=True)
        env = env_for(url, smtp_url=smtp.url)
        workers = [worker(env) for _ in range(args.workers)]
        time.sleep(4)
        publish(url, ["email"])
        time.sleep(args.outage)
        smtp.start()
        back = time.time()
        try:
            done = wait_settled(url, args.timeout + 900)
            terminate(workers)
            received = [r for mail in smtp.received for r in mail.rcpt_tos]
        finally:
            smtp.stop()
        counts = statuses(url)
        report(
            f"smtp: SMTP server down for {args.outage:g} s after publish, then up; "
            f"{args.workers} workers; retry base 10 s, max 900 s, 6 attempts",
            expected={f"r{n}@example.se" for n in range(1, args.residents + 1)},
            received=received,
            counts=counts,
            extra=[
                f"time to recover (server back to everything sent): {done - back:.1f} s"
                if done
                else "did NOT settle in time",
                f"SMTP sessions after it came back: {smtp.session_count}",
            ],
        )


# --- 4. PostgreSQL restarted -----------------------------------------------------------------


@contextmanager
def private_cluster():
    """A PostgreSQL 15 cluster of our own (initdb as postgres, a free port, trust auth)."""
    folder = Path(tempfile.mkdtemp(prefix="varsla-pg-"))
    os.chown(folder, *_postgres_ids())
    data, port = folder / "data", free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    ctl = str(PG_BIN / "pg_ctl")
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"

    def start() -> None:
        as_postgres(ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")

    def stop() -> None:
        as_postgres(ctl, "-D", str(data), "-m", "fast", "-w", "stop")

    start()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", start, stop
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        subprocess.run(["rm", "-rf", str(folder)])


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception:
        return 0


def scenario_postgres(args) -> None:
    from tests.fakes.twilio_server import FakeTwilio

    logs = Path(tempfile.mkdtemp(prefix="varsla-faults-"))
    with (
        private_cluster() as (admin_url, start, stop),
        database(admin_url) as url,
        FakeTwilio(latency_s=0.05) as fake,
    ):
        if True:
            populate(url, args.residents, email=False)
            env = env_for(url, twilio=fake, VARSLA_LEASE_S="30", VARSLA_SCHEDULER_INTERVAL_S="2")
            workers = [worker(env, log=logs / f"worker{i}.log") for i in range(args.workers)]
            scheduler = spawn(["scheduler"], env, logs / "scheduler.log")
            port = free_port()
            web = webtier.start(
                port,
                env,
                workers=2,
                stdout=open(logs / "web.log", "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
            time.sleep(5)
            _, published = publish(url, ["sms"])
            while len(fake.messages) < args.residents // 4:
                time.sleep(0.2)
            down_at = time.time()
            sent_before = len(fake.messages)
            stop()
            time.sleep(args.pg_down)
            start()
            up_at = time.time()
            web_ok = web_first = None
            sent_resumed = None
            deadline = time.time() + 120
            while time.time() < deadline and (web_ok is None or sent_resumed is None):
                if web_ok is None and probe(f"http://127.0.0.1:{port}/readyz") == 200:
                    web_ok = time.time()
                if web_first is None and probe(f"http://127.0.0.1:{port}/") == 200:
                    web_first = time.time()
                if sent_resumed is None:
                    # Sends in flight at the stop finish without the database: count a
                    # message asked for after the start.
                    sent_resumed = next(
                        (m.created for m in fake.messages if m.created > up_at), None
                    )
                time.sleep(0.2)
            done = wait_settled(url, args.timeout)
            alive = [p.poll() is None for p in workers]
            scheduler_alive = scheduler.poll() is None
            # The scheduler reaches the database again: a job it runs is visible in its log.
            web_after = probe(f"http://127.0.0.1:{port}/readyz")
            terminate([*workers, scheduler, web])
            counts = statuses(url)
            received = [m.to for m in fake.messages]

    def since(t):
        return f"{t - up_at:.1f} s" if t else "never"

    report(
        f"postgres: private PostgreSQL stopped (fast) for {args.pg_down:g} s once a quarter was "
        f"sent, then started; {args.workers} workers, a scheduler, {webtier.name()} (2 workers)",
        expected={f"+4670{n:07d}" for n in range(1, args.residents + 1)},
        received=received,
        counts=counts,
        extra=[
            f"sent before the stop: {sent_before:,}",
            f"after the start: web /readyz 200 in {since(web_ok)}, / 200 in {since(web_first)},"
            f" sending again in {since(sent_resumed)}",
            f"workers still running: {sum(alive)} of {len(alive)}; scheduler running: "
            f"{scheduler_alive}; web /readyz at the end: {web_after}",
            f"fan-out to settled: {done - published:.1f} s" if done else "did NOT settle",
            f"database down {up_at - down_at:.1f} s (stop, {args.pg_down:g} s, start); "
            f"logs in {logs}",
        ],
    )


# --- 5. the embedded SQLite default on a full or read-only disk ------------------------------


def scenario_sqlite(args) -> None:
    from alerts.app import create_app
    from alerts.extensions import db
    from alerts.migrate import upgrade
    from alerts.models import Delivery, Notice
    from tests.delivery import Desk, add_residents
    from tests.factories import api_headers

    if os.geteuid() != 0:
        say("## sqlite: needs root to mount a small tmpfs; skipped")
        return
    mount = Path(tempfile.mkdtemp(prefix="varsla-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        url = f"sqlite:///{mount / 'varsla.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app({"VARSLA_DATABASE_URL": url, "LOG_LEVEL": "ERROR", "SECRET_KEY": "b"})
        client = app.test_client()
        with app.app_context():
            session = db.sessionmaker()
            desk = Desk(session)
            add_residents(session, args.residents)
            notices = [desk.approved(channels=["sms"]) for _ in range(2)]
            headers = api_headers(session, desk.approver)
            session.commit()
            ids = [str(n.id) for n in notices]
            session.close()
            db.require_engine().dispose()
        used_kb = int(
            subprocess.run(
                ["du", "-sk", str(mount)], capture_output=True, text=True
            ).stdout.split()[0]
        )
        subprocess.run(["mount", "-o", f"remount,size={used_kb + 96}k", str(mount)], check=True)

        def attempt(notice_id: str) -> tuple[int, str, float]:
            started = time.perf_counter()
            with app.app_context():
                response = client.post(
                    f"/api/v1/notices/{notice_id}/publish", json={}, headers=headers
                )
                body = response.get_json() or {}
                db.require_engine().dispose()
            return response.status_code, body.get("detail", ""), time.perf_counter() - started

        def state(notice_id: str) -> tuple[str, int]:
            engine = make_engine(url)
            with engine.connect() as conn:
                status = conn.scalar(select(Notice.status).where(Notice.id == uuid.UUID(notice_id)))
                rows = conn.scalar(
                    select(func.count()).where(Delivery.notice_id == uuid.UUID(notice_id))
                )
            engine.dispose()
            return str(status), rows

        full = attempt(ids[0])
        full_state = state(ids[0])
        with app.app_context():
            page = client.get("/").status_code
            db.require_engine().dispose()
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        read_only = attempt(ids[1])
        with app.app_context():
            ro_page = client.get("/").status_code
            db.require_engine().dispose()
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        ro_state = state(ids[1])
        again = attempt(ids[0])
        again_state = state(ids[0])
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        mount.rmdir()
    say(f"## sqlite: the embedded default on a tmpfs, {args.residents:,} residents")
    say(f"   {machine()}; {load()}")
    say(
        f"   disk full (tmpfs shrunk to what is used + 96 kB): publish answered {full[0]} in "
        f"{full[2]:.2f} s: {full[1]!r}; notice {full_state[0]}, {full_state[1]} deliveries "
        f"written; public page {page}"
    )
    say(
        f"   read-only (remounted ro): publish answered {read_only[0]}: {read_only[1]!r}; notice "
        f"{ro_state[0]}, {ro_state[1]} deliveries written; public page {ro_page}"
    )
    say(
        f"   space back: publish answered {again[0]}; notice {again_state[0]}, "
        f"{again_state[1]:,} deliveries"
    )


SCENARIOS = {
    "kill": scenario_kill,
    "provider": scenario_provider,
    "smtp": scenario_smtp,
    "postgres": scenario_postgres,
    "sqlite": scenario_sqlite,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds (provider, smtp)")
    parser.add_argument("--kill-every", type=float, default=2.0, help="seconds (kill)")
    parser.add_argument("--pg-down", type=float, default=5.0, help="seconds (postgres)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    args = parser.parse_args(argv)
    started = time.time()
    for name in SCENARIOS if args.scenario == "all" else [args.scenario]:
        SCENARIOS[name](args)
    say(f"(total {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
