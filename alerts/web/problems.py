"""One place that turns domain errors into HTTP responses (RFC 9457 problems for the API)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from alerts.errors import DomainError, FieldError
from alerts.web.responses import FieldProblem, Problem

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "https://varsla.se/problems/"


def problem(
    status: int, title: str, detail: str, errors: list[FieldError] | None = None
) -> Response:
    """An ``application/problem+json`` response; with ``errors``, it names each field at fault."""
    body = Problem(
        type="about:blank" if not errors else PROBLEM_TYPE + "invalid-input",
        title=title,
        status=status,
        detail=detail,
        field=errors[0].field if errors else None,
        errors=[FieldProblem(field=e.field, message=e.message) for e in errors] if errors else None,
    )
    response = jsonify(body.to_json())
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.accept_mimetypes.best == (
        "application/json"
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        from alerts.extensions import db

        db.session.rollback()
        if _wants_json():
            return problem(exc.status, exc.title, exc.detail, exc.errors)
        return render_template(
            "error.html", status=exc.status, title=exc.title, detail=exc.detail
        ), exc.status

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return render_template("error.html", status=400, title="CSRF", detail=exc.description), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            return problem(exc.code or 500, exc.name, exc.description or exc.name)
        return render_template(
            "error.html", status=exc.code, title=exc.name, detail=exc.description
        ), exc.code or 500
