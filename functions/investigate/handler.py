"""The autonomous investigation state machine's tasks: one Lambda per kind of state, all
from this module (`handler.begin`, `handler.phase`, ...). Each is one call into the layer;
the logic is `faultmaven.agent.autonomous.InvestigationRunner`."""

from typing import Any

from faultmaven.lambda_entry import container_from_env, event_handler


@event_handler
def begin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.begin(event)


@event_handler
def phase(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.phase(event)


@event_handler
def validate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.validate(event)


@event_handler
def verdict(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.verdict(event)


@event_handler
def wait(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.wait(event)


@event_handler
def resume(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.resume(event)


@event_handler
def timed_out(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.timed_out(event)


@event_handler
def finish(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.finish(event)


@event_handler
def failed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().investigation_runner.failed(event)
