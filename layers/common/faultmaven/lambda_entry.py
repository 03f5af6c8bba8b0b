"""Adapting the ASGI app to Lambda: Mangum (lifespan off: the app has no lifespan work and
a lifespan cycle per invocation would cost time), Powertools context injection, and a
SnapStart hook that re-opens connections after a snapshot restore."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from mangum import Mangum

from faultmaven.container import Container
from faultmaven.core.logging import logger

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _register_after_restore(container: Container) -> None:
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # not on Lambda, or SnapStart not in use
        return
    register_after_restore(container.reconnect)


def asgi_handler(app: FastAPI) -> LambdaHandler:
    asgi = Mangum(app, lifespan="off")
    _register_after_restore(app.state.container)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = asgi(event, context)
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


def event_handler(function: EventHandler) -> EventHandler:
    """Powertools context on the logs of an event-driven function; exceptions propagate
    so Lambda reports them (their class name is what Step Functions retries on)."""
    decorated: EventHandler = logger.inject_lambda_context(function)
    return decorated
