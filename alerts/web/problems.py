"""One place that turns domain errors into HTTP responses (RFC 9457 problems for the API).

Problems for machines are in English, naming values as the API does; pages for people
(the console, the public pages) say it in the reader's language.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from alerts.errors import DomainError, FieldError
from alerts.i18n import english
from alerts.web.labels import error_message
from alerts.web.responses import FieldProblem, Problem

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "https://varsla.se/problems/"


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    *,
    suggestions: list[dict[str, Any]] | None = None,
    retry_after: int | None = None,
) -> Response:
    """An ``application/problem+json`` response; with ``errors``, it names each field at fault."""
    body = Problem(
        type="about:blank" if not errors else PROBLEM_TYPE + "invalid-input",
        title=title,
        status=status,
        detail=detail,
        field=errors[0].field if errors else None,
        errors=[FieldProblem(field=e.field, message=e.detail) for e in errors] if errors else None,
        suggestions=suggestions,
        retry_after=retry_after,
    )
    response = jsonify(body.to_json())
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _http_errors() -> dict[int, tuple[str, str]]:
    return {
        400: (gettext("Felaktig begäran"), gettext("Sidan kunde inte förstå begäran.")),
        403: (gettext("Inte behörig"), gettext("Du har inte behörighet till den här sidan.")),
        404: (gettext("Hittades inte"), gettext("Sidan finns inte. Kontrollera adressen.")),
        405: (gettext("Metoden är inte tillåten"), gettext("Sidan tar inte emot den begäran.")),
        429: (gettext("För många försök"), gettext("Vänta en stund och försök igen.")),
        500: (gettext("Internt fel"), gettext("Något gick fel hos oss. Försök igen om en stund.")),
    }


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
            # Errors may carry what a client can act on: when to retry, what was meant.
            response = problem(
                exc.status,
                english(exc.title),
                exc.detail,
                exc.errors,
                suggestions=getattr(exc, "suggestions", None),
                retry_after=getattr(exc, "retry_after_s", None),
            )
        else:
            page = render_template(
                "error.html", status=exc.status, title=gettext(exc.title), detail=error_message(exc)
            )
            response = Response(page, status=exc.status, mimetype="text/html")
        if (retry_after_s := getattr(exc, "retry_after_s", None)) is not None:
            response.headers["Retry-After"] = str(int(retry_after_s))
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        detail = gettext("Formuläret har gått ut. Ladda om sidan och försök igen.")
        return render_template("error.html", status=400, title="CSRF", detail=detail), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            return problem(exc.code or 500, exc.name, exc.description or exc.name)
        title, detail = _http_errors().get(exc.code or 500, (exc.name, exc.description))
        if exc.description != type(exc).description:
            detail = exc.description  # said by the view itself
        return render_template(
            "error.html", status=exc.code, title=title, detail=detail
        ), exc.code or 500
