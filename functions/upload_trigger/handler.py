"""S3 ObjectCreated → start preprocessing (evidence) or ingest a knowledge document."""

from typing import Any

from faultmaven.core.storage import ARTIFACTS, KNOWLEDGE_UPLOADS
from faultmaven.lambda_entry import container_from_env, event_handler
from faultmaven.preprocessing.trigger import handle_s3_event


@event_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    container = container_from_env()
    return handle_s3_event(
        {
            ARTIFACTS: container.evidence.on_object_created,
            KNOWLEDGE_UPLOADS: lambda key, size: container.knowledge.on_object_created(key, size),
        },
        event,
    )
