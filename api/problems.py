"""Errors as RFC 9457 ``application/problem+json``, with the field at fault where there is one."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from commands.errors import Conflict, Forbidden, IdempotencyKeyReused, NotFound
from domain.base import DomainError, InvalidTransition
from readmodels.cursor import BadCursor

PROBLEM_TYPE = "https://docs.craved.example/problems/"


class ProblemResponse(Response):
    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(status: int, kind: str, title: str, detail: str | None = None,
            errors: list[dict] | None = None, headers: dict | None = None, **extra) -> ProblemResponse:
    body = {"type": PROBLEM_TYPE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    # ("body", "customer_ids", 3) -> "customer_ids[3]"; ("query", "limit") -> "limit"
    name = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _validation(request: Request, error: RequestValidationError) -> ProblemResponse:
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "malformed-json", "The request body is not valid JSON",
                       errors[0].get("ctx", {}).get("error"))
    return problem(422, "invalid-input", "The request has invalid fields",
                   errors=[{"field": _field(tuple(e["loc"])), "reason": e["msg"]} for e in errors])


def install(app: FastAPI) -> None:
    handlers = {
        RequestValidationError: _validation,
        InvalidTransition: lambda r, e: problem(409, "invalid-transition", "Not allowed in this state",
                                                e.message),
        DomainError: lambda r, e: problem(422, "invalid-input", "The request has invalid fields",
                                          errors=[{"field": e.field or "body", "reason": e.message}]),
        NotFound: lambda r, e: problem(404, "not-found", "Not found", str(e)),
        Conflict: lambda r, e: problem(409, "conflict", "Version conflict", str(e),
                                       current_version=e.current_version),
        IdempotencyKeyReused: lambda r, e: problem(422, "idempotency-key-reused",
                                                   "Idempotency-Key reused", str(e),
                                                   errors=[{"field": "idempotency-key",
                                                            "reason": str(e)}]),
        Forbidden: lambda r, e: problem(403, "forbidden", "Forbidden", str(e)),
        BadCursor: lambda r, e: problem(400, "bad-cursor", "Invalid cursor", str(e),
                                        errors=[{"field": "cursor", "reason": str(e)}]),
        HTTPException: lambda r, e: problem(e.status_code, "http", str(e.detail),
                                            headers=getattr(e, "headers", None)),
    }
    for exc, handler in handlers.items():
        app.add_exception_handler(exc, handler)
    document(app)


PROBLEM_SCHEMA = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "reason"],
            "properties": {"field": {"type": "string"}, "reason": {"type": "string"}}}},
    },
}
_ERRORS = {"400": "Malformed JSON, cursor or token", "401": "Missing or invalid API key",
           "403": "The key's role does not allow this", "404": "No such resource in this tenant",
           "409": "Version conflict or not allowed in this state", "413": "Request body too large",
           "422": "Invalid fields (each named in errors[].field)"}


def document(app: FastAPI) -> None:
    """Makes the OpenAPI document say what the service really answers on errors.

    FastAPI documents its own 422 body; this service answers problem+json for
    every error, so each operation gets the problem schema for its error codes.
    """
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                codes = ["401", "403", "404", "422"] if path.startswith("/v1/") else ["422"]
                if method in ("post", "put", "patch", "delete"):
                    codes += ["400", "409", "413"]
                responses = operation.setdefault("responses", {})
                for code in sorted(set(codes)):
                    responses[code] = {"description": _ERRORS[code], "content": problem_ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
