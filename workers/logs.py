"""Structured logs for the long-running processes: one JSON object per line.

Operators grep and ship these lines (relay, query node feed, automation
worker), so every line says what happened as a stable ``event`` name plus
fields, instead of prose that changes with each rewording.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any

import orjson


class JsonLines(logging.Formatter):
    """``{"ts", "level", "logger", "event", ...fields}``; an exception adds ``error``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def setup(level: int = logging.INFO) -> None:
    """Sends every log line of the process to stderr as JSON (call once, at start)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its retries are reported by ours


def emit(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Logs ``event`` (a dotted name such as ``relay.published``) with its fields."""
    logger.log(level, event, extra={"fields": fields})
