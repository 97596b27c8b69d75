"""Bad input gets a clear 4xx problem+json naming the field, and nothing is stored."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from readmodels import cursor as keyset
from tests.support import assert_problem, head

MAX_BODY = 2048
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def module_settings(module_settings):
    """The shared service, with a small body limit so that 'oversized' is cheap to send."""
    return replace(module_settings, max_body_bytes=MAX_BODY)


@pytest.fixture(scope="module")
def ids(make_tenant):
    shop = make_tenant("Bad input shop")
    customer = shop.register("Ada Potter", "ada@example.com")
    deal = shop.post("/v1/opportunities", {"customer_id": customer["id"], "title": "Mugs", "value": "10",
                                           "currency": "GBP"}).json()
    campaign = shop.post("/v1/campaigns", {"name": "News", "channel": "sms", "body": "Hi"}).json()
    token = shop.post(f"/v1/customers/{customer['id']}/notes", {"text": "sync"}).json()["consistency_token"]
    return {"shop": shop, "c": f"/v1/customers/{customer['id']}", "customer": customer["id"],
            "d": f"/v1/opportunities/{deal['id']}", "k": f"/v1/campaigns/{campaign['id']}", "token": token}


ORDER = {"order_id": "A-1", "amount": "10.00", "currency": "GBP", "item_count": 1}
DEAL = {"title": "Mugs", "value": "10.00", "currency": "GBP"}

# (case, method, path template, request kwargs, status, field named in errors[])
CASES = [
    ("malformed json", "post", "/v1/customers", {"content": b'{"name": "Ada"', "headers": JSON}, 400, None),
    ("malformed json patch", "patch", "{c}", {"content": b"{name: 'Ada'}", "headers": JSON}, 400, None),
    ("malformed json order", "post", "{c}/orders", {"content": b"amount=10", "headers": JSON}, 400, None),
    ("body not an object", "post", "/v1/customers", {"json": ["Ada"]}, 422, "body"),
    ("no body", "post", "/v1/customers", {}, 422, "body"),
    ("name a number", "post", "/v1/customers", {"json": {"name": 123}}, 422, "name"),
    ("name an object", "post", "/v1/customers", {"json": {"name": {"first": "Ada"}}}, 422, "name"),
    ("item_count a word", "post", "{c}/orders", {"json": {**ORDER, "item_count": "many"}}, 422, "item_count"),
    ("item_count zero", "post", "{c}/orders", {"json": {**ORDER, "item_count": 0}}, 422, "item_count"),
    ("audience not uuids", "post", "{k}/launch", {"json": {"customer_ids": ["nope"]}}, 422, "customer_ids[0]"),
    ("audience not a list", "post", "{k}/launch", {"json": {"customer_ids": "all"}}, 422, "customer_ids"),
    ("customer id not a uuid", "post", "/v1/opportunities", {"json": {**DEAL, "customer_id": "42"}}, 422,
     "customer_id"),
    ("close date not a date", "post", "/v1/opportunities",
     {"json": {**DEAL, "customer_id": "{customer}", "expected_close": "soon"}}, 422, "expected_close"),
    ("tags not a list", "post", "{c}/tags", {"json": {"add": "vip"}}, 422, "add"),
    ("unknown field", "post", "/v1/customers", {"json": {"name": "Ada", "nickname": "A"}}, 422, "nickname"),
    ("unknown field patch", "patch", "{c}", {"json": {"nickname": "A"}}, 422, "nickname"),
    ("unknown field order", "post", "{c}/orders", {"json": {**ORDER, "discount": "5"}}, 422, "discount"),
    ("unknown field win", "post", "{d}/win", {"json": {"bonus": True}}, 422, "bonus"),
    ("missing name", "post", "/v1/customers", {"json": {"email": "ada@example.com"}}, 422, "name"),
    ("missing amount", "post", "{c}/orders", {"json": {k: v for k, v in ORDER.items() if k != "amount"}},
     422, "amount"),
    ("missing lose reason", "post", "{d}/lose", {"json": {}}, 422, "reason"),
    ("missing channel", "post", "{c}/communications", {"json": {"direction": "inbound"}}, 422, "channel"),
    ("invalid email", "post", "/v1/customers", {"json": {"name": "Ada", "email": "ada@"}}, 422, "email"),
    ("invalid email patch", "patch", "{c}", {"json": {"email": "not an email"}}, 422, "email"),
    ("invalid phone", "post", "/v1/customers", {"json": {"name": "Ada", "phone": "12345"}}, 422, "phone"),
    ("blank name", "post", "/v1/customers", {"json": {"name": "   "}}, 422, "name"),
    ("name too long", "post", "/v1/customers", {"json": {"name": "x" * 201}}, 422, "name"),
    ("negative amount", "post", "{c}/orders", {"json": {**ORDER, "amount": "-1.00"}}, 422, "amount"),
    ("negative deal value", "post", "/v1/opportunities",
     {"json": {**DEAL, "customer_id": "{customer}", "value": "-5"}}, 422, "value"),
    ("negative value change", "post", "{d}/value", {"json": {"value": "-0.01"}}, 422, "value"),
    ("money as a float", "post", "{c}/orders", {"json": {**ORDER, "amount": 12.5}}, 422, "amount"),
    ("deal value as a float", "post", "/v1/opportunities",
     {"json": {**DEAL, "customer_id": "{customer}", "value": 99.99}}, 422, "value"),
    ("three decimal places", "post", "{c}/orders", {"json": {**ORDER, "amount": "1.005"}}, 422, "amount"),
    ("amount not a number", "post", "{c}/orders", {"json": {**ORDER, "amount": "ten"}}, 422, "amount"),
    ("amount NaN", "post", "{c}/orders", {"json": {**ORDER, "amount": "NaN"}}, 422, "amount"),
    ("unknown currency", "post", "{c}/orders", {"json": {**ORDER, "currency": "XYZ"}}, 422, "currency"),
    ("currency not a code", "post", "{c}/orders", {"json": {**ORDER, "currency": "EURO"}}, 422, "currency"),
    ("naive order time", "post", "{c}/orders", {"json": {**ORDER, "occurred_at": "2026-01-01T10:00:00"}},
     422, "occurred_at"),
    ("order time not a time", "post", "{c}/orders", {"json": {**ORDER, "occurred_at": "yesterday"}},
     422, "occurred_at"),
    ("unknown channel", "post", "{c}/communications", {"json": {"channel": "fax", "direction": "inbound"}},
     422, "channel"),
    ("unknown stage", "post", "{d}/stage", {"json": {"stage": "won"}}, 422, "stage"),
    ("unknown customer", "get", "/v1/customers/{random}", {}, 404, None),
    ("unknown customer timeline", "get", "/v1/customers/{random}/timeline", {}, 404, None),
    ("unknown customer history", "get", "/v1/customers/{random}/history", {}, 404, None),
    ("unknown customer patch", "patch", "/v1/customers/{random}", {"json": {"name": "X"}}, 404, None),
    ("unknown customer order", "post", "/v1/customers/{random}/orders", {"json": ORDER}, 404, None),
    ("unknown deal", "post", "/v1/opportunities/{random}/win", {"json": {}}, 404, None),
    ("unknown deal's customer", "post", "/v1/opportunities", {"json": {**DEAL, "customer_id": "{random}"}},
     404, None),
    ("unknown campaign", "post", "/v1/campaigns/{random}/complete", {"json": {}}, 404, None),
    ("an opportunity id as a customer", "get", "/v1/customers/{deal_id}", {}, 404, None),
    ("an opportunity id as a customer's order", "post", "/v1/customers/{deal_id}/orders", {"json": ORDER},
     404, None),
    ("unknown route", "get", "/v1/nothing-here", {}, 404, None),
    ("malformed id", "get", "/v1/customers/not-a-uuid", {}, 422, "customer_id"),
    ("malformed id command", "post", "/v1/opportunities/123/win", {"json": {}}, 422, "opportunity_id"),
    ("bad cursor", "get", "/v1/customers?cursor=garbage!", {}, 400, "cursor"),
    ("cursor of another shape", "get", "/v1/customers?cursor={short_cursor}", {}, 400, "cursor"),
    ("cursor not base64 json", "get", "/v1/customers?cursor=bm90IGpzb24", {}, 400, "cursor"),
    ("bad timeline cursor", "get", "{c}/timeline?cursor=xyz", {}, 400, "cursor"),
    ("bad opportunities cursor", "get", "/v1/opportunities?cursor=xyz", {}, 400, "cursor"),
    ("limit zero", "get", "/v1/customers?limit=0", {}, 422, "limit"),
    ("limit too big", "get", "/v1/customers?limit=100000", {}, 422, "limit"),
    ("unknown timeline kind", "get", "{c}/timeline?kind=gossip", {}, 422, "kind[0]"),
    ("created_from not a time", "get", "/v1/customers?created_from=last-week", {}, 422, "created_from"),
    ("unknown status", "get", "/v1/customers?status=deleted", {}, 422, "status"),
    ("malformed consistency token", "get", "{c}", {"headers": {"X-Consistency-Token": "abc"}}, 422,
     "X-Consistency-Token"),
    ("consistency token bad version", "get", "/v1/customers",
     {"headers": {"X-Consistency-Token": "{hex}.x"}}, 422, "X-Consistency-Token"),
    ("consistency token of a command", "get", "{c}/timeline",
     {"headers": {"X-Consistency-Token": "customer.1"}}, 422, "X-Consistency-Token"),
    ("bad If-Match", "patch", "{c}", {"json": {"name": "X"}, "headers": {"If-Match": "abc"}}, 422, "If-Match"),
    ("negative If-Match", "post", "{c}/notes", {"json": {"text": "x"}, "headers": {"If-Match": "-1"}}, 422,
     "If-Match"),
    ("overlong Idempotency-Key", "post", "/v1/customers",
     {"json": {"name": "Ada"}, "headers": {"Idempotency-Key": "k" * 201}}, 422, "idempotency-key"),
]


def _fill(value, ids: dict, extra: dict):
    if isinstance(value, str):
        return value.format(**ids, **extra)
    if isinstance(value, dict):
        return {k: _fill(v, ids, extra) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids, extra) for v in value]
    return value


@pytest.mark.parametrize("case, method, path, kwargs, status, field", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_problem_and_stores_nothing(ids, case, method, path, kwargs, status, field):
    shop = ids["shop"]
    extra = {"random": uuid4(), "deal_id": ids["d"].rsplit("/", 1)[1], "hex": uuid4().hex,
             "short_cursor": keyset.encode(["2026-01-01T00:00:00+00:00"])}
    kwargs = {k: (v if k == "content" else _fill(v, ids, extra)) for k, v in kwargs.items()}
    before = head(shop.client.app)

    response = shop.client.request(method, _fill(path, ids, extra),
                                   **{**kwargs, "headers": {**shop.headers, **kwargs.get("headers", {})}})

    problem = assert_problem(response, status, field)
    assert problem.get("detail") or problem.get("errors") or status == 404, problem  # says what is wrong
    assert head(shop.client.app) == before


def test_a_422_names_every_bad_field_at_once(ids):
    shop = ids["shop"]
    response = shop.post(f"{ids['c']}/orders", {"order_id": "A-9", "amount": 1.5, "currency": "EURO",
                                                "item_count": "many", "colour": "red"})
    problem = assert_problem(response, 422)
    assert {e["field"] for e in problem["errors"]} >= {"amount", "currency", "item_count", "colour"}
    assert all(e["reason"] for e in problem["errors"])


# -- body size ----------------------------------------------------------------------------------


def test_a_body_over_the_limit_with_content_length_is_a_413(ids):
    shop = ids["shop"]
    before = head(shop.client.app)
    body = b'{"name": "' + b"x" * MAX_BODY + b'"}'
    response = shop.client.post("/v1/customers", content=body, headers={**shop.headers, **JSON})
    assert_problem(response, 413)
    assert head(shop.client.app) == before


def test_a_chunked_body_over_the_limit_is_a_413(ids):
    shop = ids["shop"]
    before = head(shop.client.app)

    def chunks():
        yield b'{"name": "'
        for _ in range(MAX_BODY // 100 + 1):
            yield b"x" * 100
        yield b'"}'

    response = shop.client.post("/v1/customers", content=chunks(), headers={**shop.headers, **JSON})
    assert_problem(response, 413)
    assert head(shop.client.app) == before


def test_a_chunked_body_under_the_limit_is_accepted(ids):
    shop = ids["shop"]

    def chunks():
        yield b'{"name": '
        yield b'"Chunked Ada"}'

    response = shop.client.post("/v1/customers", content=chunks(), headers={**shop.headers, **JSON})
    assert response.status_code == 201, response.text


def test_a_body_just_at_the_limit_is_accepted(ids):
    shop = ids["shop"]
    prefix, suffix = b'{"text": "', b'"}'
    body = prefix + b"n" * (MAX_BODY - len(prefix) - len(suffix)) + suffix
    assert len(body) == MAX_BODY
    response = shop.client.post(f"{ids['c']}/notes", content=body, headers={**shop.headers, **JSON})
    assert response.status_code == 201, response.text


def test_an_oversized_body_is_refused_before_authentication(ids):
    shop = ids["shop"]
    response = shop.client.post("/v1/customers", content=b"x" * (MAX_BODY + 1), headers=JSON)
    assert_problem(response, 413)
