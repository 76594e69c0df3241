"""``server.log_format = "json"``: one JSON object per line, for log collectors.

Every line carries the time (UTC, ISO 8601), level, logger and message, masked exactly like the
text logs (service.logs: no link tokens, addresses as ``j***@example.com``), and, inside a
request, its ``request_id`` (the ``X-Request-ID`` the response carries). Access-log lines add an
``http`` object: method, path (tokens hidden), status and duration.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from service.logs import redact


@dataclass(slots=True)  # one per request
class RequestInfo:
    """What a log line may say about the request it was written in."""

    id: str
    method: str
    path: str
    started: float  # time.perf_counter() at arrival
    status: int | None = None
    seconds: float | None = None  # set when the response starts


CURRENT: ContextVar[RequestInfo | None] = ContextVar("optin_request", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request = CURRENT.get()
        if request is not None:
            doc["request_id"] = request.id
            if record.name == "uvicorn.access":
                doc["http"] = {
                    "method": request.method,
                    "path": redact(request.path),
                    "status": request.status,
                    "duration_ms": round(request.seconds * 1000, 1) if request.seconds is not None else None,
                }
        if record.exc_info:
            doc["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)
