"""Adapting the ASGI app to Lambda: Mangum (lifespan off: the app has no lifespan work and
a lifespan cycle per invocation would cost time), Powertools context injection, tracing
and metrics (core/observability.py), and SnapStart: priming before the snapshot and a
hook that re-opens connections after a restore."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from mangum import Mangum

from faultmaven.container import Container
from faultmaven.core.context import priming
from faultmaven.core.logging import logger
from faultmaven.core.observability import instrument_api, instrument_event, tracing_suspended

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Set by Lambda during the init of a SnapStart version (the one that is snapshotted).
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"


def _register_after_restore(container: Container) -> None:
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # not on Lambda, or SnapStart not in use
        return
    register_after_restore(container.reconnect)


def asgi_handler(app: FastAPI, *, language_model: bool = False) -> LambdaHandler:
    """`language_model`: this function calls the model, so under a SnapStart init the
    provider's SDK is imported and its client built before the snapshot (importing
    `anthropic` costs ≈ 2 s; everywhere else it waits for the first call)."""
    asgi = Mangum(app, lifespan="off")
    container: Container = app.state.container
    _register_after_restore(container)
    if os.environ.get(INITIALIZATION_TYPE) == SNAP_START:
        prime(app, asgi)
        if language_model:
            warm_language_models(container)
    settings = container.settings
    instrumented = instrument_api(
        asgi, namespace=settings.metrics_namespace, service=settings.service_name
    )

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = instrumented(event, context)
        return response

    return handler


@cache
def container_from_env() -> Container:
    """The container of a non-HTTP function (trigger, pipeline steps): built on first
    use from the environment and kept for warm invocations."""
    from faultmaven.container import build_container
    from faultmaven.core.settings import get_settings

    container = build_container(get_settings())
    _register_after_restore(container)
    return container


EventHandler = Callable[[dict[str, Any], Any], Any]


def _namespace_and_service() -> tuple[str, str]:
    from faultmaven.core.settings import get_settings

    settings = get_settings()
    return settings.metrics_namespace, settings.service_name


def event_handler(function: EventHandler) -> EventHandler:
    """Powertools context on the logs of an event-driven function, its trace and its
    metrics; exceptions propagate so Lambda reports them (their class name is what Step
    Functions retries on)."""
    instrumented = instrument_event(function, namespace=_namespace_and_service)
    decorated: EventHandler = logger.inject_lambda_context(instrumented)
    return decorated


# --- SnapStart priming ---------------------------------------------------------------
#
# A SnapStart version is snapshotted after init, so whatever init did is free at every
# restore, and whatever it left lazy is paid by the first request after each restore:
# SQLAlchemy, psycopg, the services and stores behind the routes, FastAPI's first
# validation of each route, the signing key. Priming sends synthetic requests through the
# app during that init only: GET /health, then each GET route of the function's routers,
# authenticated as a user that cannot exist (ids are uuid4, whose version digit is 4,
# never 0) and with ids that cannot exist either, so every answer is an empty page or a
# 4xx and nothing is written. GET only: reads are what routes may do on any request.
# Connections opened meanwhile are dropped before the snapshot and again after restore.

_PRIMER_USER = "usr_" + "0" * 32
_PATH_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
# The id prefix of each path parameter, so ids are well-formed and reach the stores.
_ID_PREFIXES = {
    "case_id": "case",
    "document_id": "kbd",
    "evidence_id": "evd",
    "history_session_id": "hist",
    "request_id": "er",
    "hypothesis_id": "hyp",
    "job_id": "job",
    "org_id": "org",
    "session_id": "ses",
    "share_id": "shr",
    "solution_id": "sol",
    "team_id": "team",
    "user_id": "usr",
}


class _PrimingContext:
    """The Lambda context attributes that Mangum and the app read."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "faultmaven")
    function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    invoked_function_arn = "arn:aws:lambda:::function:snapstart-priming"
    memory_limit_in_mb = 1024
    aws_request_id = "snapstart-priming"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def priming_paths(app: FastAPI) -> list[str]:
    """/health and every GET path of the app with its parameters filled in. Read from the
    OpenAPI document: FastAPI's route objects are not a stable public structure (0.16x
    includes routers lazily), the document is."""
    paths = ["/health"]
    for template, operations in app.openapi().get("paths", {}).items():
        if "get" not in operations:
            continue
        path = _PATH_PARAMETER.sub(
            lambda match: _ID_PREFIXES.get(match.group(1), "none") + "_" + "0" * 32, template
        )
        if path not in paths:
            paths.append(path)
    return paths


def _priming_event(path: str, token: str | None) -> dict[str, Any]:
    headers = {"host": "snapstart.priming", "accept": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "snapstart",
            "domainName": "snapstart.priming",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "faultmaven-snapstart-priming",
            },
            "requestId": "snapstart-priming",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }


def _primer_token(container: Container) -> str | None:
    """An access token for the user that cannot exist; it never leaves the process. Also
    loads the signing key (Secrets Manager on AWS) before the snapshot."""
    from faultmaven.auth.tokens import TokenType

    try:
        return container.tokens.issue(_PRIMER_USER, TokenType.ACCESS)
    except Exception as exc:  # priming is an optimisation: never fail the init over it
        logger.warning("SnapStart priming without a token", extra={"error": type(exc).__name__})
        return None


def warm_language_models(container: Container) -> bool:
    """Import the model SDKs and build their clients (SnapStart init), and build the
    redaction rules every model request and history record goes through (≈ 0.2 s on
    first use, paid otherwise by the first turn after each restore). An optimisation:
    a failure (no key yet) is logged and the first call builds them instead."""
    from faultmaven.llm.redaction import redact_text

    redact_text("SnapStart warm-up")
    try:
        container.language_models.warm()
    except Exception as exc:
        logger.warning("language models not warmed", extra={"error": type(exc).__name__})
        return False
    return True


def prime(app: FastAPI, asgi: Callable[[dict[str, Any], Any], dict[str, Any]]) -> dict[str, int]:
    """Serve the priming requests through the ASGI adapter (not the instrumented handler,
    so no metric, trace or cold start is spent on them) and return each path's status."""
    container: Container = app.state.container
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    from faultmaven.auth.dependencies import current_principal
    from faultmaven.auth.principal import Principal, Role

    # The user that cannot exist is let through as authenticated without a token check
    # (which refuses unknown users, as it must): the override lives only in this init,
    # before the function serves anything, and the token is still issued below so the
    # signing key is loaded before the snapshot.
    primer = Principal(
        user_id=_PRIMER_USER,
        roles=frozenset({Role.USER}),
        token_id="priming",  # noqa: S106 - an id, not a secret
        token_expires_at=0,
    )
    app.dependency_overrides[current_principal] = lambda: primer
    try:
        with tracing_suspended(), priming():
            token = _primer_token(container)
            for path in priming_paths(app):
                try:
                    response = asgi(_priming_event(path, token), _PrimingContext())
                except Exception as exc:
                    logger.warning(
                        "SnapStart priming request failed",
                        extra={"path": path, "error": type(exc).__name__},
                    )
                    continue
                statuses[path] = int(response["statusCode"])
    finally:
        app.dependency_overrides.pop(current_principal, None)
    container.reconnect()
    logger.info(
        "primed for SnapStart",
        extra={
            "requests": len(statuses),
            "server_errors": sum(1 for status in statuses.values() if status >= 500),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return statuses
