"""`create_app`: the one application factory. Lambda builds it with its domain's router,
the local runtime with all of them; middleware, errors and health are the same in both."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from faultmaven import __version__
from faultmaven.compat import PREFIX
from faultmaven.compat.errors import CompatErrorMiddleware
from faultmaven.container import Container, build_container
from faultmaven.core.errors import install_error_handlers
from faultmaven.core.logging import configure_logging, logger
from faultmaven.core.middleware import RequestContextMiddleware
from faultmaven.core.openapi import complete_responses
from faultmaven.core.settings import Settings, get_settings
from faultmaven.protection.middleware import ProtectionMiddleware

MAX_BODY_BYTES = 1024 * 1024  # large artifacts go to S3 through presigned uploads
# The copilot's chat turn carries its files in the request, and so does the dashboard's
# runbook upload: Lambda takes 6 MB and API Gateway base64-encodes a multipart body, so
# 4.4 MB of body (the files themselves are held to 4 MiB by the routes).
TURN_MAX_BODY_BYTES = 4_400_000
KB_MAX_BODY_BYTES = TURN_MAX_BODY_BYTES  # documents are at most 4 MiB
LARGER_BODIES = (
    (re.compile(PREFIX + r"/api/v1/cases/[^/]+/turns"), TURN_MAX_BODY_BYTES),
    (re.compile(PREFIX + r"/api/v1/(documents/upload|knowledge/documents)"), KB_MAX_BODY_BYTES),
)
# No request needs deeper JSON (metadata objects are the deepest, and small); parsers and
# validators recurse, and a few hundred levels would raise RecursionError inside them.
MAX_JSON_DEPTH = 32


# FaultMaven's extension and dashboard send the session, idempotency and user headers on
# cross-origin calls and read the error-code and title-source headers back.
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Request-Id",
    "X-Session-Id",
    "Idempotency-Key",
    "X-User-Id",
    "X-User-Roles",
]
CORS_EXPOSE_HEADERS = [
    "X-Request-Id",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Error-Code",
    "X-Title-Source",
    "X-Idempotency-Replayed",
]


class Health(BaseModel):
    status: str
    version: str
    checks: dict[str, str]


def all_routers() -> list[APIRouter]:
    from faultmaven.agent.api import router as agent
    from faultmaven.alerts.api import router as alerts
    from faultmaven.auth.api import router as auth
    from faultmaven.cases.api import router as cases
    from faultmaven.clusters.api import router as clusters
    from faultmaven.compat.auth_api import router as compat_auth
    from faultmaven.compat.cases_api import router as compat_cases
    from faultmaven.compat.knowledge_api import router as compat_knowledge
    from faultmaven.compat.sessions_api import router as compat_sessions
    from faultmaven.compat.teams_api import router as compat_teams
    from faultmaven.compat.turns_api import router as compat_turns
    from faultmaven.evidence.api import router as evidence
    from faultmaven.history.api import router as history
    from faultmaven.investigation.api import router as investigation
    from faultmaven.jobs.api import router as jobs
    from faultmaven.knowledge.api import router as knowledge
    from faultmaven.organizations.api import router as organizations
    from faultmaven.privacy.api import router as privacy
    from faultmaven.sessions.api import router as sessions

    return [
        auth,
        privacy,
        sessions,
        cases,
        evidence,
        jobs,
        organizations,
        knowledge,
        history,
        investigation,
        agent,
        alerts,
        clusters,
        compat_auth,
        compat_sessions,
        compat_cases,
        compat_turns,
        compat_knowledge,
        compat_teams,
    ]


def openapi_document() -> dict[str, Any]:
    """The whole API's OpenAPI document, built without touching any store (engines and
    clients connect lazily), so it can be exported where no database runs."""
    from faultmaven.core.settings import load_settings

    offline = load_settings(
        environment="test",
        database_url="postgresql://openapi@localhost/unused",
        redis_url="redis://localhost:6379/0",
        jwt_secret="unused-" + "x" * 32,
    )
    app = create_app(settings=offline)
    try:
        return app.openapi()
    finally:
        app.state.container.close()


def create_app(
    routers: Sequence[APIRouter] | None = None,
    *,
    settings: Settings | None = None,
    container: Container | None = None,
) -> FastAPI:
    settings = settings or (container.settings if container else get_settings())
    configure_logging(settings.log_level)
    container = container or build_container(settings)
    app = FastAPI(
        title="FaultMaven API",
        version=__version__,
        description="AI troubleshooting copilot for SRE and on-call teams.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.container = container
    install_error_handlers(app)
    # Inside CORS and the request context, so a 429 carries both their headers.
    app.add_middleware(ProtectionMiddleware, protection=lambda: container.protection)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=MAX_BODY_BYTES,
        max_json_depth=MAX_JSON_DEPTH,
        larger_bodies=LARGER_BODIES,
    )
    # Outermost, so it also rewrites the errors the request context answers (413s, 500s).
    app.add_middleware(CompatErrorMiddleware)

    @app.get(PREFIX + "/health", tags=["health"], summary="Health (FaultMaven's clients)")
    @app.get(
        "/health",
        tags=["health"],
        response_model=Health,
        responses={503: {"model": Health, "description": "A store does not answer"}},
    )
    def health(request: Request) -> JSONResponse:
        """Liveness and readiness: the stores answer, or 503 says which one does not."""
        checks: dict[str, Any] = {}
        c: Container = request.app.state.container
        for name, probe in (("database", c.database.ping), ("redis", c.kv.ping)):
            try:
                checks[name] = "ok" if probe() else "failing"
            except Exception as exc:  # a probe must report, never raise
                logger.warning(
                    "health check failed", extra={"check": name, "error": type(exc).__name__}
                )
                checks[name] = "failing"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            status_code=200 if healthy else 503,
            content={
                "status": "ok" if healthy else "degraded",
                "version": __version__,
                "checks": checks,
            },
        )

    for router in routers if routers is not None else all_routers():
        app.include_router(router)

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return complete_responses(generate_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    return app
