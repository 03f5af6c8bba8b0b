"""The per-user half of protection, run once the caller is authenticated (from
`auth.dependencies.current_principal`): the middleware before it could only count the
request against its address, since it does not know who is asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from faultmaven.core.context import is_priming
from faultmaven.core.errors import RateLimitedError
from faultmaven.protection.models import ProtectionResult
from faultmaven.protection.routes import classify

if TYPE_CHECKING:
    from faultmaven.protection.service import ProtectionService

USER_RESULT = "protection_user"
ADDRESS_RESULT = "protection_address"


def admit_user(request: Request, user_id: str) -> None:
    """Count the request against the user's budgets, or refuse it with 429."""
    service: ProtectionService | None = request.app.state.container.protection
    if service is None or is_priming():
        return
    result = service.admit_user(user_id, classify(request.method, request.url.path))
    setattr(request.state, USER_RESULT, result)
    if not result.allowed:
        raise refusal(result)


def refusal(result: ProtectionResult) -> RateLimitedError:
    """The 429 for a refused request: `RATE_LIMITED` for a limit, `CLIENT_BLOCKED` when
    the subject is blocked, both with `Retry-After`."""
    retry = result.retry_after_seconds or 1
    blocked = result.blocked
    message = (
        "Too many refused or invalid requests; this client is blocked for a while"
        if blocked
        else "Too many requests; slow down"
    )
    return RateLimitedError(
        message,
        error_code="CLIENT_BLOCKED" if blocked else "RATE_LIMITED",
        details={
            "retry_after_seconds": retry,
            "scope": result.scope.value if result.scope else None,
            "route_class": result.route_class.value,
            "reputation": result.level.value,
        },
        headers=rate_limit_headers(result),
    )


def rate_limit_headers(result: ProtectionResult) -> dict[str, str]:
    """`Retry-After` on a refusal; `RateLimit-Limit/-Remaining/-Reset` (the IETF draft's
    names) for the tightest window."""
    headers: dict[str, str] = {}
    if result.retry_after_seconds is not None:
        headers["Retry-After"] = str(result.retry_after_seconds)
    if result.limit:
        headers["RateLimit-Limit"] = str(result.limit)
    if result.remaining is not None:
        headers["RateLimit-Remaining"] = str(result.remaining)
    if result.reset_seconds is not None:
        headers["RateLimit-Reset"] = str(result.reset_seconds)
    return headers
