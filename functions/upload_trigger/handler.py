"""S3 ObjectCreated → start the preprocessing state machine for the uploaded artifact."""

from typing import Any

from faultmaven.lambda_entry import container_from_env, event_handler
from faultmaven.preprocessing.trigger import handle_s3_event


@event_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_s3_event(container_from_env().evidence, event)
