"""The autonomous investigation on Step Functions, executed by moto with every task
dispatched to the real handlers in functions/investigate (which build their container from
the environment, as on Lambda): a scripted model drives a whole run through every phase,
parking twice on a task token that an upload and a chat answer resume; a wait that times
out stalls the run; a request the user blocks fails the wait and the run goes on."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from faultmaven.app import create_app
from faultmaven.container import Container, build_container
from faultmaven.core.settings import Settings
from faultmaven.db.tables import HistoryStage
from faultmaven.local.aws import export_environment
from tests.conftest import make_settings
from tests.helpers import Api, User, assert_envelope, wait_until
from tests.integration.agent_helpers import ask, case_with_log, session_of
from tests.integration.evidence_helpers import upload
from tests.llm_stubs import API_KEY, MessagesStub, ToolCall

FRAME = {
    "what_is_broken": "checkout",
    "expected_behaviour": "p99 under 300 ms",
    "actual_behaviour": "requests time out after 30 s",
    "impact": "12% of orders fail",
    "scope": "all regions",
}
LEAK = "A connection leak in checkout-api v412 keeps the pool at its maximum"
SLOW_DB = "The orders database is slow since its index was dropped"
DEPLOYS = (
    "Recent deployments of checkout-api since Monday (deploy history):\n"
    "2026-12-01T09:58:00Z checkout-api v412 deployed by ci (connection handling refactor)\n"
)

Functions = Callable[..., Settings]


def answer(**fields: Any) -> ToolCall:
    body = {
        "response_type": "ANSWER",
        "content": "Working on it.",
        "working_conclusion": {"statement": "The pool is exhausted", "confidence": 0.5},
        **fields,
    }
    return ToolCall(name="give_answer", input=body)


@pytest.fixture(autouse=True)
def no_run_left_running(container: Container) -> Iterator[None]:
    """Every execution a test started has ended before the next test: a parked or
    still-running execution would go on writing to the suite's stores later."""
    yield
    from faultmaven.adapters.aws import client

    sfn = client("stepfunctions", container.settings)
    arn = container.settings.investigation_state_machine_arn
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
        if not running:
            return
        time.sleep(0.2)
    for execution in running:
        sfn.stop_execution(executionArn=execution["executionArn"])


@pytest.fixture
def functions(container: Container) -> Iterator[Functions]:
    """Re-point the functions' own settings (the environment) for one test; restored
    afterwards, for the rest of the suite."""

    def configure(**overrides: Any) -> Settings:
        settings = make_settings(
            container.settings.database_url or "",
            container.settings.redis_url or "",
            aws_endpoint_url=container.settings.aws_endpoint_url,
            preprocessing_state_machine_arn=container.settings.preprocessing_state_machine_arn,
            investigation_state_machine_arn=container.settings.investigation_state_machine_arn,
            llm_summaries=False,
            agent_compression_every=50,
            **overrides,
        )
        export_environment(settings)
        return settings

    yield configure
    export_environment(container.settings)


@pytest.fixture
def scripted(functions: Functions, messages_stub: MessagesStub) -> Settings:
    """Functions and API process both talk to the scripted model."""
    return functions(
        llm_provider="anthropic",
        anthropic_api_key=API_KEY,
        anthropic_base_url=messages_stub.base_url,
        llm_backoff_base_seconds=0.01,
        llm_backoff_max_seconds=0.02,
        investigation_evidence_wait_seconds=300,
    )


def investigation(api: Api, owner: User, case_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    return body


def ended_run(api: Api, owner: User, case_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        runs = investigation(api, owner, case_id)["runs"]
        return runs[-1] if runs and runs[-1]["status"] != "running" else None

    run: dict[str, Any] = wait_until(ended, "the run to end")
    return run


def parked(api: Api, owner: User, job_id: str) -> bool:
    """The run's job says it waits for evidence (a finished job redirects: 303)."""
    job = api.call("GET", f"/jobs/{job_id}", owner, follow_redirects=False)
    if job.status_code != 200:
        assert job.status_code == 303, job.text
        ended = api.call("GET", job.headers["location"].removeprefix("/api/v1"), owner).json()
        raise AssertionError(f"the run ended: {ended['runs'][-1]}")
    return bool(job.json().get("stage") == "awaiting evidence")


def open_requests(api: Api, owner: User, case_id: str) -> list[dict[str, Any]]:
    page = api.call("GET", f"/cases/{case_id}/evidence-requests?open=true", owner).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def stages_of(container: Container, history_id: str) -> list[str]:
    with container.database.session() as session:
        return list(
            session.scalars(
                select(HistoryStage.stage_id)
                .where(HistoryStage.session_id == history_id)
                .order_by(HistoryStage.stage_index)
            ).all()
        )


def start(api: Api, owner: User, case_id: str, **consent: Any) -> dict[str, Any]:
    agreed = api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json=consent)
    assert agreed.status_code == 200, agreed.text
    started = api.call("POST", f"/cases/{case_id}/investigation/run", owner)
    assert started.status_code == 202, started.text
    assert started.headers["location"] == f"/api/v1/jobs/{started.json()['job_id']}"
    run: dict[str, Any] = started.json()
    return run


def test_a_scripted_run_goes_through_every_phase_and_waits_for_evidence_twice(
    api: Api, container: Container, scripted: Settings, messages_stub: MessagesStub
) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, log = case_with_log(api, owner)
    digest = f"{log['evidence_id']}#digest"
    messages_stub.queue(
        # Phase 1 → 2 on the whole frame; phase 2 asks for the deploy history and parks.
        answer(anomaly_frame=FRAME),
        answer(
            response_type="NEEDS_MORE_DATA",
            timeline={"started_at": "2026-12-01T10:02:05Z"},
            evidence_requests=[
                {
                    "label": "Recent deployments",
                    "description": "The deploy history of checkout-api since Monday",
                    "category": "changes",
                    "priority": 1,
                }
            ],
        ),
    )
    run = start(api, owner, case_id)
    assert run["status"] == "running" and run["execution_name"].endswith("-r1")
    again = api.call("POST", f"/cases/{case_id}/investigation/run", owner)
    assert again.status_code == 202 and again.json()["job_id"] == run["job_id"]
    wait_until(lambda: parked(api, owner, run["job_id"]), "the run to park on the deploy request")
    request = open_requests(api, owner, case_id)[0]
    assert "task_token" not in request
    # The upload answers it (the model classifies it), which resumes the run: the
    # timeline is complete, two hypotheses, the leak validated in the Map, a fix proposed
    # and a confirmation asked for.
    read = ToolCall(name="read_evidence", input={"evidence_id": log["evidence_id"], "limit": 500})
    messages_stub.queue(
        ToolCall(
            name="classify_evidence",
            input={
                "matched_request_ids": [request["request_id"], "er_" + "9" * 32],
                "completeness": "complete",
                "completeness_score": 0.9,
                "stance": "supportive",
                "user_intent": "providing_evidence",
                "rationale": "The deploy list shows v412 three minutes before the errors",
            },
        ),
        answer(
            timeline={
                "changes_considered": True,
                "changes": ["checkout-api v412 deployed at 09:58"],
                "events": ["09:58 v412 deployed", "10:02 first pool timeouts"],
            }
        ),
        answer(
            response_type="HYPOTHESIS_PROPOSAL",
            hypotheses=[
                {"statement": LEAK, "category": "code", "likelihood": 0.5},
                {"statement": SLOW_DB, "category": "data", "likelihood": 0.4},
            ],
        ),
        read,
        answer(
            hypotheses=[
                {
                    "statement": LEAK,
                    "supporting_source_ids": [digest, f"{log['evidence_id']}#chars-0-500"],
                }
            ]
        ),
        answer(
            response_type="SOLUTION_READY",
            solutions=[{"title": "Roll back checkout-api to v411", "category": "fix"}],
            evidence_requests=[
                {
                    "label": "Fix confirmation",
                    "description": "Confirm checkout errors stopped after the rollback",
                    "category": "symptoms",
                    "priority": 1,
                }
            ],
        ),
    )
    deploys = upload(api, owner, case_id, "deploys.txt", DEPLOYS.encode())
    received = api.call("GET", f"/cases/{case_id}/evidence-requests", owner).json()["items"]
    assert received[0]["status"] == "received"
    assert received[0]["fulfilled_by"] == [deploys["evidence_id"]]
    assert "by model" in received[0]["status_reason"]

    def confirmation_asked() -> list[dict[str, Any]]:
        waiting = parked(api, owner, run["job_id"])
        return [r for r in open_requests(api, owner, case_id) if waiting]

    confirmation = wait_until(confirmation_asked, "the run to park on the fix confirmation")[0]
    state = investigation(api, owner, case_id)
    assert state["phase"] == 5
    hypotheses = {
        h["statement"]: h
        for h in api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    }
    assert hypotheses[LEAK]["status"] == "validated"
    assert hypotheses[SLOW_DB]["status"] != "validated"  # skipped by the Map, decaying
    # The engineer applies the fix and says so in the chat: that answer resumes the run,
    # which documents the case and ends.
    solution = api.call("GET", f"/cases/{case_id}/solutions", owner).json()["items"][0]
    for status in ("applying", "applied"):
        moved = api.call(
            "PATCH",
            f"/cases/{case_id}/solutions/{solution['solution_id']}",
            owner,
            json={"status": status},
        )
        assert moved.status_code == 200, moved.text
    messages_stub.queue(
        answer(
            fix_verified=True,
            evidence_classification={
                "matched_request_ids": [confirmation["request_id"]],
                "completeness": "complete",
                "completeness_score": 1.0,
                "stance": "supportive",
                "user_intent": "status_update",
                "rationale": "the errors stopped after the rollback",
            },
        ),
        answer(
            response_type="ANSWER",
            root_cause=LEAK,
            working_conclusion={"statement": LEAK, "confidence": 0.9},
        ),
    )
    wired = build_container(scripted)
    with TestClient(create_app(container=wired)) as client:
        chat = ask(
            Api(client),
            owner,
            case_id,
            session_id,
            "Rolled back to v411: the checkout errors stopped after the rollback.",
        )
    wired.close()
    assert chat.status_code == 200, chat.text
    assert chat.json()["phase_transition"]["to"] == 6
    final = ended_run(api, owner, case_id)
    assert final["status"] == "done", final
    state = investigation(api, owner, case_id)
    assert state["status"] == "done" and state["phase"] == 6
    assert [t["to"] for t in state["transitions"]] == [2, 3, 4, 5, 6]
    assert state["classifications"][-1]["classified_by"] == "model"
    job = api.call("GET", f"/jobs/{run['job_id']}", owner, follow_redirects=False)
    assert job.status_code == 303
    assert job.headers["location"] == f"/api/v1/cases/{case_id}/investigation"
    history_id = f"hist_{state['investigation_id'].split('_', 1)[1]}"
    stages = stages_of(container, history_id)
    assert stages[0] == "run-1-begin"
    for expected in (
        "run-1-blast_radius-1",
        "run-1-timeline-2",
        "run-1-await-2",
        "run-1-resume-2",
        "run-1-hypothesis-4",
        "phase-3-to-4",
        "run-1-verdict-5",
        "run-1-solution-6",
        "run-1-document-7",
    ):
        assert expected in stages, (expected, stages)
    assert any(s.startswith("run-1-validate-hyp_") for s in stages)
    history = api.call("GET", f"/history/sessions/{history_id}", owner)
    assert history.status_code == 200 and history.json()["status"] == "completed"
    # The run's own questions are system events in the conversation, not the user's.
    messages = api.call("GET", f"/cases/{case_id}/messages?limit=100", owner).json()["items"]
    assert {m["type"] for m in messages} >= {"system_event", "agent_response", "user_query"}
    assert all(m["author_id"] is None for m in messages if m["type"] == "system_event")
    assert messages_stub.pending() == 0
    # Done is done: no new run.
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/investigation/run", owner), 409, "INVESTIGATION_DONE"
    )


def test_a_wait_that_times_out_stalls_the_run(
    api: Api, container: Container, functions: Functions
) -> None:
    functions(investigation_evidence_wait_seconds=1)
    owner = api.user()
    case_id, _ = case_with_log(api, owner)
    run = start(api, owner, case_id)
    final = ended_run(api, owner, case_id)
    assert final["status"] == "stalled"
    assert "did not arrive within 1 s" in final["reason"]
    state = investigation(api, owner, case_id)
    assert state["status"] == "stalled"
    case = api.call("GET", f"/cases/{case_id}", owner).json()
    assert case["status"] == "stalled"
    job = api.call("GET", f"/jobs/{run['job_id']}", owner, follow_redirects=False)
    assert job.status_code == 303
    # A stalled investigation may be run again: a new execution, r2.
    again = api.call("POST", f"/cases/{case_id}/investigation/run", owner)
    assert again.status_code == 202 and again.json()["execution_name"].endswith("-r2")
    assert ended_run(api, owner, case_id)["run"] == 2
    moves = api.call("GET", f"/cases/{case_id}/status/history?page_size=50", owner).json()["items"]
    assert [(m["from_status"], m["to_status"]) for m in moves][-3:] == [
        ("investigating", "stalled"),
        ("stalled", "investigating"),
        ("investigating", "stalled"),
    ]


def test_blocking_the_awaited_request_fails_the_wait_and_the_run_goes_on(
    api: Api, container: Container, functions: Functions
) -> None:
    functions(investigation_evidence_wait_seconds=300, investigation_max_steps=4)
    owner = api.user()
    case_id, _ = case_with_log(api, owner)
    run = start(api, owner, case_id)
    seen: set[str] = set()

    def next_wait() -> str | None:
        """The new request the run parks on, or "ended"."""
        if investigation(api, owner, case_id)["runs"][-1]["status"] != "running":
            return "ended"
        fresh = [r for r in open_requests(api, owner, case_id) if r["request_id"] not in seen]
        if fresh and parked(api, owner, run["job_id"]):
            return str(fresh[0]["request_id"])
        return None

    while (request_id := wait_until(next_wait, "the run to park or end")) != "ended":
        seen.add(request_id)
        blocked = api.call(
            "POST",
            f"/cases/{case_id}/evidence-requests/{request_id}/status",
            owner,
            json={"status": "blocked", "reason": "no access to production"},
        )
        assert blocked.status_code == 200, blocked.text
    final = investigation(api, owner, case_id)["runs"][-1]
    assert seen, "the run never waited"
    assert final["status"] == "stalled", final
    history_id = f"hist_{investigation(api, owner, case_id)['investigation_id'].split('_', 1)[1]}"
    stages = stages_of(container, history_id)
    assert sum(s.startswith("run-1-resume-") for s in stages) >= 1


def test_a_spent_budget_stops_the_run_cleanly(
    api: Api, functions: Functions, messages_stub: MessagesStub
) -> None:
    functions(
        llm_provider="anthropic",
        anthropic_api_key=API_KEY,
        anthropic_base_url=messages_stub.base_url,
        llm_case_budget_tokens=50,
    )
    owner = api.user()
    case_id, _ = case_with_log(api, owner)
    start(api, owner, case_id)
    final = ended_run(api, owner, case_id)
    assert final["status"] == "budget_exhausted", final
    assert "budget" in final["reason"].lower()
    # Refused before any model call (only the provider's token count was asked).
    assert {r.path for r in messages_stub.requests} <= {"/v1/messages/count_tokens"}
    state = investigation(api, owner, case_id)
    assert state["status"] == "investigating"  # not stalled: more budget lets it go on


def test_no_secret_or_address_in_an_upload_reaches_the_classifying_model(
    model_api: Callable[..., Api], scripted: Settings, messages_stub: MessagesStub
) -> None:
    """The classification prompt quotes the file's name beside its summary: a key or an
    address in either is masked before the model sees it."""
    api = model_api(agent_compression_every=50)
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, _ = case_with_log(api, owner)
    messages_stub.queue(
        answer(
            response_type="NEEDS_MORE_DATA",
            evidence_requests=[
                {
                    "label": "Recent deployments",
                    "description": "The deploy history of checkout-api since Monday",
                    "category": "changes",
                    "priority": 1,
                }
            ],
        )
    )
    asked = ask(api, owner, case_id, session_id, "Checkout times out since this morning")
    assert asked.status_code == 200, asked.text
    [request] = open_requests(api, owner, case_id)
    key_id, address = "AKIAQ7RZ3WXYB5NT2KMD", "dana.kowalski@example.org"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq9Bv3Ts8H"
    body = (
        f"{DEPLOYS}deployed with aws_access_key_id={key_id} "
        f"aws_secret_access_key={secret}, approved by {address}\n"
    )
    sent_before = len(messages_stub.requests)
    messages_stub.queue(
        ToolCall(
            name="classify_evidence",
            input={
                "matched_request_ids": [request["request_id"]],
                "completeness": "complete",
                "completeness_score": 0.9,
                "stance": "supportive",
                "user_intent": "providing_evidence",
                "rationale": "The deploy list answers the request",
            },
        )
    )
    upload(api, owner, case_id, f"deploys-{key_id}-{address}.txt", body.encode())
    received = api.call("GET", f"/cases/{case_id}/evidence-requests", owner).json()["items"]
    assert received[0]["status"] == "received" and "by model" in received[0]["status_reason"]
    classify = [
        r.body
        for r in messages_stub.requests[sent_before:]
        if "classify_evidence" in json.dumps(r.body)
    ]
    assert classify, "the upload was not classified by the model"
    sent = json.dumps(classify)
    assert "deploy" in sent  # the evidence itself did reach it
    for planted in (key_id, secret, address, "kowalski"):
        assert planted not in sent
