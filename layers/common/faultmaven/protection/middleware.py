"""Protection as plain ASGI middleware: every request (routed or not, authenticated or
not) is counted against its client address before the app sees it, and every client
error it ends in is counted against the client's reputation after the answer is sent.

The per-user check runs later, once authentication knows the user
(`protection.dependencies.admit_user`); its result comes back through the request state,
so the `RateLimit-*` headers describe whichever budget is tighter.

The counters are called on the event loop, not in a thread: a check is one Redis round
trip of well under a millisecond, a thread hop would cost about as much and would
compete with the endpoints for the thread pool, and a Redis that stops answering costs
one short timeout before the per-process counters take over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faultmaven.auth.dependencies import client_address
from faultmaven.core.context import is_priming
from faultmaven.core.errors import error_response
from faultmaven.core.logging import logger
from faultmaven.protection.dependencies import (
    ADDRESS_RESULT,
    USER_RESULT,
    rate_limit_headers,
    refusal,
)
from faultmaven.protection.models import ProtectionResult
from faultmaven.protection.routes import classify
from faultmaven.protection.service import ProtectionService

# Load-balancer and uptime probes: counting them would only throttle the monitoring.
EXEMPT_PATHS = frozenset({"/health"})


class ProtectionMiddleware:
    def __init__(self, app: ASGIApp, *, protection: Callable[[], ProtectionService | None]) -> None:
        self.app = app
        self._protection = protection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        service = None if is_priming() else self._protection()
        if service is None:
            await self.app(scope, receive, send)
            return
        address = client_address(Request(scope))
        result = service.admit_address(address, classify(scope["method"], scope["path"]))
        if not result.allowed:
            exc = refusal(result)
            response = error_response(
                exc.status_code, exc.error_code, exc.message, exc.details, exc.headers
            )
            await response(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state[ADDRESS_RESULT] = result
        status = 500

        async def send_with_limits(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                user: ProtectionResult | None = state.get(USER_RESULT)
                shown = result.tighter(user) if user is not None else result
                if shown.allowed:
                    # A refusal by the user check carries its own headers already.
                    headers = list(message.get("headers", []))
                    headers += [
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in rate_limit_headers(shown).items()
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_limits)
        finally:
            user_result: ProtectionResult | None = state.get(USER_RESULT)
            refused_here = user_result is not None and not user_result.allowed
            if not refused_here:
                try:
                    service.observe(address=address, user_id=state.get("user_id"), status=status)
                except Exception as exc:  # learning is best effort; the answer is out
                    logger.warning(
                        "protection observe failed", extra={"error_type": type(exc).__name__}
                    )
