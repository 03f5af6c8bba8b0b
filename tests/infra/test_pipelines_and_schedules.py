"""The preprocessing state machine (the repository's ASL file, every placeholder bound to
its step function), the upload notification, and the retention schedules."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment

from faultmaven.preprocessing.statemachine import TASK_HANDLERS, definition_path, placeholders
from tests.conftest import ROOT
from tests.infra.helpers import (
    as_list,
    logical_id,
    object_prefixes,
    resources,
    roles_granted,
    statements,
)


def test_the_state_machine_is_the_repository_file_with_every_placeholder_bound(
    deployment: Deployment, templates: dict[str, Template], synth_dir: Path
) -> None:
    machine = resources(templates["pipelines"], "AWS::StepFunctions::StateMachine")[
        logical_id(deployment.pipelines.state_machine)
    ]
    properties = machine["Properties"]
    source = definition_path(ROOT).read_text()
    assert placeholders(source) == set(TASK_HANDLERS)
    # CDK ships the file itself as an asset and binds the placeholders separately, so
    # AWS runs byte for byte what moto runs locally.
    shipped = synth_dir / f"asset.{properties['DefinitionS3Location']['Key']}"
    assert shipped.read_text() == source
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == set(TASK_HANDLERS)
    for placeholder, step in deployment.pipelines.steps.items():
        assert substitutions[placeholder] == {"Fn::GetAtt": [logical_id(step.function), "Arn"]}
        handler = deployment.pipelines.resolve(step.function.node.default_child.handler)  # type: ignore[union-attr]
        assert handler == f"handler.{TASK_HANDLERS[placeholder]}"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_the_state_machine_may_invoke_exactly_its_steps(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["pipelines"]
    role = logical_id(deployment.pipelines.state_machine.role)
    invoked = set()
    for statement in statements(template, role):
        if "lambda:InvokeFunction" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                invoked.add(re.search(r'"([A-Za-z]+Step[A-Za-z]+[0-9A-F]{8})"', text).group(1))  # type: ignore[union-attr]
    assert invoked == {logical_id(step.function) for step in deployment.pipelines.steps.values()}


def test_uploads_under_artifacts_and_knowledge_notify_the_trigger(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["pipelines"]
    notifications = resources(template, "Custom::S3BucketNotifications")
    assert len(notifications) == 1
    properties = next(iter(notifications.values()))["Properties"]
    assert properties["BucketName"] == deployment.config.evidence_bucket_name
    configurations = properties["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    trigger = logical_id(deployment.pipelines.upload_trigger.function)
    prefixes = []
    for configuration in configurations:
        assert configuration["Events"] == ["s3:ObjectCreated:*"]
        assert configuration["LambdaFunctionArn"] == {"Fn::GetAtt": [trigger, "Arn"]}
        [rule] = configuration["Filter"]["Key"]["FilterRules"]
        assert rule["Name"] == "prefix"
        prefixes.append(rule["Value"])
    # Evidence artifacts start preprocessing; knowledge documents are ingested. Work
    # files (under work/) are the pipeline's own writes and must never notify.
    assert prefixes == ["artifacts/", "knowledge/"]
    trigger_statements = statements(template, logical_id(deployment.pipelines.upload_trigger.role))
    starts = [s for s in trigger_statements if "states:StartExecution" in as_list(s["Action"])]
    assert [s["Resource"] for s in starts] == [
        {"Ref": logical_id(deployment.pipelines.state_machine)}
    ]


def test_the_trigger_reads_uploads_and_deletes_only_ingested_knowledge(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    granted = statements(
        templates["pipelines"], logical_id(deployment.pipelines.upload_trigger.role)
    )
    assert object_prefixes(granted) == {"artifacts", "knowledge"}
    by_prefix: dict[str, set[str]] = {}
    for statement in granted:
        for resource in as_list(statement["Resource"]):
            text = json.dumps(resource)
            for prefix in ("artifacts", "knowledge"):
                if text.endswith(f'/{prefix}/*"]]}}'):
                    by_prefix.setdefault(prefix, set()).update(as_list(statement["Action"]))
    assert by_prefix == {
        "artifacts": {"s3:GetObject"},  # evidence stays for the pipeline
        "knowledge": {"s3:GetObject", "s3:DeleteObject"},
    }
    actions = {a for statement in granted for a in as_list(statement["Action"])}
    assert {"bedrock:InvokeModel", "aoss:APIAccessAll"} <= actions
    assert "s3:PutObject" not in actions


def test_retention_runs_hourly_and_daily_from_named_rules(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    rules = resources(templates["schedules"], "AWS::Events::Rule")
    by_name = {r["Properties"]["Name"]: r["Properties"] for r in rules.values()}
    assert by_name["FaultMaven-retention-hourly"]["ScheduleExpression"] == "rate(1 hour)"
    assert by_name["FaultMaven-retention-daily"]["ScheduleExpression"] == "cron(17 3 * * ? *)"
    retention = logical_id(deployment.schedules.retention.function)
    for rule in by_name.values():
        [target] = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [retention, "Arn"]}
        assert "DeadLetterConfig" in target
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_the_sample_scheduled_events_come_from_these_rules() -> None:
    """The retention handler picks its cadence from the rule name; the samples in
    `events/` must look like what these rules deliver."""
    for cadence in ("hourly", "daily"):
        event = json.loads(
            (ROOT / "events" / "eventbridge" / f"retention_{cadence}.json").read_text()
        )
        assert event["detail-type"] == "Scheduled Event"
        assert event["resources"][0].endswith(f":rule/FaultMaven-retention-{cadence}")


def test_retention_may_delete_but_not_read_evidence(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    role = logical_id(deployment.schedules.retention.role)
    actions = {
        action
        for statement in statements(templates["schedules"], role)
        for action in as_list(statement["Action"])
    }
    # Closed cases' working memory lives in the vector store: retention deletes it there.
    assert {"rds-db:connect", "s3:DeleteObject", "aoss:APIAccessAll"} <= actions
    assert not {"s3:GetObject", "s3:PutObject", "bedrock:InvokeModel"} & actions
    assert "secretsmanager:GetSecretValue" not in actions  # it signs no tokens


def test_only_the_steps_that_ask_the_model_read_the_anthropic_key(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """The default provider is the Anthropic API: its key's secret is readable by the
    steps that call the model — Summarize, Finalize (it classifies the evidence against
    the investigation) and the investigation's agent tasks, beside them in this stack —
    and none may invoke a Bedrock chat model."""
    template = templates["pipelines"]
    readers = roles_granted(template, "secretsmanager:GetSecretValue")
    steps = deployment.pipelines.steps
    summarize = logical_id(steps["SummarizeFunctionArn"].role)
    finalize = logical_id(steps["FinalizeFunctionArn"].role)
    tasks = deployment.pipelines.investigation.tasks
    agent_tasks = {logical_id(tasks[p].role) for p in ("PhaseFunctionArn", "ValidateFunctionArn")}
    assert set(readers) == {summarize, finalize} | agent_tasks
    assert "AnthropicApiKey" in json.dumps(readers[summarize])
    invokers = roles_granted(template, "bedrock:InvokeModel")
    assert invokers  # the embedding model (Index, knowledge ingestion)
    assert "claude" not in json.dumps(invokers)
    for function in resources(template, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "FAULTMAVEN_ENVIRONMENT" in variables:
            assert variables["FAULTMAVEN_LLM_PROVIDER"] == "anthropic"
            assert variables["FAULTMAVEN_LLM_MODEL"]
