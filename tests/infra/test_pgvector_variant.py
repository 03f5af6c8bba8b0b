"""The other deployment shape: `vectorStore=pgvector` (no OpenSearch collection at all)
and `snapStart=false` (the API integrates the functions directly). Its own synth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment, build_app
from faultmaven_infra.config import ContextError

from tests.infra.helpers import logical_id, resources, roles_granted


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    outdir = tmp_path_factory.mktemp("cdk.out.pgvector")
    deployment = build_app(
        {
            "vectorStore": "pgvector",
            "snapStart": "false",
            "stackPrefix": "FmTest",
            "llmProvider": "bedrock",
            "bedrockLlmModel": "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        },
        outdir=str(outdir),
    )
    deployment.app.synth()
    return deployment


def test_no_opensearch_anywhere(variant: Deployment) -> None:
    for stack in variant.stacks:
        template = Template.from_stack(stack)
        text = json.dumps(template.to_json())
        assert "AWS::OpenSearchServerless" not in text
        assert "aoss:" not in text
        for function in resources(template, "AWS::Lambda::Function").values():
            variables = function["Properties"].get("Environment", {}).get("Variables", {})
            if "FAULTMAVEN_ENVIRONMENT" not in variables:
                continue  # CDK's own functions
            assert variables["FAULTMAVEN_VECTOR_STORE"] == "pgvector"
            assert "FAULTMAVEN_OPENSEARCH_URL" not in variables
            assert "FAULTMAVEN_OPENSEARCH_SIGV4" not in variables
            # Vectors in PostgreSQL, embeddings still from Bedrock.
            assert variables["FAULTMAVEN_EMBEDDER"] == "bedrock"


def test_with_pgvector_the_seed_needs_only_the_migrations(variant: Deployment) -> None:
    """Vectors are in the database the migration has just brought up; the embedding
    grants do not depend on the vector store."""
    data = Template.from_stack(variant.data)
    seeding = resources(data, "Custom::Trigger")[logical_id(variant.data.kb_seeding)]
    assert logical_id(variant.data.migration) in seeding["DependsOn"]
    seed = logical_id(variant.data.kb_seed.role)
    assert set(roles_granted(data, "bedrock:InvokeModel")) == {seed}
    api = Template.from_stack(variant.api)
    knowledge = logical_id(variant.api.functions["api_knowledge"].role)
    agent = logical_id(variant.api.functions["api_agent"].role)
    tasks = logical_id(variant.api.tasks.role)
    assert set(roles_granted(api, "bedrock:InvokeModel")) == {knowledge, agent, tasks}


def test_without_snapstart_the_api_invokes_the_functions(variant: Deployment) -> None:
    template = Template.from_stack(variant.api)
    template.resource_count_is("AWS::Lambda::Alias", 0)
    for function in resources(template, "AWS::Lambda::Function").values():
        assert "SnapStart" not in function["Properties"]
    for integration in resources(template, "AWS::ApiGatewayV2::Integration").values():
        assert "Function" in json.dumps(integration["Properties"]["IntegrationUri"])
    # No origins configured: no CORS at all rather than a permissive one.
    assert "CorsConfiguration" not in json.dumps(template.to_json())
    names = {s.stack_name for s in variant.stacks}
    assert names == {f"FmTest-{n}" for n in ("Network", "Data", "Pipelines", "Api", "Schedules")}
    assert variant.config.evidence_bucket_name == "fmtest-evidence-123456789012-us-east-1"


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"vectorStore": "elasticsearch"}, "vectorStore"),
        ({"snapStart": "maybe"}, "snapStart"),
        ({"allowedOrigins": "http://evil.example.com"}, "allowedOrigins"),
        ({"stackPrefix": "has space"}, "stackPrefix"),
        ({"logRetentionDays": "0"}, "logRetentionDays"),
    ],
)
def test_bad_context_fails_the_synth_naming_the_key(
    context: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ContextError, match=named):
        build_app(context, outdir=str(tmp_path), nag=False)


def test_with_bedrock_the_summarize_step_may_invoke_exactly_that_model(
    variant: Deployment,
) -> None:
    """An inference profile routes to its foundation model in several regions: the grant
    names the profile (this account and region) and that one model in any region."""
    template = Template.from_stack(variant.pipelines)
    summarize = logical_id(variant.pipelines.steps["SummarizeFunctionArn"].role)
    tasks = variant.pipelines.investigation.tasks
    # The investigation's agent iterations call the same model.
    agent_tasks = {logical_id(tasks[p].role) for p in ("PhaseFunctionArn", "ValidateFunctionArn")}
    # Finalize classifies the evidence against the investigation with it too.
    agent_tasks.add(logical_id(variant.pipelines.steps["FinalizeFunctionArn"].role))
    granted = roles_granted(template, "bedrock:InvokeModel")
    chat_model_roles = {role for role, found in granted.items() if "claude" in json.dumps(found)}
    assert chat_model_roles == {summarize} | agent_tasks
    text = json.dumps(granted[summarize])
    assert "inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0" in text
    assert ":bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0" in text
    assert "titan" not in text
    assert len(granted[summarize]) == 2  # the profile and its model, nothing else
    streaming = roles_granted(template, "bedrock:InvokeModelWithResponseStream")
    assert set(streaming) == {summarize} | agent_tasks
    assert roles_granted(template, "secretsmanager:GetSecretValue") == {}
    step = resources(template, "AWS::Lambda::Function")[
        logical_id(variant.pipelines.steps["SummarizeFunctionArn"].function)
    ]
    variables = step["Properties"]["Environment"]["Variables"]
    assert variables["FAULTMAVEN_LLM_PROVIDER"] == "bedrock"
    assert (
        variables["FAULTMAVEN_BEDROCK_LLM_MODEL"] == "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"llmProvider": "openai"}, "llmProvider"),
        ({"llmFallback": "anthropic"}, "llmFallback"),
        ({"bedrockLlmModel": "bad model id"}, "bedrockLlmModel"),
    ],
)
def test_llm_context_typos_fail_the_synth_by_name(context: dict[str, str], message: str) -> None:
    with pytest.raises(ContextError, match=message):
        build_app(context, nag=False)


def test_with_bedrock_the_agent_may_invoke_exactly_that_model_and_reads_no_api_key(
    variant: Deployment,
) -> None:
    """The agent's chat model on Bedrock: invoke and stream on the inference profile and
    its one foundation model, never Resource "*"; the Anthropic key's secret is not
    readable (only the JWT signing key is), and the query embedding stays on Titan."""
    template = Template.from_stack(variant.api)
    agent = logical_id(variant.api.functions["api_agent"].role)
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"):
        granted = roles_granted(template, action)
        chat = [r for r in granted[agent] if "claude" in json.dumps(r)]
        assert len(chat) == 2, action  # the profile and its model, nothing else
        text = json.dumps(chat)
        assert "inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0" in text
        assert ":bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0" in text
        assert "*" not in granted[agent], action
        # No other function may call the chat model but the background tasks, which
        # answer a copilot turn that outlived its request.
        tasks = logical_id(variant.api.tasks.role)
        others = {role for role, found in granted.items() if "claude" in json.dumps(found)}
        assert others == {agent, tasks}, action
    embedding = [
        r for r in roles_granted(template, "bedrock:InvokeModel")[agent] if "titan" in str(r)
    ]
    assert embedding == ["arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"]
    secrets = json.dumps(roles_granted(template, "secretsmanager:GetSecretValue")[agent])
    assert "JwtSigningKey" in secrets and "AnthropicApiKey" not in secrets
    function = resources(template, "AWS::Lambda::Function")[
        logical_id(variant.api.functions["api_agent"].function)
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["FAULTMAVEN_LLM_PROVIDER"] == "bedrock"
    assert (
        variables["FAULTMAVEN_BEDROCK_LLM_MODEL"] == "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
