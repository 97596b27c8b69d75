"""Documents through HTTP: attach (content-addressed files, type and size limits), list,
download, remove (the history keeps it)."""

from __future__ import annotations

import hashlib

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _upload(tenant, customer_id: str, content: bytes, filename: str, content_type: str):
    return tenant.client.post(f"/v1/customers/{customer_id}/documents", content=content,
                              params={"filename": filename},
                              headers={**tenant.headers, "Content-Type": content_type})


def test_documents(tenant, other_tenant, app, settings, monkeypatch):
    monkeypatch.setenv("CRM_MAX_DOCUMENT_BYTES", "4096")
    ada = tenant.register()
    contract = _ok(_upload(tenant, ada["id"], PDF, "Contract 2026.pdf", "application/pdf"), 201)
    notes = _ok(_upload(tenant, ada["id"], "Glaze: celadon ✓\n".encode(), "notes.txt",
                        "text/plain; charset=utf-8"), 201)
    again = _ok(_upload(tenant, ada["id"], PDF, "copy.pdf", "application/pdf"), 201)
    # Stored once, under its SHA-256, in the data directory.
    digest = hashlib.sha256(PDF).hexdigest()
    stored = settings.data_dir / "documents" / digest[:2] / digest
    assert stored.read_bytes() == PDF
    assert len(list((settings.data_dir / "documents").rglob("*"))) == 4  # 2 dirs, 2 files

    listed = _ok(tenant.get(f"/v1/customers/{ada['id']}/documents", token=again["consistency_token"]))
    assert [(d["filename"], d["content_type"], d["size"]) for d in listed] == [
        ("copy.pdf", "application/pdf", len(PDF)), ("notes.txt", "text/plain", 19),
        ("Contract 2026.pdf", "application/pdf", len(PDF))]
    download = tenant.get(f"/v1/customers/{ada['id']}/documents/{contract['document_id']}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert "Contract%202026.pdf" in download.headers["content-disposition"]

    # Refused: too large (413 before the body is read), a type not accepted, bytes that are not
    # what the type says, a path for a name. Nothing is stored.
    head = app.state.crm.recorder.max_notification_id()
    too_big = _upload(tenant, ada["id"], PDF + b"0" * 5000, "big.pdf", "application/pdf")
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    for content, name, kind, field in ((b"MZ\x90\x00", "tool.exe", "application/x-msdownload",
                                        "Content-Type"),
                                       (b"not a pdf", "fake.pdf", "application/pdf", "file"),
                                       (PDF, "../../etc/passwd", "application/pdf", "filename"),
                                       (b"", "empty.txt", "text/plain", "file")):
        response = _upload(tenant, ada["id"], content, name, kind)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    assert app.state.crm.recorder.max_notification_id() == head
    assert len(list((settings.data_dir / "documents").rglob("*"))) == 4

    # Remove: gone from the list and the download; the history and the timeline keep it.
    removed = _ok(tenant.client.delete(f"/v1/customers/{ada['id']}/documents/{notes['document_id']}",
                                       headers=tenant.headers))
    assert [d["filename"] for d in _ok(tenant.get(f"/v1/customers/{ada['id']}/documents",
                                                  token=removed["consistency_token"]))] == [
        "copy.pdf", "Contract 2026.pdf"]
    assert tenant.get(f"/v1/customers/{ada['id']}/documents/{notes['document_id']}").status_code == 404
    gone_twice = tenant.client.delete(f"/v1/customers/{ada['id']}/documents/{notes['document_id']}",
                                      headers=tenant.headers)
    assert gone_twice.status_code == 404
    history = [e["type"] for e in _ok(tenant.get(f"/v1/customers/{ada['id']}/history"))]
    assert history.count("Customer.DocumentAttached") == 3 and "Customer.DocumentRemoved" in history
    timeline = _ok(tenant.get(f"/v1/customers/{ada['id']}/timeline", params={"kind": "document"}))
    assert timeline["items"][0]["summary"] == "Removed notes.txt"

    # Other tenants can neither see nor attach.
    assert other_tenant.get(f"/v1/customers/{ada['id']}/documents").status_code == 404
    assert other_tenant.get(
        f"/v1/customers/{ada['id']}/documents/{contract['document_id']}").status_code == 404
    assert _upload(other_tenant, ada["id"], PDF, "x.pdf", "application/pdf").status_code == 404
