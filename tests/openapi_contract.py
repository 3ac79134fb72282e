"""Every JSON answer of ``/api/v1`` in the test suite is checked against the OpenAPI document.

:func:`check_api_responses` (called by ``tests.conftest.make_test_app``) installs an
``after_request`` hook on a test app: each response of a documented operation
must have a status the operation declares, and a JSON or problem+json body
must match the schema declared for that status and media type. Unrouted
``/api/v1`` requests must answer a valid problem. What fails is collected and
fails the test that made the request, with the request, the status and why.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from flask import Flask, Response, request
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:varsla:openapi"
JSON_TYPES = ("application/json", "application/problem+json")

_failures: list[str] = []
_lock = threading.Lock()


def _document_of(app: Flask) -> tuple[dict[str, Any], Registry]:
    """The document, and a registry resolving its ``#/components/...`` refs (cached per app)."""
    cached = app.extensions.get("test_openapi_check")
    if cached is None:
        from alerts.web.openapi import openapi_document

        document = openapi_document(app, app.config["VARSLA_BASE_URL"])
        registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
        cached = app.extensions["test_openapi_check"] = (document, registry)
    return cached


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _problems(app: Flask, response: Response) -> list[str]:
    """Why ``response`` (to the current request) does not match ``app``'s document."""
    if request.method in ("HEAD", "OPTIONS"):
        return []
    document, registry = _document_of(app)
    rule = request.url_rule
    status = str(response.status_code)
    mimetype = response.mimetype
    if rule is None:
        # Unrouted (404/405): no operation to check against, but it must be a problem.
        if mimetype != "application/problem+json":
            return [f"unrouted API request answered {mimetype}, not a problem"]
        return _schema_errors(registry, DOCUMENT_URI + "#/components/schemas/Problem", response)
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
    operation = document["paths"].get(path, {}).get(request.method.lower())
    if operation is None:
        return [f"{request.method} {path} is not in the document"]
    declared = operation["responses"].get(status)
    if declared is None:
        return [f"status {status} is not declared (declared: {sorted(operation['responses'])})"]
    content = declared.get("content", {})
    if not content:
        # Werkzeug never sends the body of a 204 or 304, whatever the response object holds.
        sends_body = response.status_code not in (204, 304) and response.get_data()
        return [f"status {status} declares no body, got one"] if sends_body else []
    if mimetype not in JSON_TYPES:
        return []
    if mimetype not in content:
        return [f"status {status} declares {sorted(content) or 'no body'}, got {mimetype}"]
    schema_ref = (
        DOCUMENT_URI
        + "#"
        + _pointer(
            "",
            "paths",
            path,
            request.method.lower(),
            "responses",
            status,
            "content",
            mimetype,
            "schema",
        )
    )
    return _schema_errors(registry, schema_ref, response)


def _schema_errors(registry: Registry, ref: str, response: Response) -> list[str]:
    try:
        body = json.loads(response.get_data())
    except ValueError as exc:
        return [f"the body is not JSON: {exc}"]
    validator = Draft202012Validator(
        {"$ref": ref}, registry=registry, format_checker=FormatChecker()
    )
    return [
        f"at {'/'.join(map(str, error.absolute_path)) or 'the top'}: {error.message}"
        for error in validator.iter_errors(body)
    ]


def check_api_responses(app: Flask) -> None:
    """Check every ``/api/v1`` response of ``app`` against its OpenAPI document."""

    @app.after_request
    def _check_against_openapi(response: Response) -> Response:
        if request.path.startswith("/api/v1/") and not response.direct_passthrough:
            found = _problems(app, response)
            if found:
                with _lock:
                    _failures.append(
                        f"{request.method} {request.full_path.rstrip('?')} -> "
                        f"{response.status_code}:\n    " + "\n    ".join(found)
                    )
        return response


def _take_failures() -> list[str]:
    with _lock:
        taken = list(_failures)
        _failures.clear()
    return taken


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test whose requests got answers the OpenAPI document does not allow."""
    result = yield
    failures = _take_failures()
    if failures:
        pytest.fail(
            "API responses that do not match the OpenAPI document:\n" + "\n".join(failures),
            pytrace=False,
        )
    return result


@pytest.fixture(autouse=True)
def _api_responses_match_openapi():
    """Also catch answers made during a test's setup or teardown (by fixtures)."""
    _take_failures()
    yield
    failures = _take_failures()
    if failures:
        pytest.fail(
            "API responses (in fixtures) that do not match the OpenAPI document:\n"
            + "\n".join(failures),
            pytrace=False,
        )
