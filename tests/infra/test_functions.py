"""Every FaultMaven function: arm64, python3.12, its own role and log group, X-Ray,
layers attached, settings as variables and secret references only."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment
from faultmaven_infra.constructs.function import ServiceFunction

from tests.infra.helpers import logical_id, resources

API_TIMEOUT_LIMIT = 29  # API Gateway's integration timeout


def _functions(deployment: Deployment) -> list[ServiceFunction]:
    return [
        construct
        for stack in deployment.stacks
        for construct in stack.node.find_all()
        if isinstance(construct, ServiceFunction)
    ]


def _properties(templates: dict[str, Template], function: ServiceFunction) -> dict[str, Any]:
    stack = function.function.stack.stack_name.split("-", 1)[1].lower()
    found = resources(templates[stack], "AWS::Lambda::Function")[logical_id(function.function)]
    properties: dict[str, Any] = found["Properties"]
    return properties


def test_every_function_is_covered(deployment: Deployment) -> None:
    sources = {Path(str(f.function.node.path)).parts[0] for f in _functions(deployment)}
    # api, background tasks, steps, upload trigger, retention, migrate, knowledge seed,
    # investigation tasks
    assert len(_functions(deployment)) == 8 + 1 + 8 + 1 + 1 + 1 + 1 + 9
    assert sources == {
        "FaultMaven-Api",
        "FaultMaven-Pipelines",
        "FaultMaven-Schedules",
        "FaultMaven-Data",
    }


def test_runtime_architecture_tracing_and_json_logs(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    for function in _functions(deployment):
        properties = _properties(templates, function)
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert properties["LoggingConfig"]["LogGroup"] == {"Ref": logical_id(function.log_group)}
        assert "VpcConfig" in properties
        assert properties["Role"] == {"Fn::GetAtt": [logical_id(function.role), "Arn"]}


def test_every_function_has_its_own_role_and_log_group_with_retention(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    functions = _functions(deployment)
    assert len({f.role.node.path for f in functions}) == len(functions)
    for function in functions:
        stack = function.function.stack.stack_name.split("-", 1)[1].lower()
        group = resources(templates[stack], "AWS::Logs::LogGroup")[logical_id(function.log_group)]
        assert group["Properties"]["RetentionInDays"] == 30


def test_layers_are_attached_and_only_the_pipeline_pays_for_the_log_miner(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    for function in _functions(deployment):
        layers = json.dumps(_properties(templates, function)["Layers"])
        assert "LayersCore" in layers and "LayersFaultmaven" in layers
        is_step = function.function.node.path.startswith("FaultMaven-Pipelines/") and (
            "Step/" in function.function.node.path
        )
        assert ("LayersPreprocessing" in layers) is is_step, function.node.path
    for template in templates.values():
        for layer in resources(template, "AWS::Lambda::LayerVersion").values():
            assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
            assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_api_functions_answer_within_the_gateway_timeout_with_snapstart(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    for function in deployment.api.functions.values():
        properties = _properties(templates, function)
        # The agent has all of it (tests/infra/test_agent.py); the others stay under it.
        assert properties["Timeout"] <= API_TIMEOUT_LIMIT
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    aliases = resources(templates["api"], "AWS::Lambda::Alias")
    assert len(aliases) == len(deployment.api.functions)
    assert {a["Properties"]["Name"] for a in aliases.values()} == {"live"}


def test_asynchronously_invoked_functions_have_a_failure_destination(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    for function, stack in (
        (deployment.pipelines.upload_trigger, "pipelines"),
        (deployment.schedules.retention, "schedules"),
    ):
        configs = [
            c["Properties"]
            for c in resources(templates[stack], "AWS::Lambda::EventInvokeConfig").values()
            if c["Properties"]["FunctionName"] == {"Ref": logical_id(function.function)}
        ]
        assert len(configs) == 1
        assert "OnFailure" in configs[0]["DestinationConfig"]
        assert configs[0]["MaximumRetryAttempts"] == 2


def test_every_function_embeds_with_bedrock_and_signs_opensearch_requests(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """The same embedder everywhere (the index records its model: a function configured
    otherwise would refuse it), and SigV4 for OpenSearch Serverless."""
    for function in _functions(deployment):
        variables = _properties(templates, function)["Environment"]["Variables"]
        assert variables["FAULTMAVEN_EMBEDDER"] == "bedrock", function.node.path
        assert variables["FAULTMAVEN_BEDROCK_EMBEDDING_MODEL"] == "amazon.titan-embed-text-v2:0"
        assert variables["FAULTMAVEN_BEDROCK_EMBEDDING_DIMENSION"] == "1024"
        assert variables["FAULTMAVEN_VECTOR_STORE"] == "opensearch"
        assert variables["FAULTMAVEN_OPENSEARCH_SIGV4"] == "true"
        assert "CollectionEndpoint" in json.dumps(variables["FAULTMAVEN_OPENSEARCH_URL"])
        assert variables["FAULTMAVEN_AWS_REGION"] == "us-east-1"  # what requests are signed for


def test_the_upload_trigger_has_room_to_ingest_knowledge_documents(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    properties = _properties(templates, deployment.pipelines.upload_trigger)
    assert properties["Timeout"] == 300
    assert properties["MemorySize"] == 1024


_SECRET_NAME = re.compile(r"SECRET|PASSWORD|API_KEY|TOKEN", re.IGNORECASE)


def test_settings_are_variables_and_secret_references_never_values(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    for function in _functions(deployment):
        variables = _properties(templates, function)["Environment"]["Variables"]
        assert variables["FAULTMAVEN_ENVIRONMENT"] == "aws"
        assert variables["FAULTMAVEN_DATABASE_IAM_AUTH"] == "true"
        for name, value in variables.items():
            if _SECRET_NAME.search(name):
                assert name.endswith("_ARN"), name
                assert "Ref" in json.dumps(value), name  # a reference to a secret resource
        database_url = json.dumps(variables["DATABASE_URL"])
        assert "faultmaven@" in database_url and ":5432/faultmaven?sslmode=require" in database_url
        assert "Password" not in database_url and "password" not in database_url
        assert json.dumps(variables["REDIS_URL"]).startswith('{"Fn::Join": ["", ["rediss://"')


def test_function_assets_hold_only_their_handler(
    deployment: Deployment, templates: dict[str, Template], synth_dir: Path
) -> None:
    for function in _functions(deployment):
        code = _properties(templates, function)["Code"]
        key = code["S3Key"]
        asset = synth_dir / f"asset.{key.removesuffix('.zip')}"
        files = sorted(p.name for p in asset.rglob("*") if p.is_file())
        assert files == ["handler.py"], (function.node.path, files)


def test_every_function_is_traced_and_names_its_metrics_namespace_and_service(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """X-Ray active tracing (Powertools Tracer sends subsegments only then), the EMF
    namespace of the deployment and a service name per function (the metrics' dimension),
    and no switch that would turn tracing or metrics off."""
    services = set()
    for function in _functions(deployment):
        properties = _properties(templates, function)
        assert properties["TracingConfig"] == {"Mode": "Active"}, function.node.path
        variables = properties["Environment"]["Variables"]
        assert variables["FAULTMAVEN_METRICS_NAMESPACE"] == "FaultMaven", function.node.path
        assert variables["POWERTOOLS_SERVICE_NAME"] == variables["FAULTMAVEN_SERVICE_NAME"]
        assert "POWERTOOLS_TRACE_DISABLED" not in variables
        assert "POWERTOOLS_METRICS_DISABLED" not in variables
        services.add((variables["FAULTMAVEN_SERVICE_NAME"], properties["Handler"]))
    assert len(services) == len(_functions(deployment))
