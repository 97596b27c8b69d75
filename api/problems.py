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
                                                   "Idempotency-Key reused", str(e)),
        Forbidden: lambda r, e: problem(403, "forbidden", "Forbidden", str(e)),
        BadCursor: lambda r, e: problem(400, "bad-cursor", "Invalid cursor", str(e),
                                        errors=[{"field": "cursor", "reason": str(e)}]),
        HTTPException: lambda r, e: problem(e.status_code, "http", str(e.detail),
                                            headers=getattr(e, "headers", None)),
    }
    for exc, handler in handlers.items():
        app.add_exception_handler(exc, handler)
