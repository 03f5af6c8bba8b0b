"""A function runs on Lambda with only its layers: a library that lives in another
function's layer (the preprocessing layer's log miner) is not importable there, however
it imports (lazily included). Here the handler runs in a fresh interpreter in which the
modules of every distribution its layers do not ship (per `infra/assets/build.py`, the
build CDK deploys) are refused, over the real PostgreSQL and Redis."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from faultmaven.core.settings import Settings
from tests.conftest import ROOT, TEST_JWT_SECRET
from tests.helpers import Api
from tests.integration.test_lambda_handlers import load_event


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "faultmaven_asset_build_for_layers", ROOT / "infra" / "assets" / "build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look the module up here
    spec.loader.exec_module(module)
    return module


BUILD = _load_build()

DRIVER = """\
import importlib.abc
import importlib.util
import json
import sys

handler_path, events_path, blocked_json = sys.argv[1:4]
BLOCKED = frozenset(json.loads(blocked_json))


class NotInThisFunctionsLayers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInThisFunctionsLayers())


class Context:
    function_name = "faultmaven-layers-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:layers-test"
    aws_request_id = "layers-test"

    def get_remaining_time_in_millis(self):
        return 29_000


refused = []
for name in sorted(BLOCKED):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        refused.append(name)
spec = importlib.util.spec_from_file_location("handler_under_test", handler_path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
answers = []
for event in json.load(open(events_path)):
    response = module.handler(event, Context())
    answers.append({"status": response["statusCode"], "body": response.get("body", "")})
print(json.dumps({"refused": refused, "answers": answers}), flush=True)
"""


def not_in_layers(function: str) -> list[str]:
    """Top-level modules of the distributions only the preprocessing layer ships, unless
    this function gets that layer."""
    if "preprocessing" in BUILD.layers_for_function(function):
        return []
    only_there = {BUILD.normalize(name) for name in BUILD.PREPROCESSING_ONLY}
    return sorted(
        module
        for module, distributions in packages_distributions().items()
        if any(BUILD.normalize(d) in only_there for d in distributions)
    )


def run_with_its_layers(
    function: str, events: list[dict[str, Any]], settings: Settings, tmp_path: Path
) -> dict[str, Any]:
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(events))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    blocked = not_in_layers(function)
    environment = {
        "PATH": "/usr/bin:/bin",
        "FAULTMAVEN_ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "FAULTMAVEN_JWT_SECRET": TEST_JWT_SECRET,
        "FAULTMAVEN_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    completed = subprocess.run(
        [
            sys.executable,
            str(driver),
            str(ROOT / "functions" / function / "handler.py"),
            str(events_file),
            json.dumps(blocked),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith('{"refused"')]
    assert completed.returncode == 0 and lines, completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(lines[-1])
    assert result["refused"] == blocked  # the refusal is really in force
    return result


def test_the_log_miner_reaches_only_the_preprocessing_function() -> None:
    """What the functions below run without; a build that dropped the split would make
    the layer tests vacuous."""
    assert "drain3" in not_in_layers("api_agent")
    assert not_in_layers("preprocess") == []


def test_a_chat_turn_runs_with_only_the_agent_functions_layers(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    """A turn redacts everything it sends to the model and records (history); the
    redaction's secret patterns must ship in a layer the agent function gets."""
    user = api.user()
    case_id = api.case(user)["case_id"]
    session_id = api.call("POST", "/sessions", user, json={}).json()["session_id"]
    query = load_event(
        "agent_query", ACCESS_TOKEN=user.token, CASE_ID=case_id, SESSION_ID=session_id
    )
    query["body"] = json.dumps(
        {
            "session_id": session_id,
            # Something to redact, so the secret rules really run.
            "query": "The pool logs show password=hunter2hunter2 and AKIAIOSFODNN7EXAMPLE; why?",
        }
    )
    health = load_event("agent_health", ACCESS_TOKEN=user.token)
    result = run_with_its_layers("api_agent", [query, health], settings, tmp_path)
    statuses = [answer["status"] for answer in result["answers"]]
    assert statuses == [200, 200], result["answers"]
    answer = json.loads(result["answers"][0]["body"])
    assert answer["schema_version"] == "3.1.0"
    # The analyst's own answer, not the turn's fallback for an answer it could not get
    # (which is what a failing redaction inside the model call looks like from outside).
    assert answer["response_type"] != "GENERAL_RESPONSE", answer["structured_data"]
    assert answer["content"].startswith("[offline analyst]")
    messages = api.call("GET", f"/cases/{case_id}/messages", user).json()["items"]
    stored = json.dumps(messages)
    assert "AKIAIOSFODNN7EXAMPLE" not in stored and "hunter2hunter2" not in stored


@pytest.mark.parametrize("function", ["api_cases", "api_knowledge"])
def test_other_api_functions_serve_reads_without_the_preprocessing_layer(
    function: str, api: Api, settings: Settings, tmp_path: Path
) -> None:
    user = api.user()
    case_id = api.case(user)["case_id"]
    event = load_event("cases_get", ACCESS_TOKEN=user.token, CASE_ID=case_id)
    if function == "api_knowledge":
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/v1/knowledge/documents"
    result = run_with_its_layers(function, [event], settings, tmp_path)
    assert [answer["status"] for answer in result["answers"]] == [200], result["answers"]
