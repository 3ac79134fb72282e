"""The production files under deploy/ are valid: nginx -t, systemd-analyze verify, compose.

nginx must be checked under CI=true (.ci/run installs nginx-light); elsewhere a missing
tool skips its test with the reason. The compose file is parsed with PyYAML when it is
installed; without it, a small indentation-based reader checks the same things.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fakes.smtp_server import free_port, self_signed_tls

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IN_CI = os.environ.get("CI", "").lower() == "true"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        if IN_CI:
            pytest.fail("CI=true but nginx is not installed (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return found


def test_nginx_accepts_the_site_configuration(tmp_path):
    nginx = _nginx()
    self_signed_tls(tmp_path, "varsla.example.se")  # cert.pem, key.pem
    cache = tmp_path / "cache"
    cache.mkdir()
    site = (DEPLOY / "nginx" / "varsla.conf").read_text()
    for original, ours in (
        ("/etc/ssl/varsla/fullchain.pem", str(tmp_path / "cert.pem")),
        ("/etc/ssl/varsla/privkey.pem", str(tmp_path / "key.pem")),
        ("/var/cache/nginx/varsla", str(cache)),
    ):
        assert original in site, original
        site = site.replace(original, ours)
    (tmp_path / "varsla.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log off;\n"
        f"    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    include {tmp_path}/varsla.conf;\n"
        "}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
         "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_check_catches_a_broken_configuration(tmp_path):
    """The check above can fail: the same harness rejects a directive nginx does not know."""
    nginx = _nginx()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{ proxy_cache_nonsense on; }}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
         "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode != 0


def _verify(units: list[Path], tmp_path: Path) -> subprocess.CompletedProcess:
    """systemd-analyze verify on copies whose /opt/varsla paths point at this checkout."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (part of systemd)")
    copies = []
    for unit in units:
        text = unit.read_text().replace("/opt/varsla", str(ROOT))
        (tmp_path / unit.name).write_text(text)
        copies.append(str(tmp_path / unit.name))
    # The units name a 'varsla' user that this machine need not have.
    return subprocess.run(
        [tool, "verify", "--man=no", *copies], capture_output=True, text=True, cwd=tmp_path
    )


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    assert {u.name for u in UNITS} >= {
        "varsla-web.service",
        "varsla-worker@.service",
        "varsla-scheduler.service",
        "varsla-upgrade.service",
    }
    if not (ROOT / ".venv" / "bin" / "granian").exists():
        pytest.skip("the checkout has no .venv/bin/granian for the units to point at")
    result = _verify(UNITS, tmp_path)
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip()
        and "Failed to resolve user" not in line
        and "Failed to resolve group" not in line
    ]
    assert result.returncode == 0 or not problems, "\n".join(problems)
    assert not problems, "\n".join(problems)


def test_systemd_check_catches_a_broken_unit(tmp_path):
    broken = tmp_path / "src" / "varsla-broken.service"
    broken.parent.mkdir()
    broken.write_text("[Service]\nExecStart=relative/path --flag\nRestart=sometimes\n")
    result = _verify([broken], tmp_path)
    assert result.returncode != 0 or result.stderr.strip()


def _compose() -> dict:
    text = (DEPLOY / "compose.yaml").read_text()
    try:
        import yaml
    except ImportError:
        return _read_simple_yaml(text)
    return yaml.safe_load(text)


def _read_simple_yaml(text: str) -> dict:
    """Without PyYAML: the top-level keys and, under ``services:``, each service's direct
    keys with the text of their value (nested lines included); anchors are not resolved."""
    top: dict = {}
    current_top = current_service = current_key = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        key, _, rest = raw.strip().partition(":")
        if indent == 0:
            current_top, current_service, current_key = key, None, None
            top[key] = {}
        elif indent == 2 and current_top is not None:
            top[current_top][key] = {}
            current_service, current_key = key, None
        elif indent == 4 and current_top == "services" and current_service is not None:
            top["services"][current_service][key] = rest.strip()
            current_key = key
        elif indent > 4 and current_key is not None and current_service is not None:
            top["services"][current_service][current_key] += " " + raw.strip()
    return top


def test_compose_file_has_every_role_and_migrates_before_serving():
    compose = _compose()
    services = compose["services"]
    assert {"db", "migrate", "web", "worker", "scheduler"} <= set(services)
    for role in ("web", "worker", "scheduler"):
        depends = str(services[role].get("depends_on"))
        assert "migrate" in depends and "service_completed_successfully" in depends, role
    assert "service_healthy" in str(services["migrate"].get("depends_on"))
    assert "db" in str(services["migrate"].get("depends_on"))
    if isinstance(services["migrate"].get("command"), list):
        assert services["migrate"]["command"] == ["varsla", "db", "upgrade"]
        assert services["worker"]["environment"]["VARSLA_DATABASE_URL"].startswith("postgresql://")
    for path in ("Containerfile", "varsla.env.example", "granian.env",
                 "prometheus/varsla-alerts.yml"):  # fmt: skip
        assert (DEPLOY / path).exists(), path


def test_alert_rules_name_only_metrics_varsla_exports():
    import re

    from alerts.app import create_app

    rules = "\n".join(
        line
        for line in (DEPLOY / "prometheus" / "varsla-alerts.yml").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    used = set(re.findall(r"\b(varsla_[a-z_]+)", rules))
    app = create_app({"VARSLA_DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    from alerts.web.observability import metrics_of

    declared = set()
    for metric in metrics_of(app).registry.collect():
        declared |= {metric.name, *(s.name for s in metric.samples)}
        declared |= {f"{metric.name}_total", f"{metric.name}_count", f"{metric.name}_bucket"}
    # Database gauges are built at scrape; their names are in alerts/dispatch/metrics.py.
    source = (ROOT / "alerts" / "dispatch" / "metrics.py").read_text()
    source += (ROOT / "alerts" / "notices" / "jobs.py").read_text()
    declared |= set(re.findall(r'"(varsla_[a-z_]+)"', source))
    assert used and used <= declared, used - declared


def _granian_env() -> dict[str, str]:
    """deploy/granian.env as systemd's EnvironmentFile reads it: NAME=value lines."""
    settings = {}
    for line in (DEPLOY / "granian.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip()
    return settings


def test_the_web_tier_runs_as_the_unit_starts_it(database_url, tmp_path):
    """``granian wsgi:app`` with nothing but deploy/granian.env (and the site's settings,
    as /etc/varsla/varsla.env gives them) serves Varsla: pages, the API, and a poller's
    304; SIGTERM stops it."""
    settings = _granian_env()
    assert settings["GRANIAN_INTERFACE"] == "wsgi"
    assert (settings["GRANIAN_HOST"], settings["GRANIAN_PORT"]) == ("127.0.0.1", "8000")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GRANIAN_", "VARSLA_"))},
        **settings,
        "GRANIAN_PORT": str(port),  # a site's override, as varsla.env would give it
        "GRANIAN_WORKERS": "1",
        "VARSLA_DATABASE_URL": database_url,
        "VARSLA_SECRET_KEY": "deploy-test",
        "VARSLA_BASE_URL": "https://varsla.example.se",
        "VARSLA_TRUSTED_PROXIES": "1",
    }
    granian = Path(sys.executable).with_name("granian")
    server = subprocess.Popen(
        [str(granian), "wsgi:app"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    http = requests.Session()
    http.trust_env = False
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                if http.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "granian did not answer within 30 s"
            time.sleep(0.1)
        home = http.get(f"{base}/", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert home.status_code == 200 and "text/html" in home.headers["Content-Type"]
        # Behind the one trusted proxy, the request was https: HSTS says so.
        assert "max-age" in home.headers["Strict-Transport-Security"]
        feed = http.get(f"{base}/feeds/notices.atom", timeout=10)
        assert feed.status_code == 200 and feed.content.startswith(b"<?xml")
        again = http.get(
            f"{base}/feeds/notices.atom", headers={"If-None-Match": feed.headers["ETag"]}
        )
        assert again.status_code == 304 and again.content == b""
        assert http.get(f"{base}/api/v1/active", timeout=10).json()["items"] == []
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0
