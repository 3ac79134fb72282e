"""Operations endpoints: liveness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts.extensions import db

bp = Blueprint("ops", __name__)

#: A metric source answers lines in Prometheus text format.
MetricSource = Callable[[Session], list[str]]


def register_metrics(app: Flask, source: MetricSource) -> None:
    """Add ``source``'s lines to ``/metrics``; features call this in their ``init_app``."""
    sources = app.extensions.setdefault("varsla_metric_sources", [])
    if source not in sources:
        sources.append(source)


@bp.get("/healthz")
def healthz():
    """Answers 200 when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        return jsonify({"status": "error", "database": str(exc.__class__.__name__)}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.get("/metrics")
def metrics():
    lines: list[str] = []
    for source in current_app.extensions.get("varsla_metric_sources", []):
        lines.extend(source(db.session))
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
