"""Logging set-up: secrets never reach a log line, and addresses are masked, in every logger.

Link tokens (``/confirm/…``, ``/unsubscribe/…``) and a hook's secret URL token
(``/v1/hooks/FORM/…``) are credentials; an address is masked to ``j***@example.com`` however a
URL spells it (``@``, ``%40``, ``%2540``). The filter sits on the root handlers and on uvicorn's
access and error loggers, so the server's access log is covered too, tracebacks included.
"""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"(/(?:confirm|unsubscribe)/|/v1/hooks/[^/\s\"?]+/)[^\s\"?/]+")
_ADDRESS = re.compile(
    r"""([^\s@"'<>()\[\],;:/\\?&=])[^\s@"'<>()\[\],;:/\\?&=]*(@|%40|%2540)([^\s@"'<>()\[\],;:/\\?&=%]+)""",
    re.IGNORECASE,
)
_PLAIN = logging.Formatter()


def redact(text: str) -> str:
    """Hide link and hook tokens and mask addresses (``j***@example.com``)."""
    # Most lines (an access-log line for a signup, a job done) hold neither: skip the regexes.
    if "/confirm/" in text or "/unsubscribe/" in text or "/v1/hooks/" in text:
        text = _TOKEN_PATH.sub(r"\1…", text)
    if "@" in text or "%40" in text or "%2540" in text:
        text = _ADDRESS.sub(r"\1***\2\3", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
