"""Logging set-up: links we email are credentials, so their tokens never reach a log line."""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"(/(?:confirm|unsubscribe)/)[^\s\"?]+")
_ADDRESS = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


def redact(text: str) -> str:
    """Hide link tokens and mask addresses (``j***@example.com``)."""
    return _ADDRESS.sub(r"\1***@\2", _TOKEN_PATH.sub(r"\1…", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact(str(record.msg))
        return True


def configure_logging(level: int = logging.INFO, log_format: str = "text") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)
        if log_format == "json":  # server.log_format; see service.log_json
            from service.log_json import JsonFormatter

            handler.setFormatter(JsonFormatter())
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(redacting)
