"""The local AWS stand-in itself: moto runs our state machine file and dispatches Lambda
invocations to our handlers (a patch of a private moto API, so it is tested here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultmaven.adapters.aws import client
from faultmaven.core.settings import Settings
from faultmaven.local.aws import TRIGGER_FUNCTION, S3Mirror, step_function_name
from faultmaven.preprocessing.statemachine import (
    TASK_HANDLERS,
    definition_path,
    placeholders,
    render,
)
from tests.conftest import ROOT


def test_every_placeholder_of_the_definition_has_a_handler() -> None:
    template = definition_path(ROOT).read_text()
    assert placeholders(template) == set(TASK_HANDLERS)
    rendered = json.loads(render(template, {name: f"arn:{name}" for name in TASK_HANDLERS}))
    assert rendered["StartAt"] == "Classify"
    assert "$.data_type" in json.dumps(rendered)  # JSONPath survives the substitution


def test_a_missing_substitution_is_an_error() -> None:
    with pytest.raises(KeyError, match="ClassifyFunctionArn"):
        render(definition_path(ROOT).read_text(), {})


def test_lambda_invoke_reaches_the_real_handler(settings: Settings) -> None:
    lam = client("lambda", settings)
    result = lam.invoke(
        FunctionName=TRIGGER_FUNCTION,
        Payload=json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "s3": {"object": {"key": "elsewhere/x", "size": 1}},
                    }
                ]
            }
        ),
    )
    assert "FunctionError" not in result
    assert json.loads(result["Payload"].read()) == {
        "processed": [{"key": "elsewhere/x", "outcome": "ignored"}]
    }


def test_handler_exceptions_come_back_as_lambda_errors(settings: Settings) -> None:
    lam = client("lambda", settings)
    result = lam.invoke(
        FunctionName=step_function_name("classify"), Payload=json.dumps({"evidence_id": "evd_nope"})
    )
    assert result["FunctionError"]
    error = json.loads(result["Payload"].read())
    assert error["errorType"] == "StepFailedError"
    assert error["errorMessage"].startswith("NotFoundError:")
    assert all("File " in frame for frame in error["stackTrace"])  # frames, no messages


def test_the_state_machine_is_the_repository_file(settings: Settings) -> None:
    sfn = client("stepfunctions", settings)
    deployed = json.loads(
        sfn.describe_state_machine(stateMachineArn=settings.preprocessing_state_machine_arn)[
            "definition"
        ]
    )
    expected = json.loads(definition_path(ROOT).read_text())
    assert set(deployed["States"]) == set(expected["States"])
    assert deployed["States"]["Classify"]["Resource"].endswith(step_function_name("classify"))


def test_the_mirror_keeps_keys_inside_its_directory(tmp_path: Path) -> None:
    mirror = S3Mirror(tmp_path)
    mirror.save("artifacts/c/e/a.log", b"x")
    assert (tmp_path / "artifacts/c/e/a.log").read_bytes() == b"x"
    with pytest.raises(ValueError, match="escapes"):
        mirror.save("../outside", b"x")
    mirror.remove("artifacts/c/e/a.log")
    assert not (tmp_path / "artifacts/c/e/a.log").exists()


def test_exporting_other_settings_leaves_nothing_of_the_previous_ones(settings: Settings) -> None:
    """The functions' environment is exactly the exported settings: a model key and a
    stub's address exported for one test cannot reach the next one's functions."""
    import os

    from faultmaven.core.settings import ENV_PREFIX
    from faultmaven.local.aws import export_environment
    from tests.conftest import make_settings

    scripted = make_settings(
        settings.database_url or "",
        settings.redis_url or "",
        aws_endpoint_url=settings.aws_endpoint_url,
        llm_provider="anthropic",
        anthropic_api_key="sk-ant-test-0000",
        anthropic_base_url="http://127.0.0.1:9",
        llm_case_budget_tokens=50,
    )
    try:
        export_environment(scripted)
        assert os.environ[f"{ENV_PREFIX}ANTHROPIC_API_KEY"] == "sk-ant-test-0000"
        assert os.environ[f"{ENV_PREFIX}LLM_CASE_BUDGET_TOKENS"] == "50"
    finally:
        export_environment(settings)
    assert f"{ENV_PREFIX}ANTHROPIC_API_KEY" not in os.environ
    assert f"{ENV_PREFIX}ANTHROPIC_BASE_URL" not in os.environ
    assert os.environ[f"{ENV_PREFIX}LLM_CASE_BUDGET_TOKENS"] == str(settings.llm_case_budget_tokens)
