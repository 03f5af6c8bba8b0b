"""OpenAPI declarations shared by the routers, so the error envelope is in the contract."""

from __future__ import annotations

from typing import Any

from faultmaven.core.errors import ErrorEnvelope
from faultmaven.core.models import drop_null_alternative

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

_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}
# Why an operation can answer each status, whatever its router declares.
_WITH_BODY = {
    400: "Malformed JSON, or JSON nested too deep",
    413: "Request body over the size limit",
    422: "Validation failed",
}
_WITH_AUTH = {
    401: "Missing, invalid, expired or revoked token",
    403: "Authenticated, but not allowed to do this",
}
_EVERY_OPERATION = {
    422: "Validation failed",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "A store the API depends on is unavailable: retry after `Retry-After` seconds",
}
_HEADERS = {429: _RETRY_AFTER, 503: _RETRY_AFTER}
# The native API and the surface FaultMaven's own clients speak (faultmaven.compat).
_API_PREFIX = ("/api/v1/", "/compat/faultmaven/api/")


def complete_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Declare the answers the shared machinery gives, derived from each operation's shape
    rather than listed by hand in every router: a body can be malformed, too large or
    invalid (the request middleware and validation); a bearer token can be refused or
    lack the rights (the auth dependency and the services); and every API operation can be
    rate limited or meet a store that is down. Error statuses all carry the envelope.

    Query parameters lose their `null` alternative: a query string cannot carry a JSON
    null, leaving the parameter out is how a client says "none".

    Idempotent: it only adds what is missing, so it may run over a cached document."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(_API_PREFIX):
            continue
        for operation in operations.values():
            statuses = dict(_EVERY_OPERATION)
            if "requestBody" in operation:
                statuses.update(_WITH_BODY)
            if operation.get("security"):
                statuses.update(_WITH_AUTH)
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                responses.setdefault(str(status), {"description": description})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = _ENVELOPE
                    if int(status) in _HEADERS:
                        response.setdefault("headers", _HEADERS[int(status)])
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") == "query":
                    drop_null_alternative(parameter.get("schema", {}))
    return document
