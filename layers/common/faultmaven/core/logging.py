"""Structured JSON logging through Powertools, with the request's correlation id on every
line and secrets scrubbed before anything is written.

The correlation id comes from a context variable rather than `logger.append_keys`,
because the local runtime serves concurrent requests from a thread pool and appended keys
are process-wide.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from aws_lambda_powertools import Logger

from faultmaven.core.context import current_request_id

REDACTED = "[REDACTED]"

# Keys whose values are never written, wherever they appear in a log record.
_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|api[_-]?key|cookie|credential|private[_-]?key",
    re.IGNORECASE,
)
# Values that look like credentials inside free text.
_SENSITIVE_TEXT = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
    (
        re.compile(
            r"(?i)\b([\w-]*(?:password|passwd|secret|token|api[_-]?key))\b"
            r"([\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)(://[^:/\s]+:)[^@/\s]+@"), r"\1" + REDACTED + "@"),
)

_TRACEBACK = logging.Formatter()
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def scrub_text(text: str) -> str:
    """Replace credentials that appear inside free text."""
    for pattern, replacement in _SENSITIVE_TEXT:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(key: str, value: Any) -> Any:
    """Redact a value by its key, recursing into mappings and sequences."""
    if _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(key, item) for item in value]
    return value


class ScrubSecretsFilter(logging.Filter):
    """Scrubs the message, its arguments and every extra key of a record, and stamps it
    with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        elif isinstance(record.msg, dict):
            record.msg = scrub_value("msg", record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            # Exception messages can carry connection strings or tokens: format, scrub,
            # and hand the formatter text instead of the live exception.
            record.__dict__["exception_name"] = record.exc_info[0].__name__
            record.__dict__["exception"] = scrub_text(_TRACEBACK.formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        for key in [k for k in record.__dict__ if k not in _RESERVED]:
            record.__dict__[key] = scrub_value(key, record.__dict__[key])
        request_id = current_request_id()
        if request_id is not None and "correlation_id" not in record.__dict__:
            record.__dict__["correlation_id"] = request_id
        return True


logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "faultmaven"),
    level=os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
)
logger.addFilter(ScrubSecretsFilter())


def configure_logging(level: str) -> None:
    logger.setLevel(level)
