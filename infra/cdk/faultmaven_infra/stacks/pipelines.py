"""The pipelines stack: the preprocessing state machine (the same ASL file the local
runtime executes), one function per task, and the upload trigger the evidence bucket
notifies."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from faultmaven.preprocessing.statemachine import TASK_HANDLERS, definition_path
from faultmaven_infra.config import REPO_ROOT
from faultmaven_infra.constructs.failures import failure_queue
from faultmaven_infra.constructs.function import ServiceFunction
from faultmaven_infra.constructs.layers import Layers
from faultmaven_infra.constructs.log_groups import log_group
from faultmaven_infra.constructs.vectors import VectorAccess
from faultmaven_infra.runtime import ARTIFACTS, WORK_FILES, Runtime

# Extraction and redaction read up to 10 MiB and hold its analysis: give them room.
_MEMORY = {"extract_logs": 2048, "extract_generic": 2048, "redact": 2048}


class PipelinesStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, runtime: Runtime, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = runtime.config
        layers = Layers(self, "Layers", assets_dir=config.assets_dir)
        self.steps: dict[str, ServiceFunction] = {}
        for placeholder, handler_name in TASK_HANDLERS.items():
            step = ServiceFunction(
                self,
                placeholder.removesuffix("FunctionArn") + "Step",
                source="preprocess",
                handler=f"handler.{handler_name}",
                description=f"preprocessing step {handler_name}",
                layers=layers.pipeline,
                network=runtime.network,
                environment=runtime.environment(),
                log_retention_days=config.log_retention_days,
                timeout=Duration.minutes(5),
                memory_size=_MEMORY.get(handler_name, 1024),
            )
            runtime.grant_stores(step.role)
            runtime.grant_objects(step.role, ARTIFACTS, "s3:GetObject")
            runtime.grant_objects(
                step.role, WORK_FILES, "s3:GetObject", "s3:PutObject", "s3:DeleteObject"
            )
            self.steps[placeholder] = step

        self.state_machine = sfn.StateMachine(
            self,
            "Preprocessing",
            definition_body=sfn.DefinitionBody.from_file(str(definition_path(REPO_ROOT))),
            definition_substitutions={
                placeholder: step.function.function_arn for placeholder, step in self.steps.items()
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.minutes(30),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group(self, "PreprocessingLogs", days=config.log_retention_days),
                level=sfn.LogLevel.ALL,
                # Inputs and outputs carry ids and keys only, but keep them out anyway.
                include_execution_data=False,
            ),
        )
        for step in self.steps.values():
            step.function.grant_invoke(self.state_machine)

        failures = failure_queue(self, "UploadTriggerFailures")
        self.upload_trigger = ServiceFunction(
            self,
            "UploadTrigger",
            source="upload_trigger",
            description="upload trigger (S3 ObjectCreated to preprocessing)",
            layers=layers.service,
            network=runtime.network,
            environment=runtime.environment(
                FAULTMAVEN_PREPROCESSING_STATE_MACHINE_ARN=self.state_machine.state_machine_arn
            ),
            log_retention_days=config.log_retention_days,
            timeout=Duration.seconds(30),
            on_failure=failures,
        )
        runtime.grant_stores(self.upload_trigger.role)
        runtime.grant_objects(self.upload_trigger.role, ARTIFACTS, "s3:GetObject")
        self.state_machine.grant_start_execution(self.upload_trigger.role)
        # Notifications are configured from this stack on the data stack's bucket, so the
        # bucket never depends on a function defined after it.
        bucket = s3.Bucket.from_bucket_name(
            self, "EvidenceBucket", runtime.config.evidence_bucket_name
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(self.upload_trigger.function),
            s3.NotificationKeyFilter(prefix="artifacts/"),
        )
        if runtime.vectors is not None:
            VectorAccess(
                self,
                "VectorAccess",
                collection_name=runtime.vectors.name,
                collection_arn=runtime.vectors.arn,
                roles=[self.steps["IndexFunctionArn"].role],
            )
