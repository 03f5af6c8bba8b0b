"""Errors on the compatibility surface carry what FaultMaven's clients read beside our
envelope: `detail` (a string, or for a 422 the list of `{loc, msg, type}` problems) and
`code`, plus the `X-Error-Code` header the extension branches on. Done as a rewrite of the
one envelope every handler already produces, so no error path is left out (routing 404s,
rate limits, 503s and 500s included)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faultmaven.compat import PREFIX


def problem(field: str, message: str, kind: str) -> dict[str, str]:
    """One problem of a 422 in our envelope's shape (`client_error` turns it into the
    clients' `{loc, msg, type}`); `field` is dotted (`intent_data.to_state`)."""
    return {"field": field, "message": message, "type": kind}


def problems(exc: ValidationError) -> list[dict[str, str]]:
    """A model's validation errors, without the input (it may hold what the user typed)."""
    return [
        problem(".".join(str(part) for part in error["loc"]) or "body", error["msg"], error["type"])
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def client_error(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with `detail` and `code` added (ours kept as they are)."""
    details = envelope.get("details")
    detail: Any = envelope.get("message", "")
    if envelope.get("error_code") == "VALIDATION_FAILED" and isinstance(details, list):
        detail = [
            {
                "loc": ["body", *str(d.get("field", "body")).split(".")],
                "msg": d.get("message", "invalid value"),
                "type": d.get("type", "value_error"),
            }
            for d in details
            if isinstance(d, dict)
        ]
    return {**envelope, "detail": detail, "code": envelope.get("error_code")}


class CompatErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                types = dict(message.get("headers", [])).get(b"content-type", b"")
                is_json = types.startswith(b"application/json")
                if message["status"] >= 400 and is_json:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            try:
                envelope = json.loads(body)
            except ValueError:
                envelope = None
            if isinstance(envelope, dict) and "error_code" in envelope:
                body = json.dumps(client_error(envelope)).encode()
                headers.append((b"x-error-code", str(envelope["error_code"]).encode()))
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
