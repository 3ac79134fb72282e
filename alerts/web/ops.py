"""Operations endpoints: liveness, readiness and Prometheus metrics.

- ``/healthz``: the process answers (liveness; no dependency is checked, so a
  database outage does not get healthy web processes restarted).
- ``/readyz``: the database answers and its schema is at the migrations' head
  (readiness; 503 with the reason otherwise, so a load balancer holds traffic
  back from a process that cannot serve, or from new code before
  ``varsla db upgrade``).
- ``/metrics``: Prometheus text (alerts.web.observability). With
  ``VARSLA_METRICS_TOKEN`` set it needs ``Authorization: Bearer <token>``;
  without one it answers only requests made directly from loopback (no
  ``X-Forwarded-For``: a request relayed by a proxy on the same host is not local).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from functools import cache

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from alerts.config import settings
from alerts.extensions import db
from alerts.web.observability import SessionCollect, metrics_of
from alerts.web.problems import problem

logger = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)

#: A scrape-time source of metric families, given a Session (alerts.web.observability).
MetricSource = SessionCollect


def register_metrics(app: Flask, source: MetricSource) -> None:
    """Add ``source``'s families to ``/metrics``; features call this in their ``init_app``."""
    metrics_of(app).add_collector(source)


#: What a database error says when the database cannot take writes or cannot be reached.
_UNAVAILABLE = (
    ("disk is full", "the database's disk is full"),
    ("readonly database", "the database file is read-only"),
    ("read-only", "the database is read-only"),
    ("unable to open database", "the database file cannot be opened"),
    ("disk i/o error", "the database's disk failed (I/O error)"),
    ("connection", "the database cannot be reached"),
    ("terminating", "the database is restarting"),
    ("server closed", "the database is restarting"),
    ("starting up", "the database is starting up"),
    ("shutting down", "the database is shutting down"),
)


@bp.app_errorhandler(OperationalError)
def database_unavailable(exc: OperationalError):
    """A clear 503 (nothing was written: the transaction rolled back) instead of a bare 500."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone with the database: nothing to roll back
        logger.debug("rollback after a database error failed", exc_info=True)
    text_ = str(exc.orig).lower()
    reason = next((why for key, why in _UNAVAILABLE if key in text_), None)
    if reason is None:
        raise exc
    logger.error("database unavailable: %s (%s)", reason, exc.orig.__class__.__name__)
    detail = f"Nothing was saved: {reason}. Try again once the operator has fixed it."
    if request.path.startswith(("/api/", "/webhooks/")) or request.accept_mimetypes.best == (
        "application/json"
    ):
        response = problem(503, "Database unavailable", detail)
    else:
        response = Response(
            render_template("error.html", status=503, title="Database unavailable", detail=detail),
            status=503,
        )
    response.headers["Retry-After"] = "30"
    return response


@bp.get("/healthz")
def healthz():
    """Liveness: 200 while the process can answer at all."""
    return jsonify({"status": "ok"})


@cache
def _schema_heads() -> frozenset[str]:
    """The migrations' head revisions (read from the scripts once per process)."""
    # Imported here: Alembic is a fifth of the app's import time, and only /readyz needs it.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from alerts.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers and the schema is at the migrations' head."""
    try:
        with db.require_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            try:
                current = {
                    row[0]
                    for row in connection.execute(text("SELECT version_num FROM alembic_version"))
                }
            except Exception:
                current = set()
    except Exception as exc:
        reason = f"database unreachable ({exc.__class__.__name__})"
        return jsonify({"status": "unavailable", "reason": reason}), 503
    heads = _schema_heads()
    if current != heads:
        reason = (
            f"schema at {', '.join(sorted(current)) or 'nothing'}, code expects "
            f"{', '.join(sorted(heads))}: run `varsla db upgrade`"
        )
        return jsonify({"status": "unavailable", "reason": reason}), 503
    return jsonify({"status": "ok", "database": "ok", "schema": sorted(heads)})


def _metrics_allowed() -> bool:
    token = settings().metrics_token
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics():
    """Prometheus text; see the module docstring for who may read it."""
    if not _metrics_allowed():
        response = problem(
            401,
            "Unauthorized",
            "/metrics needs Authorization: Bearer <VARSLA_METRICS_TOKEN>, or, when no token "
            "is set, a request from loopback",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = metrics_of(current_app).exposition()
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")
