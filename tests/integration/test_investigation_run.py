"""The autonomous investigation on Step Functions, executed by moto with every task
dispatched to the real handlers in functions/investigate."""

from __future__ import annotations

import time
from typing import Any

from faultmaven.container import Container
from tests.helpers import Api, User
from tests.integration.agent_helpers import case_with_log


def investigation(api: Api, owner: User, case_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    return body


def wait_for_run(api: Api, owner: User, case_id: str, *, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = investigation(api, owner, case_id)["runs"]
        if runs and runs[-1]["status"] != "running":
            return runs[-1]
        time.sleep(0.2)
    raise AssertionError(f"the run did not end: {investigation(api, owner, case_id)}")


def test_offline_run_goes_through_the_phases(api: Api, container: Container) -> None:
    owner = api.user()
    case_id, _ = case_with_log(api, owner)
    consent = api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json={})
    assert consent.status_code == 200, consent.text
    started = api.call("POST", f"/cases/{case_id}/investigation/run", owner)
    assert started.status_code == 202, started.text
    run = wait_for_run(api, owner, case_id)
    state = investigation(api, owner, case_id)
    print(run)
    print(state["phase"], state["status"], state["transitions"])
    assert run["status"] in {"done", "stalled"}
