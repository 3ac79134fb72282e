"""JSON logs with request ids and no personal data; liveness and readiness."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import text

from alerts.db import make_engine
from alerts.web.observability import _VarslaHandler, redact
from tests.conftest import make_test_app, running_app


@pytest.fixture
def json_log(database_url, tmp_path):
    """An app logging JSON, and what it wrote (one entry per line)."""
    with running_app(database_url, tmp_path, VARSLA_LOG_FORMAT="json") as app:
        stream = io.StringIO()
        [handler] = [h for h in logging.getLogger().handlers if isinstance(h, _VarslaHandler)]
        handler.setStream(stream)

        def entries() -> list[dict]:
            return [json.loads(line) for line in stream.getvalue().splitlines()]

        try:
            yield app, entries
        finally:
            logging.getLogger().removeHandler(handler)


def test_one_json_line_per_request_with_the_callers_request_id(json_log):
    app, entries = json_log
    client = app.test_client()
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c"
    [entry] = [e for e in entries() if e.get("event") == "request"]
    assert entry["request_id"] == "lb-7f3a9c"
    assert entry["endpoint"] == "/healthz" and entry["status"] == 200
    assert entry["method"] == "GET" and entry["duration_ms"] >= 0
    assert entry["level"] == "info" and entry["ts"].endswith("+00:00")


def test_a_missing_or_unsafe_request_id_is_replaced(json_log):
    app, entries = json_log
    client = app.test_client()
    made = client.get("/healthz").headers["X-Request-ID"]
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" injected=1'})
    assert len(made) == 32 and forged.headers["X-Request-ID"] not in ('x" injected=1', made)
    ids = [e["request_id"] for e in entries() if e.get("event") == "request"]
    assert ids == [made, forged.headers["X-Request-ID"]]


def test_request_lines_carry_the_url_rule_not_the_token_in_the_path(json_log):
    app, entries = json_log
    client = app.test_client()
    client.get("/u/secret-manage-token-123?phone=0701740605")
    logged = "\n".join(json.dumps(e) for e in entries())
    assert "secret-manage-token-123" not in logged and "0701740605" not in logged
    [entry] = [e for e in entries() if e.get("event") == "request"]
    assert entry["endpoint"] == "/u/<token>"


def test_phone_numbers_and_emails_are_masked_in_any_message(json_log):
    _app, entries = json_log
    logging.getLogger("alerts.test").warning(
        "could not reach %s or %s", "+46 70-174 06 05", "anna.berg@example.se"
    )
    [entry] = [e for e in entries() if e["logger"] == "alerts.test"]
    assert entry["message"] == "could not reach [phone] or [email]"
    # Ids and times stay readable.
    for kept in (
        "delivery 123456 at 2025-01-02 12:00",
        "notice 0b7e2c1a-0123-4567-89ab-0123456789ab",
        "sid SM0123456789abcdef",
    ):
        assert redact(kept) == kept
    assert redact("to 0701740605, +46701740605.") == "to [phone], [phone]."


def test_one_json_line_per_dispatch_batch(json_log, fake_twilio):
    from alerts.extensions import db
    from tests.delivery import Desk, create_subscriber, run_dispatcher

    app, entries = json_log
    session = db.sessionmaker()
    create_subscriber(session, phone="+46701000001")
    desk = Desk(session)
    desk.publish(channels=["sms"])
    session.close()
    # The app has no SMS provider: the local outbox takes it.
    run_dispatcher(app)
    batches = [e for e in entries() if e.get("event") == "dispatch_batch"]
    assert batches and batches[0]["outcomes"] == {"accepted": 1}
    assert batches[0]["channels"] == {"sms": 1} and batches[0]["batch"] == 1
    assert "+46701000001" not in json.dumps(entries())


def test_text_is_the_default_format(app):
    assert not any(
        isinstance(h, _VarslaHandler) and h.formatter.__class__.__name__ == "JsonFormatter"
        for h in logging.getLogger().handlers
    )


def test_healthz_is_liveness_and_readyz_checks_database_and_schema(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok"
    assert ready.get_json()["schema"]


def test_readyz_says_the_schema_is_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = make_test_app(url, tmp_path)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "varsla db upgrade" in response.get_json()["reason"]
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_says_the_database_is_unreachable(tmp_path):
    app = make_test_app("postgresql+psycopg://nobody@127.0.0.1:9/varsla", tmp_path)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"].startswith("database unreachable")


def test_readyz_says_a_migration_is_missing(tmp_path):
    from alerts.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'an_older_one'"))
    engine.dispose()
    response = make_test_app(url, tmp_path).test_client().get("/readyz")
    assert response.status_code == 503
    assert "an_older_one" in response.get_json()["reason"]
