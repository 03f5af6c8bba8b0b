"""The HTTP API: every operation of the OpenAPI contract reaches the function of its
domain through the SnapStart alias; throttled, logged, CORS for the configured origins."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template
from faultmaven_infra.app import Deployment
from faultmaven_infra.constructs.http_api import operations
from faultmaven_infra.stacks.api import API_FUNCTIONS

from tests.conftest import ROOT
from tests.infra.helpers import as_list, logical_id, object_prefixes, resources, statements

EXPECTED_FUNCTION = {
    "/api/v1/auth/login": "api_auth",
    "/api/v1/organizations/{org_id}/teams": "api_auth",
    "/api/v1/teams/{team_id}/members": "api_auth",
    "/api/v1/sessions/{session_id}/heartbeat": "api_sessions",
    "/health": "api_sessions",
    "/api/v1/cases/{case_id}": "api_cases",
    "/api/v1/cases/{case_id}/hypotheses/{hypothesis_id}": "api_cases",
    "/api/v1/cases/{case_id}/investigation": "api_cases",
    "/api/v1/cases/{case_id}/investigation/consent": "api_cases",
    "/api/v1/cases/{case_id}/query": "api_agent",
    "/api/v1/agent/chat/{case_id}": "api_agent",
    "/api/v1/agent/health": "api_agent",
    "/api/v1/cases/{case_id}/evidence": "api_evidence",
    "/api/v1/cases/{case_id}/evidence/text": "api_evidence",
    "/api/v1/evidence/{evidence_id}/download": "api_evidence",
    "/api/v1/jobs/{job_id}": "api_evidence",
    "/api/v1/knowledge/documents": "api_knowledge",
    "/api/v1/knowledge/documents/{document_id}/shares/{share_id}": "api_knowledge",
    "/api/v1/knowledge/global/documents": "api_knowledge",
    "/api/v1/knowledge/search": "api_knowledge",
    "/api/v1/history/sessions": "api_history",
    "/api/v1/history/sessions/{history_session_id}": "api_history",
    "/api/v1/history/filter-options": "api_history",
}


def _integration_targets(deployment: Deployment, template: Template) -> dict[str, str]:
    """Integration logical id → the API function whose alias it invokes."""
    alias_ids = {
        logical_id(function.alias): source  # type: ignore[arg-type]
        for source, function in deployment.api.functions.items()
    }
    targets = {}
    for integration_id, integration in resources(
        template, "AWS::ApiGatewayV2::Integration"
    ).items():
        uri = json.dumps(integration["Properties"]["IntegrationUri"])
        matches = [source for alias, source in alias_ids.items() if f'"{alias}"' in uri]
        assert len(matches) == 1, uri
        targets[integration_id] = matches[0]
    return targets


def test_every_operation_routes_to_its_domain_function(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    template = templates["api"]
    targets = _integration_targets(deployment, template)
    routed = {}
    for route in resources(template, "AWS::ApiGatewayV2::Route").values():
        key = route["Properties"]["RouteKey"]
        integration = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        routed[key] = targets[integration]
    contract = operations(ROOT / "docs" / "openapi.json")
    assert len(contract) > 40
    tag_owner = {tag: spec.source for spec in API_FUNCTIONS for tag in spec.tags}
    for operation in contract:
        key = f"{operation.method} {operation.path}"
        assert routed.pop(key) == tag_owner[operation.tag], key
    # Unknown routes go to the lightest function, which answers with the error envelope.
    assert routed == {"$default": "api_sessions"}
    for path, source in EXPECTED_FUNCTION.items():
        owners = {tag_owner[o.tag] for o in contract if o.path == path}
        assert owners == {source}, path


def test_the_stage_is_throttled_and_logged_without_headers(templates: dict[str, Template]) -> None:
    stage = next(iter(resources(templates["api"], "AWS::ApiGatewayV2::Stage").values()))
    properties = stage["Properties"]
    assert properties["StageName"] == "$default"
    assert properties["AutoDeploy"] is True
    assert properties["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 100,
        "ThrottlingRateLimit": 50,
    }
    log_format = json.loads(properties["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status", "ip"} <= set(log_format)
    assert not any("header" in value.lower() for value in log_format.values())


def test_cors_allows_exactly_the_configured_origins(templates: dict[str, Template]) -> None:
    templates["api"].has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "ProtocolType": "HTTP",
            "CorsConfiguration": Match.object_like(
                {
                    "AllowOrigins": [
                        "https://app.example.com",
                        "chrome-extension://abcdefghijklmnop",
                    ],
                    "AllowHeaders": Match.array_with(
                        ["authorization", "content-type", "x-session-id", "idempotency-key"]
                    ),
                    "ExposeHeaders": Match.array_with(["x-error-code", "x-title-source"]),
                }
            ),
        },
    )


def test_the_api_url_is_an_output(templates: dict[str, Template]) -> None:
    outputs = templates["api"].find_outputs("ApiUrl")
    assert len(outputs) == 1
    value = json.dumps(next(iter(outputs.values()))["Value"])
    assert value.endswith('"/api/v1"]]}')


def test_api_roles_reach_only_what_their_domain_needs(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    # Knowledge embeds documents and queries; deleting a case or a piece of evidence
    # deletes its case-memory vectors; the agent embeds its query and searches (read
    # only: tests/infra/test_agent.py); auth and sessions never touch vectors.
    uses_vectors = {"api_knowledge", "api_cases", "api_evidence", "api_agent"}
    embeds = {"api_knowledge", "api_agent"}
    prefixes = {
        "api_evidence": {"artifacts", "work"},
        "api_knowledge": {"knowledge"},
        "api_auth": {"exports"},  # presigns the download of a finished export
        "api_agent": {"artifacts"},  # the copilot's turn writes its attachments
        "api_alerts": {"artifacts"},  # an alert is its case's first evidence
    }
    for source, function in deployment.api.functions.items():
        granted = statements(templates["api"], logical_id(function.role))
        actions = {action for statement in granted for action in as_list(statement["Action"])}
        assert "rds-db:connect" in actions
        assert "secretsmanager:GetSecretValue" in actions
        # Pasted evidence starts preprocessing; a run starts the investigation
        # (tests/infra/test_investigation_machine.py).
        starts = source in ("api_evidence", "api_cases", "api_alerts")
        assert ("states:StartExecution" in actions) is starts, source
        assert ("bedrock:InvokeModel" in actions) is (source in embeds), source
        assert ("aoss:APIAccessAll" in actions) is (source in uses_vectors), source
        # Exports and erasure (auth), chat turns that outlive the request (agent).
        starts_tasks = source in ("api_auth", "api_agent")
        assert ("lambda:InvokeFunction" in actions) is starts_tasks, source
        assert any(a.startswith("s3:") for a in actions) is (source in prefixes), source
        assert object_prefixes(granted) == prefixes.get(source, set()), source


def test_knowledge_uploads_are_presigned_for_put_and_get_only(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    role = logical_id(deployment.api.functions["api_knowledge"].role)
    on_uploads = [
        statement
        for statement in statements(templates["api"], role)
        if json.dumps(statement["Resource"]).endswith('/knowledge/*"]]}')
    ]
    assert [sorted(as_list(s["Action"])) for s in on_uploads] == [["s3:GetObject", "s3:PutObject"]]


def test_background_tasks_run_in_their_own_function_started_by_auth_and_the_agent(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    api = templates["api"]
    tasks = deployment.api.tasks
    granted = statements(api, logical_id(tasks.role))
    actions = {action for statement in granted for action in as_list(statement["Action"])}
    assert {"rds-db:connect", "bedrock:InvokeModel", "s3:PutObject"} <= actions
    assert "lambda:InvokeFunction" not in actions
    assert object_prefixes(granted) == {"artifacts", "work", "exports"}
    auth = deployment.api.functions["api_auth"].function
    environment = json.dumps(
        api.to_json()["Resources"][logical_id(auth)]["Properties"]["Environment"]
    )
    assert "FAULTMAVEN_TASK_FUNCTION_NAME" in environment
    assert logical_id(tasks.function) in environment
