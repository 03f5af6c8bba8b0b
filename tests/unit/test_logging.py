"""Secrets are scrubbed from log records before any handler sees them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from faultmaven.core.context import reset_request_id, set_request_id
from faultmaven.core.logging import REDACTED, logger, scrub_text


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("password=hunter2 user=ann", "hunter2"),
        ('{"token": "tok-123"}', "tok-123"),
        ("api_key: sk-live-999", "sk-live-999"),
        ("postgresql://fm:s3cr3t@db:5432/fm", "s3cr3t"),
        ("got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl from client", "eyJzdWIiOiJ4In0"),
    ],
)
def test_scrub_text(text: str, leaked: str) -> None:
    scrubbed = scrub_text(text)
    assert leaked not in scrubbed
    assert REDACTED in scrubbed


def test_plain_text_is_left_alone() -> None:
    assert scrub_text("case case_1 moved to resolved") == "case case_1 moved to resolved"


def capture(emit: object) -> list[dict[str, object]]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_handler.formatter)
    logger.addHandler(handler)
    try:
        emit()  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_extra_keys_arguments_and_exceptions_are_scrubbed() -> None:
    def emit() -> None:
        logger.warning(
            "login for %s with password=%s",
            "ann",
            "hunter2",
            extra={
                "password": "hunter2",
                "body": {"refresh_token": "r-1", "title": "ok"},
            },
        )
        try:
            raise RuntimeError("cannot connect to postgresql://fm:pw-42@db/fm")
        except RuntimeError:
            logger.exception("boom")

    first, second = capture(emit)
    assert "hunter2" not in json.dumps(first)
    assert first["password"] == REDACTED
    assert first["body"] == {"refresh_token": REDACTED, "title": "ok"}
    assert "pw-42" not in json.dumps(second)
    assert second["exception_name"] == "RuntimeError"


def test_the_request_id_is_on_every_line() -> None:
    token = set_request_id("req-77")
    try:
        (line,) = capture(lambda: logger.warning("inside a request"))
    finally:
        reset_request_id(token)
    assert line["correlation_id"] == "req-77"
