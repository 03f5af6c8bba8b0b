"""EventBridge schedules (`<stack>-retention-hourly`, `-retention-daily`) → the retention
jobs of that cadence, cut at the scheduled instant."""

from typing import Any

from faultmaven.lambda_entry import container_from_env, event_handler
from faultmaven.retention.scheduled import handle_scheduled_event


@event_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_scheduled_event(
        container_from_env().retention, event, remaining_ms=context.get_remaining_time_in_millis
    )
