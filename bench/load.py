"""Load on the public pages while a 100,000-resident fan-out runs, on PostgreSQL.

Run: ``.venv/bin/python bench/load.py`` (PostgreSQL on 127.0.0.1:5432, trust auth;
Debian's ``wrk``). Loopback only. Creates and drops its own database, starts a fake
Twilio (``python -m tests.fakes.twilio_server``, 50 ms per message), ``varsla worker``
processes and the web tier as production runs it (granian, deploy/granian.env), publishes
a notice to 100,000 residents, and while the workers send it, drives each public
endpoint in turn with wrk (bench/wrk/report.lua: bounded in requests per thread as
well as in time). Then the same again through nginx with the production site file
(deploy/nginx/varsla.conf: TLS with a self-signed certificate, its 10-30 s cache of
banner data and feeds); ``--no-nginx`` skips that round. Prints requests/s,
p50/p95/p99 latency and the error rate per endpoint, the machine and its load, and
how many SMS went out meanwhile.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import webtier  # noqa: E402
from bench.dispatch import free_port, machine, start_fake  # noqa: E402
from bench.faults import (  # noqa: E402
    database,
    env_for,
    load,
    populate,
    probe,
    publish,
    statuses,
    terminate,
    worker,
)

LUA = ROOT / "bench" / "wrk" / "report.lua"
SITE = ROOT / "deploy" / "nginx" / "varsla.conf"


def start_nginx(folder: Path, upstream_port: int) -> tuple[subprocess.Popen, int]:
    """nginx with deploy/nginx/varsla.conf (TLS with a self-signed certificate, its cache),
    on loopback ports, in front of the web tier on ``upstream_port``; (process, TLS port)."""
    from tests.fakes.smtp_server import self_signed_tls

    folder.chmod(0o755)  # nginx's workers run unprivileged when started as root
    self_signed_tls(folder, "varsla.example.se")
    (folder / "key.pem").chmod(0o644)
    cache = folder / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    tls_port, http_port = free_port(), free_port()
    site = SITE.read_text()
    for original, ours in (
        ("/etc/ssl/varsla/fullchain.pem", str(folder / "cert.pem")),
        ("/etc/ssl/varsla/privkey.pem", str(folder / "key.pem")),
        ("/var/cache/nginx/varsla", str(cache)),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
    ):
        assert original in site, original
        site = site.replace(original, ours)
    (folder / "varsla.conf").write_text(site)
    temp = "".join(
        f"    {kind}_temp_path {folder}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"worker_processes 2;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{\n    access_log off;\n{temp}"
        f"    include {folder}/varsla.conf;\n}}\n"
    )
    process = subprocess.Popen(
        ["nginx", "-p", str(folder), "-e", str(folder / "error.log"), "-c",
         str(folder / "nginx.conf"), "-g", "daemon off;"],
    )  # fmt: skip
    return process, tls_port


class _Fake:
    """The fake Twilio's coordinates, as env_for expects them."""

    def __init__(self, url: str) -> None:
        from tests.fakes.twilio_server import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

        self.url, self.account_sid, self.auth_token = url, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN


def wrk(url: str, *, duration_s: float, connections: int, max_requests: int) -> dict:
    threads = 2
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        str(max_requests // threads),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 30)
    line = next((x for x in result.stdout.splitlines() if x.startswith('{"requests"')), None)
    if line is None:
        raise RuntimeError(f"wrk said: {result.stdout}\n{result.stderr}")
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="varsla worker processes")
    parser.add_argument("--web-workers", type=int, default=3, help="granian workers")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=500_000, help="per endpoint")
    parser.add_argument(
        "--no-nginx",
        action="store_true",
        help="skip the second round through nginx (deploy/nginx/varsla.conf, TLS, its cache)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    with database() as url:
        populate(url, args.residents, email=False)
        fake, fake_url = start_fake(50)
        processes: list[subprocess.Popen] = [fake]
        try:
            env = env_for(url, twilio=_Fake(fake_url))
            port = free_port()
            web = webtier.start(
                port,
                env,
                workers=args.web_workers,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(web)
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while probe(f"{base}/readyz") != 200 and time.time() < deadline:
                time.sleep(0.3)
            # A notice the pages show (active), then the big one: its fan-out runs beside.
            shown, _ = publish(url, ["feed", "banner"])
            workers = [worker(env) for _ in range(args.workers)]
            processes += workers
            time.sleep(3)
            fanout_started = time.time()
            publish(url, ["sms"])
            fanout_written = time.time() - fanout_started
            endpoints = [
                ("home page", "/"),
                ("notice page", f"/notices/{shown}"),
                ("banner data /api/v1/active", "/api/v1/active?zone=gesunda"),
                ("RSS feed", "/feeds/notices.rss"),
                ("Atom feed", "/feeds/notices.atom"),
                ("subscribe page", "/subscribe"),
            ]
            print(
                f"# load — {machine()}; PostgreSQL, {webtier.name()} x {args.web_workers}, "
                f"{args.workers} varsla workers (16 threads, fake Twilio 50 ms)"
            )
            print(
                f"# fan-out: {args.residents:,} rows written in {fanout_written:.1f} s "
                f"(publish to commit); wrk: 2 threads, {args.connections} connections, "
                f"{args.duration:g} s or {args.max_requests:,} requests per endpoint"
            )
            rounds = [("granian directly", base)]
            if not args.no_nginx and shutil.which("nginx"):
                folder = Path(tempfile.mkdtemp(prefix="varsla-load-nginx-"))
                nginx, tls_port = start_nginx(folder, port)
                processes.append(nginx)
                front = f"https://127.0.0.1:{tls_port}"
                rounds.append(("through nginx (TLS, deploy/nginx/varsla.conf, its cache)", front))
                deadline = time.time() + 10
                while status_of(f"{front}/readyz") != 200 and time.time() < deadline:
                    time.sleep(0.2)
            for title, front in rounds:
                print(f"## {title}")
                print(
                    f"{'endpoint':32} {'status':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
                    f"{'p99 ms':>8} {'errors':>7}  sent meanwhile, load"
                )
                for label, path in endpoints:
                    measure_endpoint(label, front + path, url, args)
            counts = statuses(url)
            print(
                f"# fan-out after the load: {dict(counts)} "
                f"({time.time() - fanout_started:.0f} s after publish)"
            )
            print("# (a non-2xx answer counts as an error)")
        finally:
            terminate(processes)


def status_of(address: str) -> int:
    """The status a GET answers (0: no answer); a self-signed certificate is accepted."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(address, timeout=5, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def measure_endpoint(label: str, address: str, url: str, args) -> None:
    """One wrk run against ``address``, printed as a row, with the SMS sent meanwhile."""
    status = status_of(address)
    before = statuses(url).get("accepted", 0)
    figures = wrk(
        address,
        duration_s=args.duration,
        connections=args.connections,
        max_requests=args.max_requests,
    )
    after = statuses(url).get("accepted", 0)
    seconds = figures["duration_us"] / 1e6
    errors = sum(v for k, v in figures.items() if k.startswith("errors_"))
    rate = errors / max(figures["requests"], 1)
    # wrk divides by the whole -d duration even when the request budget ran out first:
    # the rate is then only a lower bound.
    bound = ">=" if figures["requests"] >= args.max_requests - 2 else "  "
    print(
        f"{label:32} {status:>6} {bound}{figures['requests'] / seconds:>6,.0f} "
        f"{figures['p50_us'] / 1000:>8.1f} {figures['p95_us'] / 1000:>8.1f} "
        f"{figures['p99_us'] / 1000:>8.1f} {rate:>7.1%}  "
        f"{(after - before) / seconds:,.0f} SMS/s, {load()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
