"""The schedules stack: EventBridge rules that run the retention jobs. The rule names end
in `-retention-hourly` / `-retention-daily`; the retention function picks its jobs from
the rule that fired (see `functions/retention`)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from faultmaven.core.storage import ARTIFACTS, WORK
from faultmaven_infra.constructs.failures import failure_queue
from faultmaven_infra.constructs.function import ServiceFunction
from faultmaven_infra.constructs.layers import Layers
from faultmaven_infra.runtime import Runtime

SCHEDULES = {
    "hourly": events.Schedule.rate(Duration.hours(1)),
    # 03:17 UTC: off the hour, when most teams are asleep.
    "daily": events.Schedule.cron(minute="17", hour="3"),
}


class SchedulesStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, runtime: Runtime, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = runtime.config
        layers = Layers(self, "Layers", assets_dir=config.assets_dir)
        failures = failure_queue(self, "RetentionFailures")
        self.retention = ServiceFunction(
            self,
            "Retention",
            source="retention",
            description="retention jobs",
            layers=layers.service,
            network=runtime.network,
            environment=runtime.environment(),
            log_retention_days=config.log_retention_days,
            timeout=Duration.minutes(15),
            on_failure=failures,
        )
        role = self.retention.role
        runtime.grant_stores(role)
        runtime.grant_objects(role, ARTIFACTS, "s3:DeleteObject")
        runtime.grant_objects(role, WORK, "s3:DeleteObject")
        runtime.grant_vectors(self, "VectorAccess", [role])  # closed cases' working memory
        self.rules: dict[str, events.Rule] = {}
        for cadence, schedule in SCHEDULES.items():
            self.rules[cadence] = events.Rule(
                self,
                f"Retention{cadence.capitalize()}",
                rule_name=f"{config.stack_prefix}-retention-{cadence}",
                description=f"FaultMaven {cadence} retention jobs",
                schedule=schedule,
                targets=[
                    targets.LambdaFunction(
                        self.retention.function,
                        retry_attempts=2,
                        max_event_age=Duration.hours(2),
                        dead_letter_queue=failures,
                    )
                ],
            )
