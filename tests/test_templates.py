"""Templates through HTTP: sandboxed variables checked at save, versions and approval,
previews against a real customer, SMS length in segments."""

from __future__ import annotations

import pytest

from tests.support import assert_problem, head


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Template shop")


EMAIL = {
    "name": "Winter range", "channel": "email",
    "subject": "{{ customer.first_name }}, the {{ customer.custom.glaze }} range is here",
    "html": "<p>Dear {{ customer.first_name }},</p>\n<p>Your last order {{ order.id }} came to "
            "{{ order.amount }} {{ order.currency }}.</p>\n"
            "<p><a href=\"https://shop.example/winter\">See the range</a></p>",
    "text": "Dear {{ customer.first_name }}, see https://shop.example/winter",
}


def glaze_field(shop) -> None:
    _ok(shop.post("/v1/custom-fields", {"key": "glaze", "label": "Favourite glaze",
                                        "type": "select", "options": ["celadon", "tenmoku"]}))


def create(shop, body=None) -> dict:
    return _ok(shop.post("/v1/templates", body or EMAIL))


def test_a_template_is_drafted_approved_and_revised_in_versions(shop):
    glaze_field(shop)
    created = create(shop)
    path = f"/v1/templates/{created['id']}"
    template = shop.get(path, token=created["consistency_token"]).json()
    assert (template["name"], template["channel"], template["latest_version"],
            template["approved_version"]) == ("Winter range", "email", 1, None)
    assert [(v["version"], v["status"]) for v in template["versions"]] == [(1, "draft")]
    assert template["versions"][0]["subject"] == EMAIL["subject"]

    approved = _ok(shop.post(f"{path}/versions/1/approve", {"note": "looks good"}))
    revised = _ok(shop.post(f"{path}/versions", {**{k: EMAIL[k] for k in ("subject", "html")},
                                                  "text": "Now with {{ customer.name }}",
                                                  "note": "new text"}))
    assert revised["version"] == approved["version"] + 1
    template = shop.get(path, token=revised["consistency_token"]).json()
    assert [(v["version"], v["status"]) for v in template["versions"]] == [(1, "approved"),
                                                                           (2, "draft")]
    assert (template["latest_version"], template["approved_version"]) == (2, 1)
    assert template["versions"][0]["review_note"] == "looks good"
    assert template["versions"][1]["note"] == "new text"

    rejected = _ok(shop.post(f"{path}/versions/2/reject", {"reason": "too long"}))
    template = shop.get(path, token=rejected["consistency_token"]).json()
    assert template["versions"][1]["status"] == "rejected"
    assert template["approved_version"] == 1
    # A version is reviewed once.
    before = head(shop.client.app)
    assert_problem(shop.post(f"{path}/versions/1/approve", {}), 409)
    assert_problem(shop.post(f"{path}/versions/2/approve", {}), 409)
    assert_problem(shop.post(f"{path}/versions/9/approve", {}), 422, "version")
    assert head(shop.client.app) == before

    listed = shop.get("/v1/templates", token=rejected["consistency_token"],
                      params={"channel": "email"}).json()
    assert [t["id"] for t in listed["items"]] == [created["id"]]


def test_only_an_owner_approves(shop):
    created = create(shop, {**EMAIL, "subject": "Hello {{ customer.name }}"})
    member = _ok(shop.post("/v1/api-keys", {"role": "member"}))["api_key"]
    before = head(shop.client.app)
    refused = shop.client.post(f"/v1/templates/{created['id']}/versions/1/approve", json={},
                               headers={"Authorization": f"Bearer {member}"})
    assert_problem(refused, 403)
    assert head(shop.client.app) == before


@pytest.mark.parametrize("changes, field, words", [
    ({"subject": "Hi\n{{ customer.fist_name }}"}, "subject",
     ["line 2", "customer.fist_name is not defined", "first_name"]),
    ({"html": "<p>\n\n{{ customer.custom.glazed }}</p>"}, "html",
     ["line 3", "customer.custom.glazed is not defined", "glaze"]),
    ({"text": "{{ custmer.name }}"}, "text", ["line 1", "custmer is not defined", "customer"]),
    ({"html": "<p>{% if customer.name %}open</p>"}, "html", ["line 1", "endif"]),
    ({"text": "{{ customer.__class__.__mro__ }}"}, "text", ["not allowed"]),
    ({"text": "{{ 'x' * 10000000 }}"}, "text", ["not allowed"]),
    ({"text": "{" * 2000}, "text", ["nests too deeply"]),
    ({"subject": None}, "subject", ["required"]),
    ({"html": None, "text": None}, "html", ["HTML or a plain-text part"]),
])
def test_a_template_with_an_error_is_refused_naming_the_part_and_line(shop, changes, field, words):
    glaze_field(shop)
    before = head(shop.client.app)
    problem = assert_problem(shop.post("/v1/templates", {**EMAIL, **changes}), 422, field)
    reason = next(e["reason"] for e in problem["errors"] if e["field"] == field)
    for word in words:
        assert word in reason, reason
    assert head(shop.client.app) == before


def test_a_revision_is_checked_too(shop):
    created = create(shop, {**EMAIL, "subject": "Hello {{ customer.name }}"})
    before = head(shop.client.app)
    assert_problem(shop.post(f"/v1/templates/{created['id']}/versions",
                             {"subject": "{{ customer.nme }}", "text": "x"}), 422, "subject")
    assert head(shop.client.app) == before


def test_preview_renders_for_a_real_customer_from_the_read_models(shop):
    glaze_field(shop)
    ada = shop.register("Ada Potter <3", "ada@example.com")["id"]
    _ok(shop.patch(f"/v1/customers/{ada}/custom-fields", {"values": {"glaze": "tenmoku"}}))
    order = _ok(shop.post(f"/v1/customers/{ada}/orders", {
        "order_id": "W-17", "amount": "64.50", "currency": "GBP", "item_count": 2}))
    created = create(shop, {**EMAIL, "text": None})
    shop.get(f"/v1/customers/{ada}", token=order["consistency_token"])
    preview = _ok(shop.post(f"/v1/templates/{created['id']}/preview", {"customer_id": ada},
                            headers={"X-Consistency-Token": created["consistency_token"]}))
    assert preview["subject"] == "Ada, the tenmoku range is here"
    assert "<p>Dear Ada,</p>" in preview["html"]
    assert "Your last order W-17 came to 64.50 GBP." in preview["html"]
    # No text part: one is made from the HTML, links kept.
    assert "See the range (https://shop.example/winter)" in preview["text"]
    assert preview["variables"]["customer"]["custom"] == {"glaze": "tenmoku"}

    # HTML-escaped in the HTML part only.
    escaped = _ok(shop.post("/v1/templates/preview", {
        "customer_id": ada, "channel": "email", "subject": "{{ customer.name }}",
        "html": "<b>{{ customer.name }}</b>"}))
    assert escaped["subject"] == "Ada Potter <3"
    assert escaped["html"] == "<b>Ada Potter &lt;3</b>"


def test_preview_for_a_customer_without_the_variable_says_which(shop):
    glaze_field(shop)
    bob = shop.register("Bob", None)
    created = create(shop)
    problem = assert_problem(shop.post(f"/v1/templates/{created['id']}/preview",
                                       {"customer_id": bob["id"]},
                                       headers={"X-Consistency-Token": created["consistency_token"]}),
                             422, "html")
    assert "order is not defined" in problem["errors"][0]["reason"]
    # Guarded with `is defined`, the same template works for him.
    guarded = _ok(shop.post("/v1/templates/preview", {
        "customer_id": bob["id"], "channel": "sms",
        "text": "Hi {{ customer.first_name }}{% if order is defined %}, thanks for {{ order.id }}"
                "{% endif %}!"}))
    assert guarded["text"] == "Hi Bob!"
    assert_problem(shop.post("/v1/templates/preview", {
        "customer_id": "00000000-0000-0000-0000-000000000001", "channel": "sms", "text": "x"}),
        422, "customer_id")


def sms(shop, text: str) -> dict:
    return create(shop, {"name": "Text", "channel": "sms", "text": text})


def test_sms_length_is_counted_in_segments(shop):
    # GSM-7: 160 in one message, 153 per segment beyond; extension characters count double.
    cases = [("a" * 160, "GSM-7", 160, 1), ("a" * 161, "GSM-7", 161, 2),
             ("€" * 80, "GSM-7", 160, 1), ("]" * 81, "GSM-7", 162, 2),
             ("a" * 306, "GSM-7", 306, 2), ("a" * 307, "GSM-7", 307, 3),
             # One character outside GSM-7 makes it UCS-2: 70 in one, 67 per segment.
             ("ç" + "a" * 69, "UCS-2", 70, 1), ("ç" + "a" * 70, "UCS-2", 71, 2),
             # An emoji is two UTF-16 units, never split across segments.
             ("😀" * 35, "UCS-2", 70, 1), ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),
             # Nor is an escaped extension character.
             ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3)]
    token = None
    ids = []
    for text, *_ in cases:
        created = sms(shop, text)
        ids.append(created["id"])
        token = created["consistency_token"]
    shop.get("/v1/templates", token=token)
    for template_id, (text, encoding, units, segments) in zip(ids, cases):
        version = shop.get(f"/v1/templates/{template_id}").json()["versions"][0]
        assert version["sms"] == {"encoding": encoding, "units": units, "segments": segments,
                                  "per_segment": 160 if encoding == "GSM-7" and segments == 1
                                  else 153 if encoding == "GSM-7"
                                  else 70 if segments == 1 else 67}, text


def test_sms_preview_counts_the_real_customers_text(shop):
    ada = shop.register("Ada Lovelace-Żółć", None)
    created = sms(shop, "Hi {{ customer.name }}! " + "a" * 130)
    preview = _ok(shop.post(f"/v1/templates/{created['id']}/preview", {"customer_id": ada["id"]},
                            headers={"X-Consistency-Token": created["consistency_token"]}))
    assert preview["sms"]["encoding"] == "UCS-2"   # the name brings in non-GSM letters
    assert preview["sms"]["segments"] == 3
    sample = shop.get(f"/v1/templates/{created['id']}", token=created["consistency_token"]).json()
    assert sample["versions"][0]["sms"]["encoding"] == "GSM-7"   # the sample name is plain


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "channel": "sms", "text": "a" * 1531}, "text"),          # 11 segments
    ({"name": "x", "channel": "sms", "subject": "s", "text": "t"}, "subject"),
    ({"name": "x", "channel": "whatsapp", "html": "<p>t</p>", "text": "t"}, "html"),
    ({"name": "x", "channel": "whatsapp", "text": "  "}, "text"),
    ({"name": "x", "channel": "pigeon", "text": "t"}, "channel"),
    ({"name": "", "channel": "sms", "text": "t"}, "name"),
])
def test_channel_rules(shop, body, field):
    before = head(shop.client.app)
    assert_problem(shop.post("/v1/templates", body), 422, field)
    assert head(shop.client.app) == before


def test_another_tenants_template_is_not_found(shop, make_tenant):
    created = create(shop, {**EMAIL, "subject": "Hi"})
    other = make_tenant("Other")
    assert_problem(other.get(f"/v1/templates/{created['id']}", token=created["consistency_token"]),
                   404)
    assert_problem(other.post(f"/v1/templates/{created['id']}/versions/1/approve", {}), 404)
