"""The preprocessing state machine's tasks: one Lambda per state, all from this module
(`handler.classify`, `handler.extract_logs`, ...). Each is one call into the layer."""

from typing import Any

from faultmaven.lambda_entry import container_from_env, event_handler


@event_handler
def classify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.classify(event)


@event_handler
def extract_logs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.extract_logs(event)


@event_handler
def extract_generic(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.extract_generic(event)


@event_handler
def redact(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.redact(event)


@event_handler
def summarize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.summarize(event)


@event_handler
def index(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.index(event)


@event_handler
def finalize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.finalize(event)


@event_handler
def mark_failed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return container_from_env().preprocessing.mark_failed(event)
