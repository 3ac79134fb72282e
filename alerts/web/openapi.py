"""The OpenAPI 3.1 document of ``/api/v1``, built from the same pydantic models that validate.

A test checks that every API route appears here and nothing else does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel

from alerts.config import settings
from alerts.notices.schemas import (
    CancelIn,
    EmptyIn,
    NoticeChangesIn,
    NoticeIn,
    PublishIn,
    RejectIn,
)

PROBLEM = {
    "description": "Problem (RFC 9457)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}

NOTICE_OUT = {
    "description": "The notice",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Notice"}}},
}


def _list_of(ref: str) -> dict[str, Any]:
    return {
        "description": "A page of items",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {"$ref": f"#/components/schemas/{ref}"},
                        },
                        "next": {
                            "type": ["string", "null"],
                            "description": "cursor of the next page",
                        },
                    },
                }
            }
        },
    }


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        },
    }


def _op(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    ok: dict | None = None,
    status: str = "200",
    auth: bool = True,
    params: list | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {status: ok or NOTICE_OUT}}
    if body is not None:
        operation["requestBody"] = _body(body)
    if auth:
        operation["security"] = [{"apiKey": []}]
        operation["responses"].update({"401": PROBLEM, "403": PROBLEM})
    operation["responses"].update({"400": PROBLEM, "404": PROBLEM, "409": PROBLEM, "422": PROBLEM})
    if params:
        operation["parameters"] = params
    return operation


NOTICE_ID = {
    "name": "notice_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]


def _action(summary: str, body: type[BaseModel]) -> dict[str, Any]:
    return {"post": _op(summary, body=body, params=[NOTICE_ID])}


#: Paths filled in by other parts of the API (subscriptions, addresses, deliveries...).
def add_to_document(
    app: Flask, *, paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None
) -> None:
    """Document a feature's API paths (and the schemas they use) in this app's OpenAPI."""
    extra = app.extensions.setdefault("varsla_openapi", {"paths": {}, "schemas": {}})
    extra["paths"].update(paths)
    extra["schemas"].update(schemas or {})


def _extra(kind: str) -> dict[str, Any]:
    return dict(current_app.extensions.get("varsla_openapi", {}).get(kind, {}))


def openapi_document(base_url: str) -> dict[str, Any]:
    models = [NoticeIn, NoticeChangesIn, RejectIn, PublishIn, CancelIn, EmptyIn]
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["Problem"] = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "field": {"type": "string", "description": "the first field at fault"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    schemas["Notice"] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {
                "enum": [
                    "draft",
                    "pending_approval",
                    "approved",
                    "scheduled",
                    "active",
                    "cancelled",
                    "expired",
                ]
            },
            "revision": {"type": "integer"},
            "texts": {"type": "object"},
            "area": {"type": "object"},
            "revisions": {"type": "array", "items": {"type": "object"}},
            "pending_revision": {"type": ["object", "null"]},
        },
        "required": ["id", "status", "revisions"],
    }
    schemas["Zone"] = {
        "type": "object",
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "bbox": {"type": "array", "items": {"type": "number"}},
            "geometry": {"type": "object"},
        },
    }
    schemas["AuditEvent"] = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "by": {"type": ["string", "null"]},
            "action": {"type": "string"},
        },
    }
    schemas["Template"] = {
        "type": "object",
        "properties": {"key": {"type": "string"}, "texts": {"type": "object"}},
    }
    schemas.update(_extra("schemas"))

    paths: dict[str, Any] = {
        "/notices": {
            "get": _op(
                "List notices, newest first",
                ok=_list_of("Notice"),
                params=[*PAGING, {"name": "status", "in": "query", "schema": {"type": "string"}}],
            ),
            "post": _op("Create a draft", body=NoticeIn, status="201"),
        },
        "/notices/{notice_id}": {"get": _op("A notice with its revisions", params=[NOTICE_ID])},
        "/notices/{notice_id}/audit": {
            "get": _op("The notice's audit trail", ok=_list_of("AuditEvent"), params=[NOTICE_ID])
        },
        "/notices/{notice_id}/submit": _action("Send a draft for approval", EmptyIn),
        "/notices/{notice_id}/approve": _action(
            "Approve what waits (another person than its author)", EmptyIn
        ),
        "/notices/{notice_id}/reject": _action("Send back with a reason", RejectIn),
        "/notices/{notice_id}/return-to-draft": _action("Take back to draft", EmptyIn),
        "/notices/{notice_id}/publish": _action("Publish now or at a time", PublishIn),
        "/notices/{notice_id}/update": _action(
            "Edit a draft, or propose an update of a live notice", NoticeChangesIn
        ),
        "/notices/{notice_id}/cancel": _action(
            "Withdraw, or propose the all-clear of a live notice", CancelIn
        ),
        "/templates": {"get": _op("Notice templates", ok=_list_of("Template"))},
        "/zones": {
            "get": _op(
                "Zones",
                ok=_list_of("Zone"),
                auth=False,
                params=[*PAGING, {"name": "kind", "in": "query", "schema": {"type": "string"}}],
            )
        },
        "/zones/{slug}": {
            "get": _op(
                "A zone with its geometry",
                auth=False,
                ok={
                    "description": "The zone",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Zone"}}
                    },
                },
                params=[
                    {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
        "/zones/at": {
            "get": _op(
                "Zones containing a point (WGS 84, boundary inclusive), smallest first; "
                "a missing or bad lat/lon is a 422 naming it",
                auth=False,
                ok=_list_of("Zone"),
                params=[
                    {"name": n, "in": "query", "required": True, "schema": {"type": "number"}}
                    for n in ("lat", "lon")
                ],
            )
        },
        "/addresses": {
            "get": _op(
                "Address autocomplete over the register, best match first: Swedish spelling "
                "variants (Storg. 12 B, storgatan 12b), postcodes (591 30) and misspelled "
                "streets; each item has id, label, street, number, letter, postcode, city, "
                "lon, lat, match and the slugs of the zones it lies in",
                auth=False,
                ok={"description": "{items: [...], next: null}"},
                params=[
                    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 50},
                    },
                ],
            )
        },
        "/active": {
            "get": _op(
                "Active notices for a zone or a point, most severe first (the banner's data; "
                "CORS open, no credentials; an unknown zone is 404)",
                auth=False,
                ok={"description": "{items: [...], next: null, lang, alert}"},
                params=[
                    {"name": n, "in": "query", "schema": {"type": t}}
                    for n, t in (("zone", "string"), ("lat", "number"), ("lon", "number"))
                ]
                + [{"name": "lang", "in": "query", "schema": {"enum": ["sv", "en"]}}],
            )
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1"}},
            }
        },
    }
    paths.update(_extra("paths"))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Varsla API",
            "version": "1",
            "description": "Public alerts and service notices. Errors are RFC 9457 problems.",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
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
    return jsonify(openapi_document(settings().base_url))
