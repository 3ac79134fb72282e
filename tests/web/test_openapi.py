"""The OpenAPI document stays in step with the routes the app really serves."""

from __future__ import annotations

import re


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def test_every_route_is_documented_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert documented == _api_routes(app)


def test_request_schemas_are_the_validating_models(client):
    document = client.get("/api/v1/openapi.json").get_json()
    notice_in = document["components"]["schemas"]["NoticeIn"]
    assert notice_in["additionalProperties"] is False
    assert "area" in notice_in["required"]
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', str(document).replace("'", '"'))
    assert set(refs) <= set(document["components"]["schemas"])
