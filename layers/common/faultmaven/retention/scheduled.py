"""The EventBridge scheduled event, as the retention Lambda receives it.

The cadence is read from the rule that fired (the CDK stack names its rules
`<stackName>-retention-hourly` and `-retention-daily`), never guessed: an event from any
other rule is refused, so a misrouted rule cannot silently run the wrong jobs. The
event's `time` is the scheduled instant; cutting there rather than at the clock means a
late or retried delivery removes exactly what the schedule meant to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from faultmaven.core.clock import utcnow
from faultmaven.retention.models import RetentionReport, Schedule
from faultmaven.retention.service import RetentionService

RULE_SUFFIXES = {"-retention-hourly": Schedule.HOURLY, "-retention-daily": Schedule.DAILY}
# Leave this much of the Lambda's time for the last batch and the report.
SAFETY_MARGIN_MS = 60_000


def schedule_of(event: Mapping[str, Any]) -> Schedule:
    """The cadence named by the rule in `resources`; ValueError for anything else."""
    resources = event.get("resources")
    if not isinstance(resources, list) or not resources:
        raise ValueError("not a scheduled event: no rule in 'resources'")
    found: set[Schedule] = set()
    for arn in resources:
        if not isinstance(arn, str) or ":rule/" not in arn:
            raise ValueError(f"not an EventBridge rule ARN: {str(arn)[:200]!r}")
        rule = arn.rsplit("/", 1)[-1]  # rule/<name> or rule/<bus>/<name>
        match = [s for suffix, s in RULE_SUFFIXES.items() if rule.endswith(suffix)]
        if not match:
            raise ValueError(f"unknown retention rule {rule[:200]!r}")
        found.update(match)
    if len(found) != 1:
        raise ValueError("the event names both the hourly and the daily rule")
    return found.pop()


def scheduled_time(event: Mapping[str, Any], clock: Callable[[], datetime] = utcnow) -> datetime:
    """The event's `time` (timezone-aware UTC); the clock when the event has none."""
    raw = event.get("time")
    if raw is None:
        return clock()
    if not isinstance(raw, str):
        raise ValueError("the event's 'time' is not a string")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"the event's 'time' is not ISO 8601: {raw[:64]!r}") from None
    if moment.tzinfo is None:
        raise ValueError("the event's 'time' has no timezone")
    return moment.astimezone(UTC)


def handle_scheduled_event(
    service: RetentionService,
    event: Mapping[str, Any],
    *,
    remaining_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Run the cadence the event names, cut at its time; stop between batches when the
    Lambda's remaining time (if given) falls under the safety margin."""
    schedule = schedule_of(event)
    now = scheduled_time(event)

    def out_of_time() -> bool:
        return remaining_ms is not None and remaining_ms() < SAFETY_MARGIN_MS

    report: RetentionReport = service.run(schedule, now=now, stop_when=out_of_time)
    result: dict[str, Any] = report.model_dump(mode="json")
    result["complete"] = report.complete
    return result
