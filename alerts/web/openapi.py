"""The OpenAPI 3.1 document of ``/api/v1``, written from the pydantic models that validate
requests and shape responses, so the document and the answers have one source.

Each feature documents its own paths from its ``init_app`` with
:func:`add_to_document`, as :class:`Operation` objects naming their models;
this module turns them into the document and collects every model's schema
(and the schemas it refers to) into ``components/schemas``. A test checks that
every API route appears here and nothing else does, and the test suite checks
every JSON answer it gets against this document.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel, ConfigDict, ValidationError

from alerts.config import settings
from alerts.web.responses import Problem

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    """One documented operation: what it takes, what it answers, and how it can fail.

    ``errors`` maps each status it can answer with a problem (RFC 9457) to when
    it does; ``auth`` adds the API key requirement and its 401. ``without_body``
    maps statuses answered without a body (304) to when.
    """

    summary: str
    answer: type[BaseModel]
    status: int = 200
    answer_description: str | None = None
    description: str | None = None
    body: type[BaseModel] | None = None
    parameters: Sequence[Mapping[str, Any]] = ()
    errors: Mapping[int, str] = field(default_factory=dict)
    auth: bool = True
    without_body: Mapping[int, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


#: When an operation that takes an API key answers 401.
GUARDED = (
    "A NUL character anywhere in the request, or JSON nested deeper than 32 levels, or "
    "JSON that does not parse"
)
TOO_LARGE = "The body is larger than VARSLA_MAX_BODY_BYTES (default 2 MB); nothing was read"
UNAVAILABLE = (
    "The database cannot be reached or written (restarting, disk full); nothing was "
    "changed, try again"
)
UNAUTHORIZED = "No valid API key in 'Authorization: Bearer <key>'"


def add_to_document(app: Flask, *, paths: Mapping[str, Mapping[str, Operation]]) -> None:
    """Document a feature's API paths (path -> method -> operation) in this app's OpenAPI."""
    documented: dict[str, dict[str, Operation]] = app.extensions.setdefault("varsla_openapi", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method in documented.setdefault(path, {}):
                raise ValueError(f"{method.upper()} {path} is documented twice")
            documented[path][method] = operation


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    paths: dict[str, Any]
    components: dict[str, Any]


class _Schemas:
    """``components/schemas``, filled from models (each with the models it refers to)."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict:
        for name, definition in _model_schemas(model, mode):
            if self.schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are called {name}")
        return {"$ref": REF.format(model=model.__name__)}


@functools.cache
def _model_schemas(
    model: type[BaseModel], mode: Literal["validation", "serialization"]
) -> tuple[tuple[str, Any], ...]:
    """``model``'s schema and those it refers to, by name. Cached: a model's schema is fixed
    once its class exists, and pydantic takes about 2 ms for each (a few hundred a document:
    every app's document, and every test app's, took a third of a second to write)."""
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    definitions = schema.pop("$defs", {})
    return (*definitions.items(), (model.__name__, schema))


def _problem(schemas: _Schemas, when: str) -> dict[str, Any]:
    return {
        "description": when,
        "content": {"application/problem+json": {"schema": schemas.ref(Problem, "serialization")}},
    }


def _accepts_empty(model: type[BaseModel]) -> bool:
    try:
        model.model_validate({})
    except ValidationError:
        return False
    return True


def _operation(schemas: _Schemas, operation: Operation) -> dict[str, Any]:
    answer = operation.answer
    ok: dict[str, Any] = {
        "description": operation.answer_description
        or (answer.__doc__ or answer.__name__).strip().splitlines()[0],
        "content": {"application/json": {"schema": schemas.ref(answer, "serialization")}},
    }
    if operation.headers:
        ok["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in operation.headers.items()
        }
    responses: dict[str, Any] = {str(operation.status): ok}
    for status, when in operation.without_body.items():
        responses[str(status)] = {"description": when}
    errors = dict(operation.errors)
    if operation.auth:
        errors.setdefault(401, UNAUTHORIZED)
    # alerts.web.guards checks every request before any view: these hold for all of them.
    errors.setdefault(400, GUARDED)
    errors.setdefault(503, UNAVAILABLE)
    if operation.body is not None:
        errors.setdefault(413, TOO_LARGE)
    for status, when in sorted(errors.items()):
        responses[str(status)] = _problem(schemas, when)
    document: dict[str, Any] = {"summary": operation.summary}
    if operation.description:
        document["description"] = operation.description
    if operation.parameters:
        document["parameters"] = [dict(p) for p in operation.parameters]
    if operation.body is not None:
        document["requestBody"] = {
            # No body counts as {}: it is optional where {} is valid.
            "required": not _accepts_empty(operation.body),
            "content": {"application/json": {"schema": schemas.ref(operation.body, "validation")}},
        }
    if operation.auth:
        document["security"] = [{"apiKey": []}]
    document["responses"] = responses
    return document


def openapi_document(app: Flask, base_url: str) -> dict[str, Any]:
    """The document of everything ``app``'s features documented, plus this document itself."""
    schemas = _Schemas()
    operations: dict[str, dict[str, Operation]] = app.extensions.get("varsla_openapi", {})
    paths = {
        path: {method: _operation(schemas, op) for method, op in sorted(methods.items())}
        for path, methods in sorted(operations.items())
    }
    paths["/openapi.json"] = {
        "get": _operation(
            schemas,
            Operation("This document", answer=OpenApiDocument, auth=False),
        )
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Varsla API",
            "version": "1",
            "description": "Public alerts and service notices. Errors are RFC 9457 problems "
            "(application/problem+json) naming the field at fault.",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "paths": paths,
        "components": {
            # A copy: the cached schemas must not change with a document someone edits.
            "schemas": copy.deepcopy(dict(sorted(schemas.schemas.items()))),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "varsla apikeys create EMAIL",
                }
            },
        },
    }


bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi_json():
    """This app's OpenAPI document."""
    document = openapi_document(current_app, settings().base_url)
    return jsonify(OpenApiDocument.model_validate(document).model_dump(mode="json"))
