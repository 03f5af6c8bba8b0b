"""OpenAPI declarations shared by the routers, so the error envelope is in the contract."""

from __future__ import annotations

from typing import Any

from faultmaven.core.errors import ErrorEnvelope

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": description}
    for code, description in (
        (400, "Malformed request"),
        (401, "Missing, invalid, expired or revoked token"),
        (404, "Not found, or not visible to the caller"),
        (409, "Conflict with the current state"),
        (422, "Validation failed"),
        (429, "Rate limited, or the client is blocked: wait Retry-After seconds"),
    )
}
