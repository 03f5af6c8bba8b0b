"""One error envelope for every 4xx and 5xx answer.

Domain code raises `AppError` subclasses; the handlers registered by `install_error_handlers`
turn them, FastAPI's validation errors and Starlette's routing errors into the same JSON
shape, so a client has one thing to parse whatever went wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from faultmaven.core.context import current_request_id
from faultmaven.core.logging import logger


class ErrorEnvelope(BaseModel):
    """The body of every error answer."""

    error_code: str
    message: str
    details: Any = None
    trace_id: str | None = None
    timestamp: datetime


class AppError(Exception):
    """Base of every error the API reports on purpose."""

    status_code: int = 500
    error_code: str = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        self.details = details
        self.headers = dict(headers or {})


class UnauthorizedError(AppError):
    status_code = 401
    error_code = "UNAUTHORIZED"

    def __init__(self, message: str = "Authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class ForbiddenError(AppError):
    status_code = 403
    error_code = "FORBIDDEN"


class NotFoundError(AppError):
    status_code = 404
    error_code = "NOT_FOUND"


class ConflictError(AppError):
    status_code = 409
    error_code = "CONFLICT"


class PayloadTooLargeError(AppError):
    status_code = 413
    error_code = "PAYLOAD_TOO_LARGE"


class ValidationFailedError(AppError):
    status_code = 422
    error_code = "VALIDATION_FAILED"


class RateLimitedError(AppError):
    status_code = 429
    error_code = "RATE_LIMITED"


class ServiceUnavailableError(AppError):
    """Something this request needs cannot answer now; always says when to retry."""

    status_code = 503
    error_code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(OUTAGE_RETRY_AFTER_SECONDS))


class LLMBudgetExhaustedError(AppError):
    """A language-model call would pass a case's or an investigation's budget. 402: no
    retry helps until someone raises the budget; `details` names it and its figures."""

    status_code = 402
    error_code = "LLM_BUDGET_EXHAUSTED"


class LLMUnavailableError(ServiceUnavailableError):
    """Every configured language-model provider failed after its retries, at least one
    of them in a way a later retry may fix (throttling, overload, 5xx, timeouts)."""

    error_code = "LLM_UNAVAILABLE"


class LLMRequestRejectedError(AppError):
    """Every provider refused the call itself (a bad or missing key, a request it will
    not take): retrying cannot help, so no Retry-After, and an operator must look."""

    status_code = 502
    error_code = "LLM_REQUEST_REJECTED"


_CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    402: "PAYMENT_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
    502: "BAD_GATEWAY",
}


def error_response(
    status_code: int,
    error_code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    envelope = ErrorEnvelope(
        error_code=error_code,
        message=message,
        details=details,
        trace_id=current_request_id(),
        timestamp=datetime.now(UTC),
    )
    return JSONResponse(
        status_code=status_code,
        content=envelope.model_dump(mode="json"),
        headers=dict(headers or {}),
    )


def _validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Field, message and type of each problem. The offending input is never echoed:
    it may be a password."""
    return [
        {
            "field": ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            or "body",
            "message": error.get("msg", "invalid value"),
            "type": error.get("type", "value_error"),
        }
        for error in errors
    ]


async def _handle_app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.error_code, exc.message, exc.details, exc.headers)


async def _handle_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "MALFORMED_JSON", "The request body is not valid JSON")
    return error_response(
        422, "VALIDATION_FAILED", "The request is not valid", _validation_details(errors)
    )


@lru_cache(maxsize=1024)
def _path_pattern(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _allowed_methods(request: Request, route_allows: str) -> str:
    """Every method the request's path answers to. Starlette's own 405 names only the
    methods of the one route it tried, while a path is usually served by several (GET and
    POST /cases are two routes). The paths come from the API's own document, which is
    built once and lists every operation."""
    methods = {m.strip() for m in route_allows.split(",") if m.strip()}
    path = request.scope.get("path", "")
    matching = [
        (template, operations)
        for template, operations in request.app.openapi().get("paths", {}).items()
        if _path_pattern(template).match(path)
    ]
    # A path of its own (`/cases/search`) is not also an id of the templated one
    # (`/cases/{case_id}`): its methods are the literal path's alone.
    literal = [(t, ops) for t, ops in matching if "{" not in t]
    for _, operations in literal or matching:
        methods.update(method.upper() for method in operations)
    return ", ".join(sorted(methods))


async def _handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES_BY_STATUS.get(
        exc.status_code, "ERROR" if exc.status_code < 500 else "INTERNAL_ERROR"
    )
    try:
        default_message = HTTPStatus(exc.status_code).phrase
    except ValueError:
        default_message = "Error"
    message = exc.detail if isinstance(exc.detail, str) else default_message
    if exc.status_code == 400:
        # The framework raises 400 only when it cannot parse the body (JSON too deep is
        # refused before it, by the request middleware): the same mistake as invalid JSON.
        code, message = "MALFORMED_JSON", "The request body could not be parsed"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
    return error_response(exc.status_code, code, message, headers=headers)


# A store that cannot answer right now: the database or Redis unreachable, frozen past its
# timeout, restarting, or the connection pool exhausted. Found by class name, like the
# SQLAlchemy errors below, so this module imports no vendor SDK.
_UNAVAILABLE = {
    "sqlalchemy.exc": {"OperationalError", "InterfaceError", "DisconnectionError"},
    "psycopg": {"OperationalError", "InterfaceError"},
    "redis.exceptions": {
        "ConnectionError",
        "TimeoutError",
        "BusyLoadingError",
        "ClusterDownError",
        "TryAgainError",
        "MasterDownError",
        "ReadOnlyError",
    },
}
# SQLAlchemy's pool raises `sqlalchemy.exc.TimeoutError` when every connection is checked
# out past `pool_timeout`: the database is fine but this process is saturated.
_SATURATED = {"sqlalchemy.exc": {"TimeoutError"}}
# PostgreSQL gave up on a transaction because another one touched the same rows (SQLSTATE
# class 40: a deadlock, a serialization failure). psycopg raises them as subclasses of
# OperationalError, but the database is up: the request lost a race and may be retried.
_ROLLED_BACK_SQLSTATE_CLASS = "40"
CONFLICT_RETRY_AFTER_SECONDS = 1
OUTAGE_RETRY_AFTER_SECONDS = 5
SATURATION_RETRY_AFTER_SECONDS = 2


def _matches(exc: BaseException, names: Mapping[str, set[str]]) -> bool:
    return any(
        cls.__name__ in names.get(cls.__module__.split(".")[0], set())
        or cls.__name__ in names.get(cls.__module__, set())
        for cls in type(exc).__mro__
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from (bounded: chains can be cyclic)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def dependency_unavailable(exc: BaseException) -> ServiceUnavailableError | None:
    """The 503 to answer when `exc` means a store is down or saturated, else None.

    Every route that touches PostgreSQL or Redis fails this way when the store does, so it
    is decided once here instead of in each service: the client sees 503 with
    Retry-After (a retry will do), never a 500 (a bug)."""
    for link in _causes(exc):
        if _matches(link, _SATURATED):
            return ServiceUnavailableError(
                "The service is busy; retry shortly",
                details={"dependency": "database", "reason": "saturated"},
                headers={"Retry-After": str(SATURATION_RETRY_AFTER_SECONDS)},
            )
        if _matches(link, _UNAVAILABLE):
            dependency = "cache" if type(link).__module__.startswith("redis") else "database"
            return ServiceUnavailableError(
                "A backing service is unavailable; retry shortly",
                details={"dependency": dependency, "reason": "unavailable"},
                headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
            )
    return None


def concurrent_update(exc: BaseException) -> ConflictError | None:
    """The 409 to answer when PostgreSQL rolled the transaction back to resolve a race with
    another one (checked before `dependency_unavailable`, which would call it an outage)."""
    if any(
        str(getattr(link, "sqlstate", "") or "").startswith(_ROLLED_BACK_SQLSTATE_CLASS)
        for link in _causes(exc)
    ):
        return ConflictError(
            "Another request changed the same data at the same time; retry",
            error_code="CONCURRENT_UPDATE",
            details={"dependency": "database", "reason": "concurrent update"},
            headers={"Retry-After": str(CONFLICT_RETRY_AFTER_SECONDS)},
        )
    return None


def _database_error_kind(exc: Exception) -> str | None:
    """The SQLAlchemy error class an exception is, found by name so this module does not
    import SQLAlchemy (functions that never use the database should not load it)."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "sqlalchemy.exc" and cls.__name__ in {"DataError", "IntegrityError"}:
            return cls.__name__
    return None


def unexpected_error_response(exc: Exception) -> JSONResponse:
    """The answer to an exception nothing else handled. Called by the request middleware,
    inside the request's context, so even a 500 carries its trace id."""
    unavailable: AppError | None = concurrent_update(exc) or dependency_unavailable(exc)
    if unavailable is not None:
        logger.warning(
            "data store refused the request",
            extra={"error_type": type(exc).__name__, **unavailable.details},
        )
        return error_response(
            unavailable.status_code,
            unavailable.error_code,
            unavailable.message,
            unavailable.details,
            unavailable.headers,
        )
    kind = _database_error_kind(exc)
    if kind == "DataError":
        # Input the validators let through but PostgreSQL cannot store or compare: still
        # the client's input, so a 422 rather than a 500.
        logger.warning("database rejected a value", extra={"error_type": type(exc).__name__})
        return error_response(422, "VALIDATION_FAILED", "A value in the request cannot be stored")
    if kind == "IntegrityError":
        # A uniqueness or reference check lost a race with a concurrent request.
        logger.warning("database constraint rejected a write")
        return error_response(409, "CONFLICT", "The request conflicts with a concurrent change")
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_error)
