"""The OpenAPI document: every route is in it, and the walking skeleton's routes are fully typed."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from api.app import create_app
from commands.settings import Settings

# The routes of issue 2 (method, path) -> is it a command?
COMMANDS = [
    ("post", "/v1/customers"), ("patch", "/v1/customers/{customer_id}"),
    ("post", "/v1/customers/{customer_id}/notes"), ("post", "/v1/customers/{customer_id}/communications"),
    ("post", "/v1/customers/{customer_id}/orders"), ("post", "/v1/customers/{customer_id}/tags"),
    ("post", "/v1/customers/{customer_id}/archive"),
    ("post", "/v1/opportunities"), ("post", "/v1/opportunities/{opportunity_id}/value"),
    ("post", "/v1/opportunities/{opportunity_id}/stage"), ("post", "/v1/opportunities/{opportunity_id}/win"),
    ("post", "/v1/opportunities/{opportunity_id}/lose"),
    ("post", "/v1/campaigns"), ("post", "/v1/campaigns/{campaign_id}/schedule"),
    ("post", "/v1/campaigns/{campaign_id}/launch"), ("post", "/v1/campaigns/{campaign_id}/complete"),
    ("post", "/v1/campaigns/{campaign_id}/cancel"),
]
QUERIES = [
    ("get", "/v1/customers"), ("get", "/v1/customers/{customer_id}"),
    ("get", "/v1/customers/{customer_id}/timeline"), ("get", "/v1/customers/{customer_id}/history"),
    ("get", "/v1/opportunities"), ("get", "/v1/opportunities/by-stage"),
    ("get", "/v1/admin/projections"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("openapi")
    return create_app(Settings(data_dir=data, event_store=f"sqlite:///{data / 'events.sqlite3'}",
                               admin_token="test-admin-token"))


@pytest.fixture(scope="module")
def doc(app) -> dict:
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def typed(doc: dict, schema: dict | None) -> bool:
    """A schema that says what the JSON is: a model with properties, a list of them, or a scalar."""
    if not schema:
        return False
    schema = resolve(doc, schema)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf")
        return all(o.get("type") == "null" or typed(doc, o) for o in options)
    if schema.get("type") == "array":
        return typed(doc, schema.get("items"))
    if schema.get("type") == "object":
        return bool(schema.get("properties"))
    return schema.get("type") in ("string", "integer", "number", "boolean")


def success(operation: dict) -> tuple[str, dict]:
    [(status, response)] = [(s, r) for s, r in operation["responses"].items() if s.startswith("2")]
    return status, response


def test_every_route_of_the_app_is_in_the_document(app, doc):
    routes = {(method.lower(), route.path) for route in app.routes
              if isinstance(route, APIRoute) and route.include_in_schema for method in route.methods}
    documented = {(method, path) for path, operations in doc["paths"].items() for method in operations}
    assert routes <= documented
    assert set(COMMANDS) | set(QUERIES) <= documented


def test_the_app_holds_its_routes_in_one_flat_list(app):
    """No included-router nodes: each one is walked route by route on every request
    (api.routes.include says why)."""
    assert all(isinstance(route, Route) for route in app.routes), \
        {type(route).__name__ for route in app.routes}
    assert sum(isinstance(route, APIRoute) for route in app.routes) > 150


@pytest.mark.parametrize("method, path", COMMANDS)
def test_each_command_takes_a_typed_body_that_refuses_unknown_fields(doc, method, path):
    operation = doc["paths"][path][method]
    body = resolve(doc, operation["requestBody"]["content"]["application/json"]["schema"])
    assert body["type"] == "object" and body.get("additionalProperties") is False, body
    assert all({"type", "anyOf", "$ref"} & set(field) for field in body.get("properties", {}).values()), body


@pytest.mark.parametrize("method, path", COMMANDS)
def test_each_command_answers_id_version_and_token(doc, method, path):
    operation = doc["paths"][path][method]
    status, response = success(operation)
    assert status in ("200", "201")
    schema = resolve(doc, response["content"]["application/json"]["schema"])
    assert set(schema["required"]) == {"id", "version", "consistency_token"}
    assert schema["properties"]["id"]["format"] == "uuid"
    assert schema["properties"]["version"]["type"] == "integer"


@pytest.mark.parametrize("method, path", COMMANDS)
def test_each_command_documents_its_headers(doc, method, path):
    headers = {p["name"].lower() for p in doc["paths"][path][method].get("parameters", [])
               if p["in"] == "header"}
    assert {"authorization", "idempotency-key", "if-match"} <= headers


@pytest.mark.parametrize("method, path", QUERIES)
def test_each_query_has_a_typed_answer(doc, method, path):
    operation = doc["paths"][path][method]
    status, response = success(operation)
    assert status == "200"
    assert typed(doc, response["content"]["application/json"]["schema"]), response


@pytest.mark.parametrize("path", ["/v1/customers", "/v1/customers/{customer_id}/timeline", "/v1/opportunities"])
def test_lists_are_pages_with_a_cursor(doc, path):
    operation = doc["paths"][path]["get"]
    page = resolve(doc, success(operation)[1]["content"]["application/json"]["schema"])
    assert set(page["properties"]) == {"items", "next_cursor"}
    assert typed(doc, page["properties"]["items"]["items"])
    params = {p["name"] for p in operation["parameters"]}
    assert {"cursor", "limit", "x-consistency-token"} <= {p.lower() for p in params}


def test_query_parameters_are_documented(doc):
    def params(path):
        return {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}

    assert {"q", "tag", "status", "created_from", "created_to"} <= set(params("/v1/customers"))
    assert "as_of" in params("/v1/customers/{customer_id}")
    timeline = params("/v1/customers/{customer_id}/timeline")
    assert {"kind", "since", "until"} <= set(timeline)
    kinds = resolve(doc, timeline["kind"]["schema"]["anyOf"][0]["items"])
    assert set(kinds["enum"]) >= {"profile", "note", "communication", "order", "opportunity", "campaign"}
    assert {"stage", "status", "customer_id"} <= set(params("/v1/opportunities"))


def test_the_360_and_its_as_of_state_are_both_described(doc):
    schema = doc["paths"]["/v1/customers/{customer_id}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    names = {option["$ref"].rsplit("/", 1)[1] for option in schema["anyOf"]}
    assert names == {"Customer360", "CustomerState"}
    summary = resolve(doc, {"$ref": "#/components/schemas/Customer360"})
    assert {"id", "name", "email", "order_count", "lifetime_spend"} <= set(summary["required"])
