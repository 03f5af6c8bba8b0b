"""The autonomous investigation: its state machine (the repository's ASL file, the one
moto runs locally) and one function per kind of state (functions/investigate).

The machine has a fixed name, so its ARN is known before it exists: its own `wait` task
(which resumes the run at once when nothing is left to wait for) and the functions of
other stacks get that ARN as a literal; a token would make the machine depend on a task
that depends on the machine."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from faultmaven.investigation.statemachine import TASK_HANDLERS, definition_path
from faultmaven_infra.config import REPO_ROOT
from faultmaven_infra.constructs.function import ServiceFunction
from faultmaven_infra.constructs.log_groups import log_group
from faultmaven_infra.runtime import Runtime


@dataclass(frozen=True)
class TaskSizing:
    timeout: Duration
    memory_mb: int
    # Runs agent iterations: the language model, query embedding, vector search.
    agent: bool = False


# A phase or a hypothesis' validation runs up to `investigation_iterations_per_phase`
# (3 by default) agent iterations, each bounded by the turn deadline (25 s): 5 minutes
# hold them with room for the state's own reads and writes. Memory as the agent
# function's (stacks/api.py, AGENT_MEMORY_MB): one whole vCPU for the turn's own
# CPU-bound work between model calls.
AGENT_TASK = TaskSizing(timeout=Duration.minutes(5), memory_mb=1769, agent=True)
# The others read and write PostgreSQL and Redis only (open or close a history stage,
# park or release a task token, record the verdict).
BOOKKEEPING_TASK = TaskSizing(timeout=Duration.minutes(1), memory_mb=1024)
SIZING = {"phase": AGENT_TASK, "validate": AGENT_TASK}


class InvestigationWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: Runtime,
        layers: list[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, construct_id)
        config = runtime.config
        self.tasks: dict[str, ServiceFunction] = {}
        agent_roles: list[iam.IRole] = []
        for placeholder, handler_name in TASK_HANDLERS.items():
            sizing = SIZING.get(handler_name, BOOKKEEPING_TASK)
            task = ServiceFunction(
                self,
                placeholder.removesuffix("FunctionArn"),
                source="investigate",
                handler=f"handler.{handler_name}",
                description=f"investigation task {handler_name}",
                layers=layers,
                network=runtime.network,
                environment=runtime.environment(),
                log_retention_days=config.log_retention_days,
                timeout=sizing.timeout,
                memory_size=sizing.memory_mb,
            )
            runtime.grant_stores(task.role)
            if sizing.agent:
                # The agent's grants (stacks/api.py): the model, the query's embedding
                # for retrieval, vectors read and never written.
                runtime.grant_llm(task.role)
                runtime.grant_embedding(task.role)
                agent_roles.append(task.role)
            self.tasks[placeholder] = task
        runtime.grant_vectors(self, "AgentVectorAccess", agent_roles, read_only=True)
        # Nothing left to wait for (answered meanwhile): `wait` resumes its own token.
        runtime.grant_investigation_task_response(self.tasks["WaitFunctionArn"].role)

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=runtime.investigation_state_machine_name,
            definition_body=sfn.DefinitionBody.from_file(str(definition_path(REPO_ROOT))),
            definition_substitutions={
                placeholder: task.function.function_arn for placeholder, task in self.tasks.items()
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            # No `timeout=` here: CDK drops it for a definition from a file. The machine's
            # TimeoutSeconds is in the ASL: the longest evidence wait the settings allow
            # (7 days) plus a day; a backstop, since it skips the machine's Failed state.
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group(self, "Logs", days=config.log_retention_days),
                level=sfn.LogLevel.ALL,
                # The state carries ids and counters, but keep inputs and outputs out.
                include_execution_data=False,
            ),
        )
        for task in self.tasks.values():
            task.function.grant_invoke(self.state_machine)
