"""The Summarize step asks the model (the real `anthropic` SDK against the Messages stub)
and falls back to the deterministic summary on any failure, saying so; each run is a
history session with its stage and interactions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from faultmaven.container import Container, build_container
from faultmaven.db.tables import Evidence
from tests.helpers import Api, User
from tests.integration.agent_helpers import stub_settings
from tests.integration.evidence_helpers import upload
from tests.llm_stubs import Fail, MessagesStub, ToolCall

LOG = (
    "2026-12-01T10:00:01Z ERROR payments-api db pool exhausted: timeout after 30s "
    "password=Hunter2-Sup3rSecret! host=10.1.2.3\n"
    "2026-12-01T10:00:02Z ERROR payments-api db pool exhausted: timeout after 30s\n"
    "2026-12-01T10:00:03Z WARN payments-api retrying checkout for alice.cooper@example.org\n"
    "2026-12-01T10:00:09Z ERROR payments-api upstream 503 from ledger-service\n"
) * 5

GOOD = {
    "summary": "payments-api exhausted its database pool from 10:00:01; checkout retries "
    "followed and ledger-service answered 503.",
    "key_insights": [
        "db pool exhausted: timeout after 30s (10 times)",
        "ledger-service returned 503 (5 times)",
        "First error at 10:00:01Z",
    ],
}


@pytest.fixture
def model_container(container: Container, messages_stub: MessagesStub) -> Iterator[Container]:
    """The same stores as the suite's container, with the Anthropic provider pointed at
    the stub: its steps run the pipeline's code with a model."""
    wired = build_container(stub_settings(container.settings, messages_stub.base_url))
    yield wired
    wired.close()


def uploaded(api: Api) -> tuple[User, str, dict[str, Any]]:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    evidence = upload(api, owner, case_id, "payments.log", LOG.encode())
    assert evidence["status"] == "completed", evidence
    return owner, case_id, evidence


def resummarize(container: Container, evidence_id: str) -> dict[str, Any]:
    """Run the steps up to Summarize again, with `container`'s model."""
    with container.database.session() as session:
        row = session.scalars(select(Evidence).where(Evidence.evidence_id == evidence_id)).one()
        state: dict[str, Any] = {
            "evidence_id": evidence_id,
            "case_id": row.case_id,
            "job_id": row.job_id,
            "key": row.s3_key,
            "size_bytes": row.size_bytes,
        }
    steps = container.preprocessing
    state = steps.classify(state)
    state = steps.extract_logs(state)
    state = steps.redact(state)
    return steps.summarize(state)


def evidence_of(api: Api, owner: User, evidence_id: str) -> dict[str, Any]:
    answer = api.call("GET", f"/evidence/{evidence_id}", owner)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_without_a_model_the_offline_analyst_keeps_the_deterministic_summary_and_says_so(
    api: Api,
) -> None:
    owner, case_id, evidence = uploaded(api)
    origin = evidence["summary_origin"]
    assert origin["source"] == "offline"
    assert origin["provider"] == "offline"
    sessions = api.call("GET", f"/history/sessions?case_id={case_id}", owner)
    assert sessions.status_code == 200, sessions.text
    (overview,) = sessions.json()["sessions"]
    assert overview["agent_type"] == "preprocessing"
    assert overview["session_id"] == origin["history_session_id"]
    detail = api.call("GET", f"/history/sessions/{overview['session_id']}", owner).json()
    (stage,) = detail["stages"]
    assert stage["stage_id"] == "summarize"
    assert stage["status"] == "completed"
    (interaction,) = stage["llm_interactions"]
    assert interaction["details"]["success"] is True
    assert interaction["details"]["model_name"] == "offline-analyst-1"


def test_the_models_summary_is_stored_with_its_origin(
    api: Api, model_container: Container, messages_stub: MessagesStub
) -> None:
    owner, _, evidence = uploaded(api)
    messages_stub.queue(ToolCall(name="record_summary", input=GOOD))
    resummarize(model_container, evidence["evidence_id"])
    after = evidence_of(api, owner, evidence["evidence_id"])
    assert after["summary"] == GOOD["summary"]
    assert after["insights"] == GOOD["key_insights"]
    assert after["summary_origin"]["source"] == "model"
    assert after["summary_origin"]["provider"] == "anthropic"
    (sent,) = [r.body for r in messages_stub.requests if r.path.endswith("/v1/messages")]
    assert sent["tool_choice"] == {"type": "tool", "name": "record_summary"}
    prompt = json.dumps(sent)
    assert "pool exhausted" in prompt  # the extraction was given
    for secret in ("Hunter2-Sup3rSecret!", "alice.cooper@example.org", "10.1.2.3"):
        assert secret not in prompt


def test_an_answer_that_does_not_fit_gets_one_repair_then_the_deterministic_summary(
    api: Api, model_container: Container, messages_stub: MessagesStub
) -> None:
    owner, _, evidence = uploaded(api)
    deterministic = evidence["summary"]
    bad = {"summary": "short", "key_insights": ["only one"]}
    messages_stub.queue(
        ToolCall(name="record_summary", input=bad), ToolCall(name="record_summary", input=bad)
    )
    resummarize(model_container, evidence["evidence_id"])
    calls = [r.body for r in messages_stub.requests if r.path.endswith("/v1/messages")]
    assert len(calls) == 2
    repair = calls[1]["messages"][-1]["content"][0]
    assert repair["type"] == "tool_result"
    assert repair["is_error"] is True
    assert "key_insights" in repair["content"]
    after = evidence_of(api, owner, evidence["evidence_id"])
    assert after["summary"] == deterministic
    assert after["summary_origin"]["source"] == "deterministic"
    assert after["summary_origin"]["fallback_reason"] == "invalid_answer"


def test_a_repaired_answer_is_used(
    api: Api, model_container: Container, messages_stub: MessagesStub
) -> None:
    owner, _, evidence = uploaded(api)
    messages_stub.queue(
        ToolCall(name="record_summary", input={"summary": "x"}),
        ToolCall(name="record_summary", input=GOOD),
    )
    resummarize(model_container, evidence["evidence_id"])
    after = evidence_of(api, owner, evidence["evidence_id"])
    assert after["summary"] == GOOD["summary"]
    assert after["summary_origin"]["source"] == "model"


def test_a_model_that_stays_down_leaves_the_deterministic_summary_and_the_failed_attempts(
    api: Api, model_container: Container, messages_stub: MessagesStub
) -> None:
    owner, _, evidence = uploaded(api)
    deterministic = evidence["summary"]
    messages_stub.queue(*[Fail(529, "overloaded_error")] * 3)
    resummarize(model_container, evidence["evidence_id"])
    after = evidence_of(api, owner, evidence["evidence_id"])
    assert after["summary"] == deterministic
    origin = after["summary_origin"]
    assert origin["fallback_reason"] == "LLM_UNAVAILABLE"
    detail = api.call("GET", f"/history/sessions/{origin['history_session_id']}", owner).json()
    attempts = [i for s in detail["stages"] for i in s["llm_interactions"]]
    assert [i["details"]["success"] for i in attempts][-3:] == [False, False, False]


def test_what_the_model_writes_is_redacted_before_it_is_stored(
    api: Api, model_container: Container, messages_stub: MessagesStub
) -> None:
    owner, _, evidence = uploaded(api)
    leaky = {
        "summary": "Pool exhausted; contact ops-lead@corp.example.com about it today.",
        "key_insights": [*GOOD["key_insights"][:2], "token ghp_" + "a1B2c3D4e5" * 4],
    }
    messages_stub.queue(ToolCall(name="record_summary", input=leaky))
    resummarize(model_container, evidence["evidence_id"])
    after = evidence_of(api, owner, evidence["evidence_id"])
    stored = json.dumps(after)
    assert "ops-lead@corp.example.com" not in stored
    assert "a1B2c3D4e5" * 4 not in stored
    assert after["summary_origin"]["source"] == "model"
