"""Document routes: attach a file to a customer (the request body is the file), list,
download, remove."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted, DocumentAccepted, DocumentRow
from api.routes import Route
from commands import documents as handlers
from commands.errors import NotFound
from readmodels import customers as directory
from readmodels import documents

# The one route that takes large bodies (see api/limits.py).
DOCUMENT_UPLOADS = r"/v1/customers/[^/]+/documents"
command_router = APIRouter(route_class=Route, prefix="/v1/customers/{customer_id}/documents", tags=["documents"])
query_router = APIRouter(route_class=Route, prefix="/v1/customers/{customer_id}/documents", tags=["documents"])
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    media: {"schema": {"type": "string", "format": "binary"}} for media in sorted(handlers.TYPES)}}}


@command_router.post("", status_code=201, response_model=DocumentAccepted, openapi_extra=UPLOAD_BODY)
async def attach_document(customer_id: UUID, request: Request, ctx: CommandDep,
                          filename: Annotated[str, Query(min_length=1, max_length=255)],
                          content_type: Annotated[str | None, Header()] = None):
    """The body is the file itself, with its `Content-Type` (PDF, images, text, CSV, Office
    documents; at most `CRM_MAX_DOCUMENT_BYTES`, 10 MiB by default)."""
    content = await request.body()
    outcome, document_id = await run_in_threadpool(
        handlers.attach, ctx.crm, ctx.meta, request.app.state.settings.data_dir, customer_id,
        filename, content_type or "", content, ctx.expected_version, ctx.idem)
    return {**outcome.as_dict(), "document_id": document_id}


@command_router.delete("/{document_id}", response_model=CommandAccepted)
def remove_document(customer_id: UUID, document_id: UUID, ctx: CommandDep):
    """The document leaves the list; the customer's history keeps that it was there."""
    return handlers.remove(ctx.crm, ctx.meta, customer_id, document_id, ctx.expected_version,
                           ctx.idem).as_dict()


@query_router.get("", response_model=list[DocumentRow])
def list_documents(customer_id: UUID, caller: CallerDep, db: ReaderDep):
    if not directory.customer_exists(db, caller.tenant_id, customer_id):
        raise NotFound(f"no customer {customer_id}")
    return documents.documents_of_customer(db, caller.tenant_id, customer_id)


@query_router.get("/{document_id}", response_class=FileResponse,
                  responses={200: {"content": {"application/octet-stream": {}}}})
def download_document(customer_id: UUID, document_id: UUID, caller: CallerDep, db: ReaderDep,
                      request: Request):
    found = documents.document(db, caller.tenant_id, customer_id, document_id)
    if found is None:
        raise NotFound(f"no document {document_id}")
    path = handlers.content_path(request.app.state.settings.data_dir, found["sha256"])
    if not path.exists():
        raise NotFound(f"the content of document {document_id} is not on this node")
    return FileResponse(path, media_type=found["content_type"], headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found['filename'])}",
        "X-Content-Type-Options": "nosniff"})
