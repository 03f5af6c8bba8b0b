"""The investigation state machine file against the code that serves it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from faultmaven.core.settings import Settings
from faultmaven.investigation.models import RunStep
from faultmaven.investigation.statemachine import (
    AFTER_LAST_WAIT_SECONDS,
    EXECUTION_LIMIT_SECONDS,
    TASK_HANDLERS,
    definition_path,
)
from faultmaven.preprocessing.statemachine import placeholders

ROOT = Path(__file__).resolve().parents[2]


def test_the_execution_limit_is_the_runners_and_outlasts_the_longest_wait() -> None:
    definition = json.loads(definition_path(ROOT).read_text())
    assert definition["TimeoutSeconds"] == EXECUTION_LIMIT_SECONDS
    longest = Settings.model_fields["investigation_evidence_wait_seconds"].metadata
    most = max(m.le for m in longest if hasattr(m, "le"))
    assert most + AFTER_LAST_WAIT_SECONDS <= EXECUTION_LIMIT_SECONDS


def test_every_placeholder_is_a_handler_of_functions_investigate() -> None:
    text = definition_path(ROOT).read_text()
    assert placeholders(text) == set(TASK_HANDLERS)
    module = ast.parse((ROOT / "functions" / "investigate" / "handler.py").read_text())
    defined = {node.name for node in module.body if isinstance(node, ast.FunctionDef)}
    assert set(TASK_HANDLERS.values()) <= defined


def test_the_route_knows_every_step_the_runner_returns() -> None:
    states = json.loads(definition_path(ROOT).read_text())["States"]
    routed = {choice["StringEquals"] for choice in states["Route"]["Choices"]}
    assert routed == {step.value for step in RunStep}
