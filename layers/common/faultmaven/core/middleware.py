"""Request context as plain ASGI middleware (cheaper than BaseHTTPMiddleware on every
request): a correlation id in and out as `X-Request-Id`, a body size cap, and one access
log line per request."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faultmaven.core.context import reset_request_id, set_request_id
from faultmaven.core.errors import error_response, unexpected_error_response
from faultmaven.core.logging import logger

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:=+/-]{1,128}$")


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = str(value.decode("latin-1"))
            if _SAFE_ID.match(candidate):
                return candidate
            break
    event: Any = scope.get("aws.event")  # set by Mangum on Lambda
    if isinstance(event, dict):
        request_id = event.get("requestContext", {}).get("requestId")
        if isinstance(request_id, str) and _SAFE_ID.match(request_id):
            return request_id
    return uuid.uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _BodyTooLargeError(Exception):
    """Raised from `receive` once a body grows past the limit, whatever its framing."""


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = set_request_id(request_id)
        began = time.perf_counter()
        status_code = 500
        response_started = False
        body_bytes = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        async def counted_receive() -> Message:
            # Content-Length can be absent (chunked) or wrong: count what actually arrives.
            nonlocal body_bytes
            message = await receive()
            if message["type"] == "http.request":
                body_bytes += len(message.get("body", b""))
                if body_bytes > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        too_large = error_response(
            413, "PAYLOAD_TOO_LARGE", f"The request body exceeds {self.max_body_bytes} bytes"
        )
        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body_bytes:
                await too_large(scope, receive, send_with_id)
                return
            try:
                await self.app(scope, counted_receive, send_with_id)
            except _BodyTooLargeError:
                if response_started:
                    raise
                await too_large(scope, receive, send_with_id)
            except Exception as exc:
                if response_started:
                    raise  # the status line is out; nothing sensible left to send
                await unexpected_error_response(exc)(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                extra={
                    "http_method": scope.get("method"),
                    "path": scope.get("path"),  # never the query string: it may hold secrets
                    "status": status_code,
                    "duration_ms": round((time.perf_counter() - began) * 1000, 2),
                },
            )
            reset_request_id(token)
