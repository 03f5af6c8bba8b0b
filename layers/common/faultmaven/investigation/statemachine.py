"""The investigation state machine's definition file and the Lambda functions its
`${Placeholders}` name (functions/investigate/handler.py), shared by CDK, the local
runtime and the tests. Rendering is the preprocessing machine's (same placeholders)."""

from __future__ import annotations

from pathlib import Path

# Placeholder → the function in functions/investigate/handler.py that serves it.
TASK_HANDLERS: dict[str, str] = {
    "BeginFunctionArn": "begin",
    "PhaseFunctionArn": "phase",
    "ValidateFunctionArn": "validate",
    "VerdictFunctionArn": "verdict",
    "WaitFunctionArn": "wait",
    "ResumeFunctionArn": "resume",
    "TimedOutFunctionArn": "timed_out",
    "FinishFunctionArn": "finish",
    "FailedFunctionArn": "failed",
}
STATE_MACHINE_NAME = "faultmaven-investigation"
# The execution's own limit (the ASL's TimeoutSeconds): the longest evidence wait the
# settings allow plus a day. A run never waits past it (the runner shortens the last wait),
# so it ends through its Finish state and records why, rather than being cut off.
EXECUTION_LIMIT_SECONDS = 8 * 86_400
# Kept for the work after the last wait: the resumed phases and the Finish state.
AFTER_LAST_WAIT_SECONDS = 3_600


def definition_path(root: Path) -> Path:
    return root / "infra" / "statemachines" / "investigation.asl.json"


def function_name(handler_attr: str) -> str:
    return "faultmaven-investigate-" + handler_attr.replace("_", "-")
