"""The pipelines stack: the preprocessing state machine (the same ASL file the local
runtime executes), one function per task, and the upload trigger the evidence bucket
notifies (evidence under `artifacts/` starts preprocessing; knowledge documents under
`knowledge/` are ingested by the trigger itself); and the autonomous investigation's
state machine with its task functions (constructs/investigation.py)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from faultmaven.core.storage import ARTIFACTS, KNOWLEDGE_UPLOADS, WORK
from faultmaven.preprocessing.statemachine import TASK_HANDLERS, definition_path
from faultmaven_infra.config import REPO_ROOT
from faultmaven_infra.constructs.failures import failure_queue
from faultmaven_infra.constructs.function import ServiceFunction
from faultmaven_infra.constructs.investigation import InvestigationWorkflow
from faultmaven_infra.constructs.layers import Layers
from faultmaven_infra.constructs.log_groups import log_group
from faultmaven_infra.runtime import Runtime

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
                step.role, WORK, "s3:GetObject", "s3:PutObject", "s3:DeleteObject"
            )
            self.steps[placeholder] = step
        # Summarize asks the language model for the evidence's summary.
        runtime.grant_llm(self.steps["SummarizeFunctionArn"].role)
        # Index embeds the evidence's chunks into the case's working memory.
        index = self.steps["IndexFunctionArn"].role
        runtime.grant_embedding(index)
        # Finalize publishes the evidence as processed: it is classified against the open
        # evidence requests and hypotheses (by the model when one is configured), and a
        # request it satisfies resumes the investigation parked on its task token.
        finalize = self.steps["FinalizeFunctionArn"].role
        runtime.grant_llm(finalize)
        runtime.grant_investigation_task_response(finalize)

        self.state_machine = sfn.StateMachine(
            self,
            "Preprocessing",
            definition_body=sfn.DefinitionBody.from_file(str(definition_path(REPO_ROOT))),
            definition_substitutions={
                placeholder: step.function.function_arn for placeholder, step in self.steps.items()
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            # The execution's 30-minute limit is the ASL's TimeoutSeconds: CDK drops a
            # `timeout=` for a definition from a file.
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
            description="upload trigger (evidence to preprocessing, knowledge documents ingested)",
            layers=layers.service,
            network=runtime.network,
            environment=runtime.environment(
                FAULTMAVEN_PREPROCESSING_STATE_MACHINE_ARN=self.state_machine.state_machine_arn
            ),
            log_retention_days=config.log_retention_days,
            # Ingesting a knowledge document (up to the upload limit) chunks and embeds it
            # here; an evidence upload only starts an execution and returns at once.
            timeout=Duration.minutes(5),
            memory_size=1024,
            on_failure=failures,
        )
        trigger = self.upload_trigger.role
        runtime.grant_stores(trigger)
        runtime.grant_objects(trigger, ARTIFACTS, "s3:GetObject")
        # Read the uploaded document, delete it once its text is in PostgreSQL.
        runtime.grant_objects(trigger, KNOWLEDGE_UPLOADS, "s3:GetObject", "s3:DeleteObject")
        runtime.grant_embedding(trigger)
        self.state_machine.grant_start_execution(trigger)
        # Notifications are configured from this stack on the data stack's bucket, so the
        # bucket never depends on a function defined after it.
        bucket = s3.Bucket.from_bucket_name(
            self, "EvidenceBucket", runtime.config.evidence_bucket_name
        )
        for prefix in (ARTIFACTS, KNOWLEDGE_UPLOADS):
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(self.upload_trigger.function),
                s3.NotificationKeyFilter(prefix=prefix),
            )
        runtime.grant_vectors(self, "VectorAccess", [index, trigger])

        self.investigation = InvestigationWorkflow(
            self, "Investigation", runtime=runtime, layers=layers.service
        )
