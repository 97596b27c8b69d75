"""Custom fields through HTTP: definitions, validated values, the 360 view and directory filters."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _refused(response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json().get("errors", [])], response.text


def _define(tenant, key, type, **fields) -> dict:
    return _ok(tenant.post("/v1/custom-fields", {"key": key, "label": key.title(), "type": type,
                                                 **fields}), 201)


def test_values_are_validated_shown_and_filterable(tenant, other_tenant, app):
    _define(tenant, "shop_size", "number")
    _define(tenant, "first_visit", "date")
    _define(tenant, "wholesale", "boolean")
    _define(tenant, "region", "select", options=["north", "south"])
    _define(tenant, "interests", "multi_select", options=["clay", "glass", "wood"])
    _define(tenant, "vat_number", "text", unique=True)
    ada, bea = tenant.register("Ada", "ada@example.com"), tenant.register("Bea", "bea@example.com")
    path = f"/v1/customers/{ada['id']}/custom-fields"

    # Every bad value is refused with its field and reason, and nothing is stored.
    head = app.state.crm.recorder.max_notification_id()
    for values, field in (({"shop_size": "lots"}, "values.shop_size"),
                          ({"shop_size": True}, "values.shop_size"),
                          ({"first_visit": "31/01/2026"}, "values.first_visit"),
                          ({"wholesale": "yes"}, "values.wholesale"),
                          ({"region": "east"}, "values.region"),
                          ({"interests": ["clay", "metal"]}, "values.interests"),
                          ({"colour": "red"}, "values.colour"),
                          ({"region": "north", "shop_size": "1e99"}, "values.shop_size")):
        _refused(tenant.patch(path, {"values": values}), field)
    assert app.state.crm.recorder.max_notification_id() == head

    done = _ok(tenant.patch(path, {"values": {
        "shop_size": 12.5, "first_visit": "2025-11-02", "wholesale": True, "region": "north",
        "interests": ["wood", "clay", "wood"], "vat_number": "GB123"}}))
    bea_set = _ok(tenant.patch(f"/v1/customers/{bea['id']}/custom-fields",
                               {"values": {"shop_size": "3", "region": "south",
                                           "interests": ["glass"]}}))
    # Unique: another customer cannot take Ada's VAT number (whatever its case) until she frees it.
    bea_path = f"/v1/customers/{bea['id']}/custom-fields"
    _refused(tenant.patch(bea_path, {"values": {"vat_number": "gb123"}}), "values.vat_number")

    assert done["version"] == 2
    # (Any later token will do: the node applies the log in order.)
    view = _ok(tenant.get(f"/v1/customers/{ada['id']}", token=bea_set["consistency_token"]))
    assert {f["key"]: f["value"] for f in view["custom_fields"]} == {
        "shop_size": "12.5", "first_visit": "2025-11-02", "wholesale": True, "region": "north",
        "interests": ["clay", "wood"], "vat_number": "GB123"}

    def names(**params) -> list[str]:
        return sorted(c["name"] for c in _ok(tenant.get("/v1/customers", params=params))["items"])

    assert names(**{"cf.region": "north"}) == ["Ada"]
    assert names(**{"cf.shop_size.gte": "5"}) == ["Ada"]
    assert names(**{"cf.shop_size.lte": "12.5", "cf.shop_size.gte": "3"}) == ["Ada", "Bea"]
    assert names(**{"cf.interests": "glass"}) == ["Bea"]
    assert names(**{"cf.first_visit.lte": "2026-01-01"}) == ["Ada"]
    assert names(**{"cf.wholesale": "true"}) == ["Ada"]
    assert names(**{"cf.vat_number": "gb123"}) == ["Ada"]
    assert names(**{"cf.wholesale.set": "false"}) == ["Bea"]
    _refused(tenant.get("/v1/customers", params={"cf.colour": "red"}), "cf.colour")
    _refused(tenant.get("/v1/customers", params={"cf.shop_size.gte": "big"}), "cf.shop_size.gte")
    _refused(tenant.get("/v1/customers", params={"cf.region.gte": "a"}), "cf.region.gte")

    # Changing a definition never touches stored values: drop an option Ada chose, relabel,
    # make it required. The type and uniqueness cannot change.
    _ok(tenant.patch("/v1/custom-fields/region", {"label": "Sales region", "options": ["south", "east"],
                                                  "required": True}))
    _refused(tenant.patch("/v1/custom-fields/shop_size", {"type": "text"}), "type")
    _refused(tenant.patch("/v1/custom-fields/region", {"unique": True}), "unique")
    _refused(tenant.patch(path, {"values": {"region": None}}), "values.region")  # now required
    changed = _ok(tenant.patch(path, {"values": {"vat_number": None}}))
    view = _ok(tenant.get(f"/v1/customers/{ada['id']}", token=changed["consistency_token"]))
    region = next(f for f in view["custom_fields"] if f["key"] == "region")
    assert (region["label"], region["value"]) == ("Sales region", "north")
    assert names(**{"cf.region": "north"}) == ["Ada"]
    # Ada freed the VAT number, so Bea may have it now.
    _ok(tenant.patch(bea_path, {"values": {"vat_number": "gb123"}}))
    # A required field must be given when registering.
    _refused(tenant.post("/v1/customers", {"name": "Cal"}), "custom_fields.region")
    cal = _ok(tenant.post("/v1/customers", {"name": "Cal", "custom_fields": {"region": "east"}}), 201)
    assert cal["version"] == 2

    # Retiring hides a field and its key is never reused.
    retired = _ok(tenant.client.delete("/v1/custom-fields/wholesale", headers=tenant.headers))
    _refused(tenant.post("/v1/custom-fields", {"key": "wholesale", "label": "W", "type": "text"}),
             "key")
    fields = _ok(tenant.get("/v1/custom-fields", token=retired["consistency_token"]))
    assert [f["key"] for f in fields] == ["shop_size", "first_visit", "region", "interests",
                                         "vat_number"]
    assert fields[2]["options"] == ["south", "east"] and fields[2]["required"] is True

    # Other tenants: their own (empty) definitions; this tenant's customers are not found.
    assert _ok(other_tenant.get("/v1/custom-fields")) == []
    assert other_tenant.patch(path, {"values": {"region": "north"}}).status_code == 404


def test_bad_definitions_are_refused(tenant):
    for body, field in (({"key": "Bad Key", "label": "x", "type": "text"}, "key"),
                        ({"key": "x", "label": "x", "type": "colour"}, "type"),
                        ({"key": "x", "label": "x", "type": "select"}, "options"),
                        ({"key": "x", "label": "x", "type": "select", "options": ["a", "a"]},
                         "options[1]"),
                        ({"key": "x", "label": "x", "type": "number", "options": ["a"]}, "options"),
                        ({"key": "x", "label": "x", "type": "boolean", "unique": True}, "unique"),
                        ({"key": "x", "label": "", "type": "text"}, "label")):
        _refused(tenant.post("/v1/custom-fields", body), field)
    _refused(tenant.patch("/v1/custom-fields/nothing", {"label": "x"}), "key")
