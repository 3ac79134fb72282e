"""/metrics, scraped with prometheus_client's own parser, follows a notice as it goes out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from alerts.scheduling import run_all_once
from tests.conftest import running_app
from tests.delivery import create_subscriber, expand_all, run_dispatcher

ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """Every sample by (name, labels); each family also as ("family", name)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        samples[("family", frozenset({("name", family.name)}))] = 1
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def scrape(client, **kwargs) -> Samples:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def families(samples: Samples) -> set[str]:
    return {dict(labels)["name"] for name, labels in samples if name == "family"}


def test_metrics_follow_a_notice_from_publish_to_delivery(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    client = dispatch_app.test_client()
    create_subscriber(db_session, phone="+46701000001", email="anna@example.se")
    create_subscriber(db_session, phone="+46701000002")
    fake_twilio.faults["+46701000002"] = "21211"  # an invalid number: a provider error
    db_session.commit()

    before = scrape(client)
    for family in (
        "varsla_http_requests",
        "varsla_http_request_duration_seconds",
        "varsla_delivery_outcomes",
        "varsla_send_duration_seconds",
        "varsla_provider_errors",
        "varsla_fanout_rows",
        "varsla_publish_to_first_send_seconds",
        "varsla_scheduler_job_runs",
        "varsla_scheduler_job_failures",
        "varsla_queue_depth",
        "varsla_queue_oldest_due_age_seconds",
        "varsla_fanout_jobs_open",
        "varsla_fanout_oldest_open_age_seconds",
    ):
        assert family in families(before), family
    assert value(before, "varsla_queue_depth", channel="sms", status="pending") == 0

    notice = desk.publish(channels=["sms", "email"])
    published = scrape(client)
    # The publish wrote its fan-out job; a dispatcher writes the rows.
    assert value(published, "varsla_fanout_jobs_open", state="pending") == 1
    assert value(published, "varsla_queue_depth", channel="sms", status="pending") == 0
    expand_all(db_session)
    published = scrape(client)
    assert value(published, "varsla_fanout_jobs_open", state="pending") == 0
    assert value(published, "varsla_fanout_oldest_open_age_seconds") == 0
    assert value(published, "varsla_fanout_rows_total", channel="sms") == 2
    assert value(published, "varsla_fanout_rows_total", channel="email") == 1
    assert value(published, "varsla_fanout_duration_seconds_count") == 1
    assert value(published, "varsla_queue_depth", channel="sms", status="pending") == 2
    assert value(published, "varsla_queue_depth", channel="email", status="pending") == 1
    assert value(published, "varsla_deliveries", channel="sms", status="pending") == 2

    run_dispatcher(dispatch_app)
    delivered = scrape(client)
    assert value(delivered, "varsla_queue_depth", channel="sms", status="pending") == 0
    assert value(delivered, "varsla_queue_oldest_due_age_seconds", channel="sms") == 0
    outcomes = "varsla_delivery_outcomes_total"
    assert value(delivered, outcomes, channel="sms", status="accepted") == 1
    assert value(delivered, outcomes, channel="sms", status="failed") == 1
    assert value(delivered, outcomes, channel="email", status="accepted") == 1
    assert value(delivered, "varsla_send_duration_seconds_count", channel="sms") == 2
    assert value(delivered, "varsla_send_duration_seconds_count", channel="email") == 1
    assert value(delivered, "varsla_provider_errors_total", channel="sms", code="21211") == 1
    assert value(delivered, "varsla_deliveries", channel="sms", status="accepted") == 1
    assert value(delivered, "varsla_dispatch_batches_total") >= 1
    first_send = value(delivered, "varsla_publish_to_first_send_seconds", channel="sms")
    assert ("varsla_publish_to_first_send_seconds", frozenset({("channel", "sms")})) in delivered
    assert 0 <= first_send < 60
    assert value(delivered, "varsla_notices", status="active") == 1

    # The public pages and the scrapes themselves are counted by URL rule and status.
    assert client.get(f"/notices/{notice.id}").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    run_all_once(dispatch_app)
    later = scrape(client)
    http = "varsla_http_requests_total"
    assert value(later, http, endpoint="/metrics", method="GET", status="200") == 4
    assert value(later, http, endpoint="/notices/<notice_id>", method="GET", status="200") == 1
    assert value(later, http, endpoint="(unmatched)", method="GET", status="404") == 1
    assert value(later, "varsla_http_request_duration_seconds_count", endpoint="/metrics") == 4
    runs = "varsla_scheduler_job_runs_total"
    assert value(later, runs, job="reclaim_leases") == value(before, runs, job="reclaim_leases") + 1
    assert value(later, "varsla_scheduler_job_failures_total", job="reclaim_leases") == 0


def test_a_failing_job_is_counted(app):
    from alerts.scheduling import register_job, run_job

    def broken(session):
        raise RuntimeError("boom")

    register_job(app, "broken", broken)
    run_job(app, "broken", broken)
    samples = scrape(app.test_client())
    assert value(samples, "varsla_scheduler_job_failures_total", job="broken") == 1
    assert value(samples, "varsla_scheduler_job_runs_total", job="broken") == 1


def test_metrics_need_the_token_when_one_is_set(database_url, tmp_path):
    with running_app(database_url, tmp_path, VARSLA_METRICS_TOKEN="s3cret-token") as app:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
        remote = {"REMOTE_ADDR": "203.0.113.9"}
        good = {"Authorization": "Bearer s3cret-token"}
        assert client.get("/metrics", headers=good, environ_base=remote).status_code == 200


def test_metrics_without_a_token_answer_loopback_only(app):
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 401
    # Relayed by a proxy on the same host: the client is somewhere else.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
    assert proxied.status_code == 401


def test_counters_are_summed_over_processes_under_multiproc_dir(app, database_url, tmp_path):
    """Two processes (as two web workers) count requests; a third one's scrape sums them.
    Their live gauges went with them: only the scraping process's still counts."""
    directory = tmp_path / "prom"
    directory.mkdir()
    script = textwrap.dedent(
        f"""
        import sys
        from alerts.app import create_app
        from alerts.web.observability import metrics_of
        app = create_app({{"VARSLA_DATABASE_URL": {database_url!r}, "SECRET_KEY": "x"}})
        metrics_of(app).gauge("varsla_test_busy", "a live gauge of each process").set(1)
        client = app.test_client()
        if sys.argv[1] == "hit":
            for _ in range(3):
                assert client.get("/healthz").status_code == 200
        else:
            print(client.get("/metrics").get_data(as_text=True))
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}

    def run(what: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-c", script, what],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    hits = [
        subprocess.Popen([sys.executable, "-c", script, "hit"], cwd=ROOT, env=env) for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in hits] == [0, 0]
    samples = parse(run("scrape").stdout)
    http = "varsla_http_requests_total"
    assert value(samples, http, endpoint="/healthz", method="GET", status="200") == 6
    assert value(samples, "varsla_test_busy") == 1  # the two that exited no longer count
    # The database's gauges are read by the scraping process itself.
    assert "varsla_queue_depth" in families(samples)


def test_a_worker_serves_its_own_metrics_on_its_metrics_port(
    dispatch_app, db_session, desk, fake_twilio, database_url
):
    """A worker on a host without a web process: its counters on 127.0.0.1:PORT."""
    import time
    import urllib.request

    from tests.delivery import add_residents, start_workers, stop_workers, wait_until_sent
    from tests.fakes.smtp_server import free_port

    add_residents(db_session, 5)
    port = free_port()
    [worker] = start_workers(1, database_url, fake_twilio, "--metrics-port", str(port))
    try:
        notice = desk.publish(channels=["sms"])
        wait_until_sent(db_session, notice, [worker], timeout_s=60)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    samples = parse(r.read().decode())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        stop_workers([worker])
    outcomes = "varsla_delivery_outcomes_total"
    assert value(samples, outcomes, channel="sms", status="accepted") == 5
    assert value(samples, "varsla_send_duration_seconds_count", channel="sms") == 5
