"""The preprocessing state machine definition, shared by CDK, the local runtime and the
tests, and the Lambda functions its `${Placeholders}` name."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Placeholder → the function in functions/preprocess/handler.py that serves it.
TASK_HANDLERS: dict[str, str] = {
    "ClassifyFunctionArn": "classify",
    "ExtractLogsFunctionArn": "extract_logs",
    "ExtractGenericFunctionArn": "extract_generic",
    "RedactFunctionArn": "redact",
    "SummarizeFunctionArn": "summarize",
    "IndexFunctionArn": "index",
    "FinalizeFunctionArn": "finalize",
    "MarkFailedFunctionArn": "mark_failed",
}
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def definition_path(root: Path) -> Path:
    return root / "infra" / "statemachines" / "preprocessing.asl.json"


def render(template: str, substitutions: Mapping[str, str]) -> str:
    """Fill `${Name}` placeholders. A regex, not string.Template: `$.Payload` and other
    JSONPath in the definition must stay untouched."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"no substitution for ${{{name}}}")
        return substitutions[name]

    rendered = _PLACEHOLDER.sub(replace, template)
    json.loads(rendered)  # fail here, not inside Step Functions
    return rendered


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def load(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(definition_path(root).read_text())
    return loaded
