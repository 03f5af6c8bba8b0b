"""Background tasks, invoked asynchronously by the API (a user's data export, the
erasing of a deleted account): `{"task": name, "payload": {...}}`. Lambda retries a
failed invocation twice; every task is idempotent."""

from typing import Any

from faultmaven.lambda_entry import container_from_env, event_handler


@event_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    container_from_env().run_task(str(event["task"]), dict(event["payload"]))
    return {"task": str(event["task"]), "status": "done"}
