"""Request context as plain ASGI middleware (cheaper than BaseHTTPMiddleware on every
request): a correlation id in and out as `X-Request-Id`, a body size cap, a JSON nesting
cap, and one access log line per request."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from itertools import accumulate
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
    """Raised while reading a body that grows past the limit, whatever its framing."""


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI may parse this body as JSON: application/json or
    application/*+json, or no Content-Type at all (a route with `strict_content_type`
    off reads those as JSON too)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            main, _, sub = media.partition(b"/")
            return main == b"application" and (sub == b"json" or sub.endswith(b"+json"))
    return True


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects deeper than `limit`, found without
    parsing it (parsers and validators recurse: a few hundred levels raise RecursionError
    deep inside them). Brackets inside strings do not count. Ill-formed text is judged as
    far as it goes (openers never closed count as nesting); the parser refuses it anyway.
    The scans run in C; only a body with more than `limit` brackets is walked, at worst
    about a quarter of a second of CPU for a 1 MiB body of nothing but brackets."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # every ordinary body: two scans in C
    structure = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, structure)), default=0) > limit


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_json_depth: int,
        larger_bodies: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        """`larger_bodies`: (path pattern, limit) for the few routes that take files in the
        request itself (a chat turn's attachments); every other route gets the default."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.larger_bodies = tuple(larger_bodies)

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        for pattern, limit in self.larger_bodies:
            if pattern.fullmatch(path):
                return limit
        return self.max_body_bytes

    async def _read_body(self, receive: Receive, limit: int) -> tuple[bytes, list[Message]]:
        """The whole body (at most the limit: Content-Length can be absent, as with
        chunked framing, or wrong, so what arrives is counted), and any message received
        after it ended. Read here, before routing, so that every route and body type gets
        the same 413, and no framework code turns the overflow into another error."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), [message]  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = set_request_id(request_id)
        began = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        limit = self._limit(scope)
        too_large = error_response(
            413, "PAYLOAD_TOO_LARGE", f"The request body exceeds {limit} bytes"
        )
        try:
            length = _content_length(scope)
            if length is not None and length > limit:
                await too_large(scope, receive, send_with_id)
                return
            try:
                body, after = await self._read_body(receive, limit)
            except _BodyTooLargeError:
                await too_large(scope, receive, send_with_id)
                return
            if body and _is_json(scope) and json_depth_exceeds(body, self.max_json_depth):
                too_deep = error_response(
                    400,
                    "JSON_TOO_DEEP",
                    f"The request body nests arrays and objects deeper than"
                    f" {self.max_json_depth} levels",
                )
                await too_deep(scope, receive, send_with_id)
                return
            pending: list[Message] = [
                {"type": "http.request", "body": body, "more_body": False},
                *after,
            ]

            async def replay() -> Message:
                return pending.pop(0) if pending else await receive()

            try:
                await self.app(scope, replay, send_with_id)
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
