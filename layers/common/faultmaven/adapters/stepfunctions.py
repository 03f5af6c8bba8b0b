"""Step Functions behind the `Workflow` port."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from faultmaven.adapters.aws import client
from faultmaven.core.settings import Settings


class StepFunctionsWorkflow:
    def __init__(self, settings: Settings, state_machine_arn: str) -> None:
        self._settings = settings
        self._arn = state_machine_arn

    def start(self, name: str, payload: Mapping[str, Any]) -> bool:
        sfn = client("stepfunctions", self._settings)
        try:
            sfn.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def resume(self, token: str, output: Mapping[str, Any]) -> bool:
        sfn = client("stepfunctions", self._settings)
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except (
            sfn.exceptions.TaskTimedOut,
            sfn.exceptions.TaskDoesNotExist,
            sfn.exceptions.InvalidToken,
        ):
            return False
        return True

    def abandon(self, token: str, error: str, cause: str) -> bool:
        sfn = client("stepfunctions", self._settings)
        try:
            sfn.send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])
        except (
            sfn.exceptions.TaskTimedOut,
            sfn.exceptions.TaskDoesNotExist,
            sfn.exceptions.InvalidToken,
        ):
            return False
        return True
