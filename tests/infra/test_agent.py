"""The agent function: the chat-turn routes reach it, it has API Gateway's whole 29 s and
the memory the cold-start benchmark sized, it may call exactly the configured language
model, and it reads (never writes) vectors and no S3 object. Uses the session's synth."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment

from faultmaven.core.settings import Settings
from tests.infra.helpers import (
    as_list,
    logical_id,
    object_prefixes,
    resources,
    roles_granted,
    statements,
)

AGENT_ROUTES = (
    "POST /api/v1/cases/{case_id}/query",
    "POST /api/v1/agent/chat/{case_id}",
    "GET /api/v1/agent/health",
    # The copilot's chat turn and the job it polls when the turn outlives the request.
    "POST /compat/faultmaven/api/v1/cases/{case_id}/turns",
    "GET /compat/faultmaven/api/v1/jobs/{job_id}",
)
TITAN_V2 = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"


def _agent(deployment: Deployment, templates: dict[str, Template]) -> dict[str, Any]:
    function = deployment.api.functions["api_agent"].function
    properties: dict[str, Any] = resources(templates["api"], "AWS::Lambda::Function")[
        logical_id(function)
    ]["Properties"]
    return properties


def _actions(granted: list[dict[str, Any]]) -> set[str]:
    return {action for statement in granted for action in as_list(statement["Action"])}


def test_the_agent_has_the_gateways_timeout_and_a_full_vcpu(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    properties = _agent(deployment, templates)
    assert properties["Timeout"] == 29
    # 1769 MB is where Lambda gives one whole vCPU (README, Deploy to AWS: the figures).
    assert properties["MemorySize"] == 1769
    assert properties["Handler"] == "handler.handler"
    assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert properties["Architectures"] == ["arm64"]
    # Every other API function stays well inside the gateway's limit.
    for source, function in deployment.api.functions.items():
        if source != "api_agent":
            other = resources(templates["api"], "AWS::Lambda::Function")[
                logical_id(function.function)
            ]
            assert other["Properties"]["Timeout"] < 29, source


def test_the_turn_deadline_ends_before_the_function_times_out(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """The turn answers with what it has when its deadline passes; the function must
    still be alive then to store and return that answer."""
    timeout = _agent(deployment, templates)["Timeout"]
    variables = _agent(deployment, templates)["Environment"]["Variables"]
    for name in ("agent_turn_deadline_seconds", "llm_api_deadline_seconds"):
        variable = f"FAULTMAVEN_{name.upper()}"
        deadline = float(variables.get(variable, Settings.model_fields[name].default))
        assert deadline + 2 <= timeout, name


def test_the_agent_routes_go_to_the_agent_function(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["api"]
    alias = logical_id(deployment.api.functions["api_agent"].alias)  # type: ignore[arg-type]
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    to_agent = {
        integration_id
        for integration_id, integration in integrations.items()
        if f'"{alias}"' in json.dumps(integration["Properties"]["IntegrationUri"])
    }
    assert len(to_agent) == 1
    routes = {
        route["Properties"]["RouteKey"]: route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        for route in resources(template, "AWS::ApiGatewayV2::Route").values()
    }
    for key in AGENT_ROUTES:
        assert routes[key] in to_agent, key
    assert {key for key, target in routes.items() if target in to_agent} == set(AGENT_ROUTES)
    # HTTP API picks the most specific route, and a greedy one would still be a catch-all
    # for paths nobody declared: none exists, so the query route is the only match for
    # POST /cases/{id}/query, whatever the cases function serves.
    assert not [key for key in routes if "+}" in key]
    assert [key for key in routes if key.endswith("/query")] == [AGENT_ROUTES[0]]


def test_the_agent_is_configured_for_the_deployments_language_model(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    variables = _agent(deployment, templates)["Environment"]["Variables"]
    assert variables["FAULTMAVEN_LLM_PROVIDER"] == "anthropic"
    assert variables["FAULTMAVEN_LLM_MODEL"] == "claude-sonnet-4-5"
    assert variables["FAULTMAVEN_BEDROCK_LLM_MODEL"].startswith("us.anthropic.claude-")
    assert "AnthropicApiKey" in json.dumps(variables["FAULTMAVEN_ANTHROPIC_API_KEY_SECRET_ARN"])
    assert "FAULTMAVEN_ANTHROPIC_API_KEY" not in variables  # the secret's ARN, never the key
    assert variables["FAULTMAVEN_SERVICE_NAME"] == "faultmaven-api-agent"
    assert variables["FAULTMAVEN_EMBEDDER"] == "bedrock"
    assert "DATABASE_URL" in variables and "REDIS_URL" in variables


def test_the_agent_reads_the_anthropic_key_and_embeds_its_queries_only(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["api"]
    role = logical_id(deployment.api.functions["api_agent"].role)
    granted = statements(template, role)
    actions = _actions(granted)
    assert "rds-db:connect" in actions
    secrets = json.dumps(
        [s["Resource"] for s in granted if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    )
    assert "AnthropicApiKey" in secrets and "JwtSigningKey" in secrets
    # The default provider is the Anthropic API: Bedrock only for the query's embedding.
    assert roles_granted(template, "bedrock:InvokeModel")[role] == [TITAN_V2]
    assert role not in roles_granted(template, "bedrock:InvokeModelWithResponseStream")
    # Evidence extractions and case state come from PostgreSQL. The copilot's turn writes
    # its attachments (put, under artifacts/ only) and hands a turn that outlives the
    # request to the background tasks (invoke that one function). Its one workflow
    # right: resuming (or failing) an investigation parked on a request the chat
    # answered (tests/infra/test_investigation_machine.py).
    assert {a for a in actions if a.startswith(("s3:", "lambda:"))} == {
        "s3:PutObject",
        "lambda:InvokeFunction",
    }
    assert object_prefixes(granted) == {"artifacts"}
    invoked = [s["Resource"] for s in granted if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert logical_id(deployment.api.tasks.function) in json.dumps(invoked)
    assert {a for a in actions if a.startswith("states:")} == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
    }
    # The other API functions still cannot read the model key.
    for source, function in deployment.api.functions.items():
        if source == "api_agent":
            continue
        other = statements(template, logical_id(function.role))
        assert "AnthropicApiKey" not in json.dumps([s["Resource"] for s in other]), source


def _access_policies(template: Template) -> list[tuple[set[str], set[str]]]:
    """(principal role logical ids, permissions) of each OpenSearch data access policy.
    Synthesized as an Fn::Join over the policy's JSON with the role ARNs as GetAtt tokens
    inside its strings: put each role's logical id in its place and parse the JSON."""
    found = []
    for policy in resources(template, "AWS::OpenSearchServerless::AccessPolicy").values():
        parts = policy["Properties"]["Policy"]["Fn::Join"][1]
        text = "".join(part if isinstance(part, str) else part["Fn::GetAtt"][0] for part in parts)
        for entry in json.loads(text):
            permissions = {p for rule in entry["Rules"] for p in rule["Permission"]}
            found.append((set(entry["Principal"]), permissions))
    return found


def test_the_agent_searches_vectors_but_cannot_write_them(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["api"]
    role = logical_id(deployment.api.functions["api_agent"].role)
    assert "aoss:APIAccessAll" in _actions(statements(template, role))
    policies = _access_policies(template)
    naming_agent = [permissions for principals, permissions in policies if role in principals]
    assert naming_agent == [
        {"aoss:DescribeCollectionItems", "aoss:DescribeIndex", "aoss:ReadDocument"}
    ]
    # The functions that index and delete vectors keep their write access.
    writers = [
        principals for principals, permissions in policies if "aoss:WriteDocument" in permissions
    ]
    assert writers == [
        {
            logical_id(deployment.api.functions[source].role)
            for source in ("api_knowledge", "api_cases", "api_evidence")
        }
        | {logical_id(deployment.api.tasks.role)}
    ]
