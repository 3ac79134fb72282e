"""Operations endpoints: liveness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select, text

from ..db import db
from ..models import Notice

bp = Blueprint("ops", __name__)

#: Extra metric sources, each returning lines in Prometheus text format.
metric_sources: list = []


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
    lines = [
        "# HELP varsla_notices Notices by status.",
        "# TYPE varsla_notices gauge",
    ]
    counts = db.session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all()
    for status, count in sorted(counts):
        lines.append(f'varsla_notices{{status="{status}"}} {count}')
    for source in metric_sources:
        lines.extend(source(db.session))
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
