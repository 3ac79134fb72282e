"""The OpenAPI document stays in step with the routes the app really serves."""

from __future__ import annotations

import re

from tests.factories import api_headers, create_operator, create_zone, notice_payload


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


def test_response_schemas_are_the_answering_models(client):
    """No hand-written response schema: each JSON answer refers to a model's own schema."""
    from alerts.dispatch.responses import NoticeDeliveries, SmsPreview
    from alerts.notices.responses import Notice, NoticePage
    from alerts.places.responses import AddressSuggestions, ZoneWithGeometry
    from alerts.public.responses import ActiveNotices
    from alerts.web.responses import Problem

    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    assert set(content["schema"]) == {"$ref"}, (method, path, status, media)
                    if media == "application/problem+json":
                        assert content["schema"]["$ref"].endswith("/Problem")
            if "security" in operation:
                assert "401" in operation["responses"], (method, path)
    for model in (
        Notice,
        NoticePage,
        ZoneWithGeometry,
        AddressSuggestions,
        NoticeDeliveries,
        SmsPreview,
        ActiveNotices,
        Problem,
    ):
        schema = model.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        schema.pop("$defs", None)
        assert schemas[model.__name__] == schema


def test_reads_and_moves_the_other_tests_do_not_make(client, session):
    """Answers checked against the document (tests.openapi_contract) for the operations the
    rest of the suite leaves out: templates, the zone and notice lists page by page, and
    taking a submitted notice back to draft."""
    create_zone(session)
    create_zone(session, slug="sollerons", name="Sollerön", bounds=(14.5, 60.8, 14.6, 60.9))
    author = api_headers(session, create_operator(session, "author"))
    session.commit()

    templates = client.get("/api/v1/templates", headers=author)
    assert templates.status_code == 200
    assert "boil_water" in {t["key"] for t in templates.get_json()["items"]}

    first = client.get("/api/v1/zones?limit=1").get_json()
    assert [z["slug"] for z in first["items"]] == ["gesunda"]
    second = client.get(f"/api/v1/zones?limit=1&cursor={first['next']}").get_json()
    assert [z["slug"] for z in second["items"]] == ["sollerons"]
    assert second["next"] is None
    assert client.get("/api/v1/zones?limit=0").status_code == 422
    assert client.get("/api/v1/zones?cursor=nonsense").status_code == 422

    nid = client.post("/api/v1/notices", json=notice_payload(), headers=author).get_json()["id"]
    assert client.post(f"/api/v1/notices/{nid}/submit", headers=author).status_code == 200
    back = client.post(f"/api/v1/notices/{nid}/return-to-draft", headers=author)
    assert back.status_code == 200
    assert back.get_json()["status"] == "draft"
    drafts = client.get("/api/v1/notices?status=draft", headers=author).get_json()
    assert [n["id"] for n in drafts["items"]] == [nid]
    assert client.get("/api/v1/notices?status=active", headers=author).get_json() == {
        "items": [],
        "next": None,
    }
    assert client.get("/api/v1/templates").status_code == 401
