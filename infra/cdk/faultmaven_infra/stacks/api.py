"""The API stack: one function per domain behind the HTTP API, SnapStart-published and
integrated through their `live` alias."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from faultmaven.core.storage import ARTIFACTS, EXPORTS, KNOWLEDGE_UPLOADS, WORK
from faultmaven_infra.config import OPENAPI_DOCUMENT
from faultmaven_infra.constructs.failures import failure_queue
from faultmaven_infra.constructs.function import ServiceFunction
from faultmaven_infra.constructs.http_api import HttpApi
from faultmaven_infra.constructs.layers import Layers
from faultmaven_infra.runtime import Runtime


@dataclass(frozen=True)
class ApiFunction:
    source: str
    construct_id: str
    description: str
    tags: tuple[str, ...]
    timeout_seconds: int = 25
    memory_mb: int = 1024
    # Calls the language model on a request: gets the model grant (Anthropic key's
    # secret or Bedrock on exactly the configured model).
    language_model: bool = False


# The agent's chat turn. Timeout 29 s: API Gateway's integration timeout, the most a
# synchronous turn can have; the turn's own deadline (FAULTMAVEN_AGENT_TURN_DEADLINE_SECONDS,
# 25 s by default) ends it first so it answers with what it has and stores the answer.
AGENT_TIMEOUT_SECONDS = 29
# Memory, from `benchmarks/cold_start.py --only agent` (README, Deploy to AWS): the peak
# RSS is 103 MiB serving health, 131 MiB through a whole turn and 168 MiB after a
# SnapStart init (the `anthropic` SDK and its client), so 512 MB would hold it. Memory
# buys CPU on Lambda, though, and a turn's own work is CPU-bound Python on one thread:
# 0.1 s warm and 0.5 s for the first turn after a restore here, on one core, beside the
# model's wait. 1769 MB is where a function gets a whole vCPU (1024 MB: 0.58 of one, so
# that work takes 1.7x as long); more adds a second vCPU a single-threaded turn cannot
# use. The price is small beside the model's: a 10 s turn costs 17.3 GB-s ≈ $0.00023 on
# arm64, against ≈ $0.03 for the 8,000-token prompt it sends to Claude Sonnet.
AGENT_MEMORY_MB = 1769


API_FUNCTIONS = (
    ApiFunction("api_auth", "Auth", "auth, organizations and teams API", ("auth", "organizations")),
    ApiFunction("api_sessions", "Sessions", "sessions API and health", ("sessions", "health")),
    ApiFunction("api_cases", "Cases", "cases and investigation API", ("cases", "investigation")),
    ApiFunction("api_evidence", "Evidence", "evidence and jobs API", ("evidence", "jobs")),
    ApiFunction("api_knowledge", "Knowledge", "knowledge bases API", ("knowledge",)),
    ApiFunction("api_history", "History", "investigation history API", ("history",)),
    ApiFunction(
        "api_alerts",
        "Alerts",
        "Alertmanager webhook, alerts and clusters API",
        ("alerts", "clusters"),
    ),
    ApiFunction(
        "api_agent",
        "Agent",
        "agent chat turns API",
        ("agent",),
        timeout_seconds=AGENT_TIMEOUT_SECONDS,
        memory_mb=AGENT_MEMORY_MB,
        language_model=True,
    ),
)
DEFAULT_FUNCTION = "api_sessions"  # the lightest: answers unknown routes with a 404 envelope


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: Runtime,
        preprocessing: sfn.IStateMachine,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = runtime.config
        layers = Layers(self, "Layers", assets_dir=config.assets_dir)
        # Work too long for a request (a data export, erasing a deleted account), invoked
        # asynchronously by api_auth; failed invocations end in a queue after 2 retries.
        self.tasks = ServiceFunction(
            self,
            "Tasks",
            source="tasks",
            description="background tasks: data exports, account erasure, long chat turns",
            layers=layers.service,
            network=runtime.network,
            environment=runtime.environment(),
            log_retention_days=config.log_retention_days,
            timeout=Duration.minutes(15),
            memory_size=2048,
            on_failure=failure_queue(self, "TaskFailures"),
        )
        tasks = self.tasks.role
        runtime.grant_stores(tasks)
        runtime.grant_embedding(tasks)  # handed-over documents are re-indexed
        runtime.grant_objects(tasks, ARTIFACTS, "s3:GetObject", "s3:DeleteObject")
        runtime.grant_objects(tasks, WORK, "s3:DeleteObject")
        runtime.grant_objects(tasks, EXPORTS, "s3:PutObject", "s3:DeleteObject")
        # A copilot turn whose attachments outlive the request is answered here.
        runtime.grant_llm(tasks)
        runtime.grant_investigation_task_response(tasks)
        self.functions: dict[str, ServiceFunction] = {}
        for spec in API_FUNCTIONS:
            function = ServiceFunction(
                self,
                spec.construct_id,
                source=spec.source,
                description=spec.description,
                layers=layers.service,
                network=runtime.network,
                environment=runtime.environment(
                    FAULTMAVEN_PREPROCESSING_STATE_MACHINE_ARN=preprocessing.state_machine_arn,
                    FAULTMAVEN_TASK_FUNCTION_NAME=self.tasks.function.function_name,
                ),
                log_retention_days=config.log_retention_days,
                timeout=Duration.seconds(spec.timeout_seconds),
                memory_size=spec.memory_mb,
                snap_start=config.snap_start,
            )
            runtime.grant_api(function.role)
            if spec.language_model:
                runtime.grant_llm(function.role)
            self.functions[spec.source] = function

        evidence = self.functions["api_evidence"].role
        # Presigned upload form and download, size checks, deletion with the evidence.
        runtime.grant_objects(
            evidence, ARTIFACTS, "s3:PutObject", "s3:GetObject", "s3:DeleteObject"
        )
        runtime.grant_objects(evidence, WORK, "s3:DeleteObject")
        preprocessing.grant_start_execution(evidence)  # pasted text skips the upload

        cases = self.functions["api_cases"].role
        # POST /cases/{id}/investigation/run starts a run; blocking an evidence request
        # fails the run parked on it, answering one resumes it.
        runtime.grant_start_investigation(cases)
        runtime.grant_investigation_task_response(cases)
        # A chat turn that answers an open evidence request resumes the parked run.
        runtime.grant_investigation_task_response(self.functions["api_agent"].role)
        # The copilot's turn writes its attachments to S3 (the upload trigger takes them
        # from there) and hands a turn that outlives the request to the tasks function.
        runtime.grant_objects(self.functions["api_agent"].role, ARTIFACTS, "s3:PutObject")
        self.tasks.function.grant_invoke(self.functions["api_agent"].role)

        alerts = self.functions["api_alerts"].role
        # A firing alert opens a case with the alert as its first evidence (written to
        # S3, where the upload trigger takes it) and starts the case's investigation.
        runtime.grant_objects(alerts, ARTIFACTS, "s3:PutObject")
        runtime.grant_start_investigation(alerts)

        auth = self.functions["api_auth"].role
        # Starts exports and account erasure; presigns the download of a finished export.
        self.tasks.function.grant_invoke(auth)
        runtime.grant_objects(auth, EXPORTS, "s3:GetObject")

        knowledge = self.functions["api_knowledge"].role
        # Documents and searches are embedded in the request; large documents go through a
        # presigned upload under knowledge/, which the upload trigger ingests.
        runtime.grant_embedding(knowledge)
        runtime.grant_objects(knowledge, KNOWLEDGE_UPLOADS, "s3:PutObject", "s3:GetObject")
        # Deleting a case or a piece of evidence deletes its vectors (case memory).
        runtime.grant_vectors(
            self,
            "VectorAccess",
            [knowledge, self.functions["api_cases"].role, evidence, tasks],
        )
        agent = self.functions["api_agent"].role
        # A turn retrieves from case memory, the user's and the global KB before the first
        # model call: it embeds the query and reads vectors, and writes none (evidence
        # extractions and case state are read from PostgreSQL; S3 only for attachments).
        runtime.grant_embedding(agent)
        runtime.grant_vectors(self, "AgentVectorAccess", [agent], read_only=True)

        self.http_api = HttpApi(
            self,
            "HttpApi",
            openapi_document=OPENAPI_DOCUMENT,
            functions_by_tag={
                tag: self.functions[spec.source].invocable
                for spec in API_FUNCTIONS
                for tag in spec.tags
            },
            default_function=self.functions[DEFAULT_FUNCTION].invocable,
            allowed_origins=config.allowed_origins,
            rate_limit=config.api_rate_limit,
            burst_limit=config.api_burst_limit,
            log_retention_days=config.log_retention_days,
        )
        CfnOutput(self, "ApiUrl", value=self.http_api.url, description="Base URL of the API")
