"""API keys: owners issue and revoke them; roles limit what a key may do."""

from __future__ import annotations


def test_an_owner_issues_a_viewer_key_that_reads_but_cannot_write(tenant, client):
    issued = tenant.post("/v1/api-keys", {"role": "viewer", "label": "dashboard"})
    assert issued.status_code == 201
    viewer = {"Authorization": f"Bearer {issued.json()['api_key']}"}

    assert client.get("/v1/customers", headers=viewer).status_code == 200
    refused = client.post("/v1/customers", json={"name": "Nope"}, headers=viewer)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


def test_a_revoked_key_stops_working_at_once_even_though_it_was_cached(tenant, client):
    member = tenant.post("/v1/api-keys", {"role": "member"}).json()
    headers = {"Authorization": f"Bearer {member['api_key']}"}
    assert client.get("/v1/customers", headers=headers).status_code == 200  # now cached

    assert client.delete(f"/v1/api-keys/{member['id']}", headers=tenant.headers).status_code == 204

    assert client.get("/v1/customers", headers=headers).status_code == 401


def test_only_an_owner_manages_keys(tenant, client):
    member = tenant.post("/v1/api-keys", {"role": "member"}).json()
    headers = {"Authorization": f"Bearer {member['api_key']}"}

    assert client.post("/v1/api-keys", json={"role": "owner"}, headers=headers).status_code == 403


def test_another_tenants_key_cannot_be_revoked(tenant, other_tenant, client):
    theirs = other_tenant.post("/v1/api-keys", {"role": "member"}).json()

    assert client.delete(f"/v1/api-keys/{theirs['id']}", headers=tenant.headers).status_code == 404
    assert client.get("/v1/customers", headers={"Authorization": f"Bearer {theirs['api_key']}"}).status_code == 200
