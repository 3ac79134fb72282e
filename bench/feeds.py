"""Feed serving: gunicorn + Varsla next to nginx serving the same bytes as a file.

Run: ``.venv/bin/python bench/feeds.py`` (about a minute and a half).

Builds a temporary SQLite database with 1,000 public notices through the
notice services (900 active, 100 ended within the retention window, spread
over 20 zones, every one with Swedish and English text), starts gunicorn with
the app and nginx with a file holding the exact bytes of
``/feeds/notices.atom``, and measures requests per second with one client
(``wrk`` when installed, else a Python keep-alive client in threads) for full
200 responses and for 304s (``If-None-Match``). Prints the figures, the
app/nginx ratio and the machine. Stops everything it started.
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

FEED_PATH = "/feeds/notices.atom"
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

    app = create_app({"VARSLA_DATABASE_URL": url, "SECRET_KEY": "bench"})
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
    return response.status, dict(response.getheaders()), response.read()


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
    types {{ application/atom+xml atom; }}
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location / {{ add_header Cache-Control "public, max-age=60"; charset utf-8; }}
    }}
}}
"""


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
    import gunicorn

    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs"
        f" ({model or 'unknown model'}); Python {platform.python_version()},"
        f" gunicorn {gunicorn.__version__}, {nginx.replace('nginx version: ', '')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn and nginx workers")
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    args = parser.parse_args()
    client = Wrk(threads=2) if shutil.which("wrk") and not args.python_client else PythonClient()
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
        gunicorn = Path(sys.executable).with_name("gunicorn")
        processes.append(
            subprocess.Popen(
                [
                    str(gunicorn),
                    "--chdir",
                    str(ROOT),
                    "-b",
                    f"127.0.0.1:{app_port}",
                    "-w",
                    str(args.workers),
                    "-k",
                    "gthread",
                    "--threads",
                    "4",
                    "--log-level",
                    "warning",
                    "wsgi:app",
                ],
                env=env,
            )
        )
        wait_for(app_port, "/healthz")
        cold = time.perf_counter()
        status, headers, body = fetch(app_port, FEED_PATH)
        cold = time.perf_counter() - cold
        assert status == 200, status
        etag = headers["ETag"]
        print(f"feed: {len(body):,} bytes, first (uncached) render {cold * 1000:.0f} ms")

        tmp.chmod(0o755)  # nginx workers run as an unprivileged user when started as root
        (tmp / "www" / "feeds").mkdir(parents=True)
        (tmp / "www" / "feeds" / "notices.atom").write_bytes(body)
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=args.workers, tmp=tmp, port=nginx_port))
        processes.append(
            subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stderr=subprocess.PIPE)
        )
        wait_for(nginx_port, FEED_PATH)
        nginx_status, nginx_headers, nginx_body = fetch(nginx_port, FEED_PATH)
        assert nginx_status == 200, nginx_status
        assert nginx_body == body, f"nginx served {len(nginx_body)} bytes, {nginx_headers}"
        nginx_etag = nginx_headers["ETag"]
        for port, tag in ((app_port, etag), (nginx_port, nginx_etag)):
            assert fetch(port, FEED_PATH, {"If-None-Match": tag})[0] == 304

        # Warm every gunicorn worker's render cache before measuring.
        client.run(app_port, FEED_PATH, {}, 3, args.connections)

        print(
            f"client: {client.name}, {args.connections} keep-alive connections,"
            f" {args.seconds:.0f} s per run; {args.workers} gunicorn gthread workers x 4 threads,"
            f" {args.workers} nginx workers"
        )
        results = {}
        for label, port, headers_ in (
            ("app   200", app_port, {}),
            ("nginx 200", nginx_port, {}),
            ("app   304", app_port, {"If-None-Match": etag}),
            ("nginx 304", nginx_port, {"If-None-Match": nginx_etag}),
        ):
            rate, bad = client.run(port, FEED_PATH, headers_, args.seconds, args.connections)
            results[label] = rate
            print(f"  {label}: {rate:10,.0f} req/s" + (f"  ({bad} bad responses)" if bad else ""))
        print(
            f"ratio app/nginx: full responses {results['app   200'] / results['nginx 200']:.3f},"
            f" 304s {results['app   304'] / results['nginx 304']:.3f}"
        )
        print(f"machine: {machine()}")
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
