"""Import customers and orders from CSV; export any customer list or segment to CSV or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import ImportReport
from api.routes import Route
from api.routes.customers import custom_field_filters
from commands import imports
from commands.errors import NotFound
from domain.base import DomainError
from readmodels import exports, segments
from readmodels.custom_fields import BadFilter

command_router = APIRouter(route_class=Route, prefix="/v1/imports", tags=["import and export"])
query_router = APIRouter(route_class=Route, prefix="/v1/exports", tags=["import and export"])
CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {
    "type": "string", "example": "name,email,tags\nAda Potter,ada@example.com,vip\n"}}}}}
MapParam = Annotated[list[str] | None, Query(
    max_length=100, description="`field=Column`, e.g. `email=E-mail address` or "
                                "`custom.region=Area`; columns named like a field need none")]
DryRun = Annotated[bool, Query(description="validate every row and report, storing nothing")]
FirstLine = Annotated[int, Query(ge=2, description="the file line of the first data row (when a "
                                                   "large file is sent in parts)")]


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for index, pair in enumerate(pairs or []):
        target, sep, column = pair.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise DomainError("each map is field=Column", f"map[{index}]")
        mapping[target.strip()] = column.strip()
    return mapping


async def _text(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError("the file must be UTF-8 text", "file") from None


def _finder(request: Request, tenant_id: str):
    store = request.app.state.store
    if store is None:  # a command-only node has no read model: dedupe by the import's own ids
        return lambda email: None
    reader = store.reader()
    return lambda email: exports.customer_id_by_email(reader, tenant_id, email)


@command_router.post("/customers", response_model=ImportReport, openapi_extra=CSV_BODY)
async def import_customers(request: Request, ctx: CommandDep, map: MapParam = None,
                           dry_run: DryRun = False, first_line: FirstLine = 2):
    """Columns: name, email, phone, source, external_id, tags (`;`-separated), lifecycle_stage,
    custom.<key>. A row is identified by external_id, else email: existing customers are
    updated, so running a file again changes nothing. Bad rows are reported with their line
    and reason and store nothing; the good rows are stored."""
    content, mapping = await _text(request), _mapping(map)
    report = await run_in_threadpool(imports.import_customers, ctx.crm, ctx.meta, content, mapping,
                                     _finder(request, ctx.meta.tenant_id), dry_run, first_line)
    return report.as_dict()


@command_router.post("/orders", response_model=ImportReport, openapi_extra=CSV_BODY)
async def import_orders(request: Request, ctx: CommandDep, map: MapParam = None,
                        dry_run: DryRun = False, first_line: FirstLine = 2):
    """Columns: customer_external_id or customer_email, order_id, amount, currency,
    item_count (default 1), occurred_at. An order id already recorded is left as it is."""
    content, mapping = await _text(request), _mapping(map)
    report = await run_in_threadpool(imports.import_orders, ctx.crm, ctx.meta, content, mapping,
                                     _finder(request, ctx.meta.tenant_id), dry_run, first_line)
    return report.as_dict()


def _cell(value) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


@query_router.get("/customers", response_class=Response,
                  responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                               "officedocument.spreadsheetml.sheet": {}}}})
def export_customers(request: Request, caller: CallerDep, db: ReaderDep,
                     format: Literal["csv", "xlsx"] = "csv", segment_id: UUID | None = None,
                     q: Annotated[str | None, Query(max_length=200)] = None,
                     tag: Annotated[str | None, Query(max_length=50)] = None,
                     status: Literal["active", "archived"] | None = None,
                     created_from: datetime | None = None, created_to: datetime | None = None):
    """A segment's members (`segment_id`) or the directory filtered as `GET /v1/customers`
    (q, tag, status, created range, `cf.<key>` filters): one row per customer with its lead
    stage, owner, orders, spend and custom fields."""
    if segment_id is not None and segments.get_segment(db, caller.tenant_id, segment_id) is None:
        raise NotFound(f"no segment {segment_id}")
    try:
        columns = exports.export_columns(db, caller.tenant_id)
        rows = exports.export_rows(db, caller.tenant_id, segment_id=segment_id, q=q, tag=tag,
                                   status=status, created_from=created_from,
                                   created_to=created_to, custom=custom_field_filters(request))
        first = next(rows, None)  # runs the query now, so a bad filter is a 422, not a broken file
    except BadFilter as error:
        raise DomainError(str(error), error.field) from None
    everything = _chain(first, rows)
    name = f"customers-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    if format == "xlsx":
        return Response(_xlsx(columns, everything), headers={
            "Content-Disposition": f'attachment; filename="{name}.xlsx"'},
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return StreamingResponse(_csv(columns, everything), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _chain(first, rest: Iterator) -> Iterator:
    if first is not None:
        yield first
        yield from rest


def _csv(columns: list[str], rows: Iterator[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell(row.get(column)) for column in columns])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _xlsx(columns: list[str], rows: Iterator[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Customers")
    sheet.append(columns)
    for row in rows:
        sheet.append([_xlsx_cell(row.get(column)) for column in columns])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(value) -> object:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: UTC, as everywhere here
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return value
