"""The autonomous investigation on AWS: the repository's ASL file with every placeholder
bound to its task function, the machine invoking exactly those, the agent's grants on
the phase and validation tasks only, and who may start, resume or fail a run. Uses the
session's synth (cdk-nag included: a finding nobody acknowledged fails it)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment
from faultmaven_infra.constructs.function import ServiceFunction

from faultmaven.core.settings import Settings
from faultmaven.investigation.statemachine import TASK_HANDLERS, definition_path
from faultmaven.preprocessing.statemachine import placeholders
from tests.conftest import ROOT
from tests.infra.helpers import as_list, logical_id, resources, roles_granted, statements

AGENT_TASKS = {"PhaseFunctionArn", "ValidateFunctionArn"}
ARN_VARIABLE = "FAULTMAVEN_INVESTIGATION_STATE_MACHINE_ARN"
TITAN_V2 = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
TASK_RESPONSES = ("states:SendTaskSuccess", "states:SendTaskFailure")


def _machine(deployment: Deployment, templates: dict[str, Template]) -> dict[str, Any]:
    machine = deployment.pipelines.investigation.state_machine
    found = resources(templates["pipelines"], "AWS::StepFunctions::StateMachine")
    properties: dict[str, Any] = found[logical_id(machine)]["Properties"]
    return properties


def _machine_arn(name: str) -> dict[str, Any]:
    """The ARN `Ref` of a state machine named `name` resolves to, as CloudFormation joins it."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":states:us-east-1:123456789012:stateMachine:{name}",
            ],
        ]
    }


def _all_functions(deployment: Deployment) -> list[ServiceFunction]:
    return [
        construct
        for stack in deployment.stacks
        for construct in stack.node.find_all()
        if isinstance(construct, ServiceFunction)
    ]


def _function_properties(
    templates: dict[str, Template], function: ServiceFunction
) -> dict[str, Any]:
    stack = function.function.stack.stack_name.split("-", 1)[1].lower()
    found = resources(templates[stack], "AWS::Lambda::Function")[logical_id(function.function)]
    properties: dict[str, Any] = found["Properties"]
    return properties


def _actions(template: Template, function: ServiceFunction) -> set[str]:
    return {
        action
        for statement in statements(template, logical_id(function.role))
        for action in as_list(statement["Action"])
    }


def test_the_machine_is_the_repository_file_with_every_placeholder_bound(
    deployment: Deployment, templates: dict[str, Template], synth_dir: Path
) -> None:
    properties = _machine(deployment, templates)
    source = definition_path(ROOT).read_text()
    assert placeholders(source) == set(TASK_HANDLERS)
    # The file itself is the asset (what moto runs locally), placeholders bound apart.
    shipped = synth_dir / f"asset.{properties['DefinitionS3Location']['Key']}"
    assert shipped.read_text() == source
    tasks = deployment.pipelines.investigation.tasks
    assert set(tasks) == set(TASK_HANDLERS)
    assert properties["DefinitionSubstitutions"] == {
        placeholder: {"Fn::GetAtt": [logical_id(task.function), "Arn"]}
        for placeholder, task in tasks.items()
    }
    handler_source = (ROOT / "functions" / "investigate" / "handler.py").read_text()
    for placeholder, task in tasks.items():
        function = _function_properties(templates, task)
        assert function["Handler"] == f"handler.{TASK_HANDLERS[placeholder]}"
        asset = synth_dir / f"asset.{function['Code']['S3Key'].removesuffix('.zip')}"
        assert (asset / "handler.py").read_text() == handler_source
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}


def test_the_machine_logs_every_event_but_no_execution_data(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    logging = _machine(deployment, templates)["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    [destination] = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    retention = resources(templates["pipelines"], "AWS::Logs::LogGroup")[group]
    assert retention["Properties"]["RetentionInDays"] == 30


def test_every_state_machine_file_bounds_its_execution(
    deployment: Deployment, templates: dict[str, Template], synth_dir: Path
) -> None:
    """CDK drops a `timeout=` for a definition from a file, so the limit has to be the
    ASL's own TimeoutSeconds: in what is shipped, for every machine. The investigation's
    outlasts the longest evidence wait the settings allow."""
    shipped = {}
    for template in templates.values():
        for machine in resources(template, "AWS::StepFunctions::StateMachine").values():
            properties = machine["Properties"]
            assert "DefinitionS3Location" in properties
            key = properties["DefinitionS3Location"]["Key"]
            shipped[key] = json.loads((synth_dir / f"asset.{key}").read_text())
    assert len(shipped) == 2
    for definition in shipped.values():
        assert isinstance(definition.get("TimeoutSeconds"), int), definition["Comment"]
    investigation = json.loads(definition_path(ROOT).read_text())
    longest_wait = _limit("investigation_evidence_wait_seconds")
    assert investigation["TimeoutSeconds"] >= longest_wait + 3600
    assert investigation["TimeoutSeconds"] <= 365 * 86_400  # Standard workflows' maximum
    await_evidence = investigation["States"]["AwaitEvidence"]
    assert await_evidence["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert await_evidence["TimeoutSecondsPath"] == "$.run.wait_seconds"


def test_the_machine_may_invoke_exactly_its_task_functions(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    workflow = deployment.pipelines.investigation
    role = logical_id(workflow.state_machine.role)
    invoked = set()
    for statement in statements(templates["pipelines"], role):
        if "lambda:InvokeFunction" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                match = re.search(r'"([A-Za-z0-9]+)", "Arn"', json.dumps(resource))
                assert match is not None, resource
                invoked.add(match.group(1))
        # Nothing else: no StartExecution of itself or another machine, no data access.
        assert all(
            a.startswith(("lambda:", "xray:", "logs:")) for a in as_list(statement["Action"])
        ), statement
    assert invoked == {logical_id(task.function) for task in workflow.tasks.values()}
    # And the preprocessing machine may not invoke the investigation's tasks.
    preprocessing = json.dumps(
        statements(templates["pipelines"], logical_id(deployment.pipelines.state_machine.role))
    )
    for task in workflow.tasks.values():
        assert logical_id(task.function) not in preprocessing


def test_phase_and_validation_tasks_run_agent_turns_the_others_only_bookkeeping(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["pipelines"]
    anthropic = logical_id(deployment.data.runtime.anthropic_secret)
    for placeholder, task in deployment.pipelines.investigation.tasks.items():
        properties = _function_properties(templates, task)
        actions = _actions(template, task)
        granted = statements(template, logical_id(task.role))
        assert "rds-db:connect" in actions, placeholder
        assert not any(a.startswith("s3:") for a in actions), placeholder
        assert "lambda:InvokeFunction" not in actions, placeholder
        assert "states:StartExecution" not in actions, placeholder
        if placeholder in AGENT_TASKS:
            # Up to 3 agent iterations of at most 25 s each, with room around them.
            assert properties["Timeout"] == 300
            assert properties["MemorySize"] == 1769  # the agent function's whole vCPU
            secrets = [
                s["Resource"]
                for s in granted
                if "secretsmanager:GetSecretValue" in as_list(s["Action"])
            ]
            assert anthropic in json.dumps(secrets), placeholder
            assert roles_granted(template, "bedrock:InvokeModel")[logical_id(task.role)] == [
                TITAN_V2
            ]
            assert "aoss:APIAccessAll" in actions, placeholder
        else:
            assert properties["Timeout"] == 60, placeholder
            assert 512 <= properties["MemorySize"] <= 1024, placeholder
            assert (
                not {
                    "secretsmanager:GetSecretValue",
                    "bedrock:InvokeModel",
                    "bedrock:InvokeModelWithResponseStream",
                    "aoss:APIAccessAll",
                }
                & actions
            ), placeholder


def test_the_agent_tasks_search_vectors_but_never_write_them(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    tasks = deployment.pipelines.investigation.tasks
    policies = resources(templates["pipelines"], "AWS::OpenSearchServerless::AccessPolicy")
    granted: dict[str, set[str]] = {}
    for policy in policies.values():
        # A Fn::Join of the policy's text and the principals' role ARNs: read it whole.
        text = json.dumps(policy["Properties"]["Policy"])
        for placeholder, task in tasks.items():
            if logical_id(task.role) in text:
                granted.setdefault(placeholder, set()).update(re.findall(r"aoss:[A-Za-z]+", text))
    assert set(granted) == AGENT_TASKS
    for permissions in granted.values():
        assert "aoss:ReadDocument" in permissions
        assert not {"aoss:WriteDocument", "aoss:CreateIndex", "aoss:UpdateIndex"} & permissions


def test_every_function_is_configured_with_the_machines_arn(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """Any container may start, resume or fail a run (the workflow is resolved lazily):
    every function gets the ARN, a literal of the machine's fixed name."""
    name = _machine(deployment, templates)["StateMachineName"]
    assert name == "FaultMaven-investigation"
    for function in _all_functions(deployment):
        variables = _function_properties(templates, function)["Environment"]["Variables"]
        assert variables[ARN_VARIABLE] == _machine_arn(name), function.node.path


def test_only_the_cases_and_alerts_apis_may_start_a_run(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    arn = _machine_arn(_machine(deployment, templates)["StateMachineName"])
    starters = {
        (stack, role)
        for stack, template in templates.items()
        for role, granted in roles_granted(template, "states:StartExecution").items()
        if arn in granted
    }
    # A user starts a run (cases), or a firing alert does (alerts).
    assert starters == {
        ("api", logical_id(deployment.api.functions[name].role))
        for name in ("api_cases", "api_alerts")
    }
    # The preprocessing machine stays the evidence API's and the upload trigger's.
    cases = statements(templates["api"], logical_id(deployment.api.functions["api_cases"].role))
    started = [s["Resource"] for s in cases if "states:StartExecution" in as_list(s["Action"])]
    assert started == [arn]


def test_only_the_listed_functions_may_resume_or_fail_a_run(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """The evidence pipeline's last step (an upload that satisfies a request), the agent
    (an answer in chat) and the background tasks (a copilot turn that outlived its
    request), the cases API (a request answered or blocked) and the run's own wait task
    (nothing left to wait for); each on this machine only."""
    arn = _machine_arn(_machine(deployment, templates)["StateMachineName"])
    expected = {
        ("pipelines", logical_id(deployment.pipelines.steps["FinalizeFunctionArn"].role)),
        ("pipelines", logical_id(deployment.pipelines.investigation.tasks["WaitFunctionArn"].role)),
        ("api", logical_id(deployment.api.functions["api_agent"].role)),
        ("api", logical_id(deployment.api.functions["api_cases"].role)),
        ("api", logical_id(deployment.api.tasks.role)),
    }
    for action in TASK_RESPONSES:
        found = {
            (stack, role): granted
            for stack, template in templates.items()
            for role, granted in roles_granted(template, action).items()
        }
        assert set(found) == expected, action
        for granted in found.values():
            assert granted == [arn], action
    for name, template in templates.items():
        assert roles_granted(template, "states:SendTaskHeartbeat") == {}, name


def _limit(field: str) -> float:
    [limit] = [rule.le for rule in Settings.model_fields[field].metadata if hasattr(rule, "le")]
    return float(limit)


def test_an_agent_task_outlasts_the_most_iterations_the_settings_allow(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """A phase runs up to `investigation_iterations_per_phase` turns, each ended by the
    turn deadline: at the largest values the settings accept, the function must still be
    alive to record the phase's outcome, or Lambda kills it and the state retries the
    whole phase."""
    most = _limit("investigation_iterations_per_phase") * _limit("agent_turn_deadline_seconds")
    for placeholder in AGENT_TASKS:
        task = deployment.pipelines.investigation.tasks[placeholder]
        assert most + 10 <= _function_properties(templates, task)["Timeout"], placeholder
