"""The public read path: granian + Varsla next to nginx serving the same bytes as files.

Run: ``.venv/bin/python bench/feeds.py`` (about two minutes). Needs ``wrk`` and
``nginx`` (Debian: ``apt-get install -y wrk nginx``); without wrk it stops and
says so (``--python-client`` runs a Python client instead, but that client tops
out far below nginx, so its ratios are printed as meaningless).

Builds a temporary SQLite database with 1,000 public notices through the
notice services (900 active, 100 ended within the retention window, spread
over 20 zones, every one with Swedish and English text), starts the web tier as
production does (granian with ``deploy/granian.env``; ``--workers``, ``--threads``) and nginx
with files holding the exact bytes the app answered, and measures in the same
run, with one wrk thread: the Atom and RSS feeds and ``/api/v1/active`` (200
and 304 with ``If-None-Match``) and the home page (200). Prints each figure
with nginx's, the ratio and its goal (>= 0.25 for 200s, >= 0.1 for 304s), the
first render after a change (a notice published through the services; goal
< 200 ms), the feed's size (goal <= 900 KB), the machine and its load. Stops
everything it started.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import webtier  # noqa: E402

NOTICES = 1000
ENDED = 100
ZONES = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, path: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path}")


def build_database(url: str) -> None:
    """Zones, two operators and 1,000 published notices, written through the services."""
    from alerts.app import create_app
    from alerts.extensions import db
    from alerts.migrate import upgrade
    from alerts.models import Zone
    from alerts.notices import operations as services
    from alerts.notices.schemas import CancelIn, NoticeIn
    from alerts.operators.auth import create_operator

    app = create_app({"VARSLA_DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade(db.engine)
        with db.begin() as session:
            for i in range(ZONES):
                lon, lat = 14.0 + (i % 5) * 0.1, 60.5 + (i // 5) * 0.1
                ring = [[lon, lat], [lon + 0.08, lat], [lon + 0.08, lat + 0.08], [lon, lat + 0.08]]
                session.add(
                    Zone(
                        slug=f"zon-{i}",
                        name=f"Zon {i}",
                        kind="water_supply",
                        geometry={"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                        min_lon=lon,
                        min_lat=lat,
                        max_lon=lon + 0.08,
                        max_lat=lat + 0.08,
                    )
                )
            session.flush()
            author = create_operator(
                session, "author@bench.varsla", role="author", password="x" * 12
            )
            approver = create_operator(
                session, "approver@bench.varsla", role="approver", password="x" * 12
            )
        expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        for start in range(0, NOTICES, 100):
            with db.begin() as session:
                session.add_all([author, approver])
                for n in range(start, start + 100):
                    data = NoticeIn.model_validate(
                        {
                            "category": "water" if n % 3 else "roads",
                            "severity": ("Severe", "Moderate", "Minor")[n % 3],
                            "urgency": "Immediate",
                            "certainty": "Observed",
                            "texts": {
                                "sv": {
                                    "headline": f"Koka vattnet i Zon {n % ZONES} (nr {n})",
                                    "description": "Prover visar bakterier i dricksvattnet. "
                                    "Kommunen spolar ledningarna och tar nya prover.",
                                    "instruction": "Koka vatten till dryck och matlagning.",
                                },
                                "en": {
                                    "headline": f"Boil water in Zone {n % ZONES} (no {n})",
                                    "description": "Samples show bacteria in the water.",
                                    "instruction": "Boil water for drinking and cooking.",
                                },
                            },
                            "area": {"zones": [f"zon-{n % ZONES}"]},
                            "expires": expires,
                        }
                    )
                    notice = services.create_notice(session, data, by=author)
                    services.submit_notice(session, notice, by=author)
                    services.approve_notice(session, notice, by=approver)
                    services.publish_notice(session, notice, by=approver)
                    if n >= NOTICES - ENDED:
                        services.cancel_notice(session, notice, CancelIn(), by=author)
                        services.approve_notice(session, notice, by=approver)
                        services.publish_notice(session, notice, by=approver)
        db.engine.dispose()


class PythonClient:
    """Keep-alive HTTP/1.1 connections in threads, for when wrk is not installed."""

    name = "python http.client"

    def run(self, port: int, path: str, headers: dict[str, str], seconds: float, conns: int):
        counts = [0] * conns
        bad = [0] * conns
        stop = time.monotonic() + seconds

        def worker(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            while time.monotonic() < stop:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                counts[i] += 1
                if response.status not in (200, 304):
                    bad[i] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(counts) / (time.monotonic() - started), sum(bad)


class Wrk:
    name = "wrk"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def run(self, port: int, path: str, headers: dict[str, str], seconds: float, conns: int):
        command = ["wrk", f"-t{self.threads}", f"-c{conns}", f"-d{int(seconds)}s"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        out = subprocess.run(
            [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
        ).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors = re.search(r"Socket errors:.*", out)
        if errors:
            print(f"      ({errors.group(0).strip()})")
        return rate, int(bad.group(1)) if bad else 0


def fetch(port: int, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    # The message object: header names in any case (granian sends them in lower case).
    return response.status, response.msg, response.read()


NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{ application/atom+xml atom; application/rss+xml rss; text/html html; }}
    default_type application/json;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        index index.html;
        location / {{ add_header Cache-Control "public, max-age=60"; charset utf-8; }}
    }}
}}
"""

#: (label, path, file under nginx's root, whether a 304 is measured too)
TARGETS = [
    ("Atom feed", "/feeds/notices.atom", "feeds/notices.atom", True),
    ("RSS feed", "/feeds/notices.rss", "feeds/notices.rss", True),
    ("/api/v1/active", "/api/v1/active", "api/v1/active", True),
    ("home page", "/", "index.html", False),
]
GOALS = {200: 0.25, 304: 0.1}
FIRST_RENDER_GOAL_MS = 200
FEED_SIZE_GOAL = 900_000


def publish_one(url: str) -> None:
    """A change, as an operator makes it: one more notice published through the services."""
    from sqlalchemy import select

    from alerts.app import create_app
    from alerts.extensions import db
    from alerts.models import Operator
    from alerts.notices import operations as services
    from alerts.notices.schemas import NoticeIn

    app = create_app({"VARSLA_DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    with app.app_context(), db.begin() as session:
        author = session.scalar(select(Operator).where(Operator.email == "author@bench.varsla"))
        approver = session.scalar(select(Operator).where(Operator.email == "approver@bench.varsla"))
        data = NoticeIn.model_validate(
            {
                "category": "water",
                "severity": "Severe",
                "urgency": "Immediate",
                "certainty": "Observed",
                "texts": {"sv": {"headline": f"Ny störning {time.time()}", "description": "x"}},
                "area": {"zones": ["zon-1"]},
            }
        )
        notice = services.create_notice(session, data, by=author)
        services.submit_notice(session, notice, by=author)
        services.approve_notice(session, notice, by=approver)
        services.publish_notice(session, notice, by=approver)
    db.engine.dispose()


def timed_fetch(port: int, path: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    status, _, body = fetch(port, path)
    assert status == 200, (path, status)
    return (time.perf_counter() - started) * 1000, body


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs"
        f" ({model or 'unknown model'}); Python {platform.python_version()},"
        f" {webtier.name()}, {nginx.replace('nginx version: ', '')}"
    )


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="granian and nginx workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per granian worker")
    parser.add_argument("--python-client", action="store_true", help="not wrk: no ratios")
    args = parser.parse_args()
    if args.python_client:
        client: Wrk | PythonClient = PythonClient()
    elif shutil.which("wrk"):
        client = Wrk(threads=1)
    else:
        sys.exit(
            "wrk is not installed: apt-get install -y wrk (the Python fallback client tops"
            " out near nginx's 3,700 req/s here, so its ratios mean nothing;"
            " --python-client runs it anyway without ratios)"
        )
    processes: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="varsla-bench-"))
    try:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        started = time.perf_counter()
        build_database(url)
        print(
            f"database: {NOTICES} notices ({ENDED} ended) in {time.perf_counter() - started:.1f} s"
        )

        app_port, nginx_port = free_port(), free_port()
        env = {
            **os.environ,
            "VARSLA_DATABASE_URL": url,
            "VARSLA_SECRET_KEY": "bench",
            "VARSLA_BASE_URL": "https://varsla.bench.example",
            "PYTHONPATH": str(ROOT),
        }
        processes.append(webtier.start(app_port, env, workers=args.workers, threads=args.threads))
        wait_for(app_port, "/healthz")
        cold_ms, _ = timed_fetch(app_port, "/feeds/notices.atom")
        print(f"first render after start (Atom, one worker): {cold_ms:.0f} ms")
        # Every worker renders once per change; warm them all, then change something.
        for _label, path, _, _ in TARGETS:
            client.run(app_port, path, {}, 2, args.connections)
        publish_one(url)
        # Another process published: a worker trusts the version it read for up to
        # VARSLA_PUBLIC_VERSION_TTL_MS, so the change shows (and renders) after that.
        time.sleep(int(os.environ.get("VARSLA_PUBLIC_VERSION_TTL_MS", "1000")) / 1000 + 0.1)
        renders = []
        for label, path, _, _ in TARGETS:
            ms, _ = timed_fetch(app_port, path)
            renders.append((label, ms))

        tmp.chmod(0o755)  # nginx workers run as an unprivileged user when started as root
        bodies: dict[str, tuple[bytes, str]] = {}
        for _label, path, file, _ in TARGETS:
            status, headers, body = fetch(app_port, path)
            assert status == 200, (path, status)
            target = tmp / "www" / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            bodies[path] = (body, headers["ETag"])
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=args.workers, tmp=tmp, port=nginx_port))
        processes.append(
            subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stderr=subprocess.PIPE)
        )
        wait_for(nginx_port, "/")
        nginx_etags = {}
        for _label, path, _, _ in TARGETS:
            status, headers, body = fetch(nginx_port, path)
            assert status == 200 and body == bodies[path][0], (path, status, len(body))
            nginx_etags[path] = headers["ETag"]
            for port, tag in ((app_port, bodies[path][1]), (nginx_port, headers["ETag"])):
                assert fetch(port, path, {"If-None-Match": tag})[0] == 304, (port, path)
        for _label, path, _, _ in TARGETS:  # warm every worker for the new content
            client.run(app_port, path, {}, 2, args.connections)

        print(
            f"client: {client.name}, {args.connections} keep-alive connections,"
            f" {args.seconds:.0f} s per run; granian (deploy/granian.env)"
            f" {args.workers} workers x {args.threads} threads, {args.workers} nginx workers,"
            " all on this machine's cores"
        )
        meaningful = isinstance(client, Wrk)
        print(f"{'':26}{'varsla':>10}{'nginx':>10}{'ratio':>8}  goal")
        failed = []
        for label, path, _, with_304 in TARGETS:
            for status in (200, 304) if with_304 else (200,):
                rates = []
                for port, tag in ((app_port, bodies[path][1]), (nginx_port, nginx_etags[path])):
                    headers = {"If-None-Match": tag} if status == 304 else {}
                    rate, bad = client.run(port, path, headers, args.seconds, args.connections)
                    if bad:
                        print(f"      ({bad} unexpected responses from port {port})")
                    rates.append(rate)
                ratio = rates[0] / rates[1] if rates[1] else 0.0
                goal = GOALS[status]
                verdict = ("ok" if ratio >= goal else "MISSED") if meaningful else "meaningless"
                if meaningful and ratio < goal:
                    failed.append(f"{label} {status}")
                print(
                    f"  {label + ' ' + str(status):24}{rates[0]:10,.0f}{rates[1]:10,.0f}"
                    f"{ratio:8.3f}  >= {goal} {verdict} (req/s)"
                )
        for label, ms in renders:
            verdict = "ok" if ms < FIRST_RENDER_GOAL_MS else "MISSED"
            print(
                f"  first render after a change, {label}: {ms:.0f} ms"
                f" (goal < {FIRST_RENDER_GOAL_MS} ms) {verdict}"
            )
        for path in ("/feeds/notices.atom", "/feeds/notices.rss"):
            size = len(bodies[path][0])
            verdict = "ok" if size <= FEED_SIZE_GOAL else "MISSED"
            print(f"  {path}: {size:,} bytes (goal <= {FEED_SIZE_GOAL:,}) {verdict}")
        print(f"machine: {machine()}")
        print(f"load: {load()}")
        if failed:
            print(f"missed: {', '.join(failed)}")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(
                    signal.SIGTERM if process.args[0] != "nginx" else signal.SIGQUIT
                )
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
