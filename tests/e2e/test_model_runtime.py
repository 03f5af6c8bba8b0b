"""`faultmaven dev` with a model: the real `anthropic` SDK in the runtime's pipeline talks
to the Messages API stub (`FAULTMAVEN_ANTHROPIC_BASE_URL`), as it would to Anthropic."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Runtime, free_port, runtime_env
from tests.e2e.test_local_runtime import HttpxClient
from tests.helpers import Api
from tests.llm_stubs import API_KEY, Fail, MessagesStub, ToolCall


@pytest.fixture(scope="module")
def stub() -> Iterator[MessagesStub]:
    with MessagesStub() as server:
        yield server


@pytest.fixture(scope="module")
def model_runtime(stub: MessagesStub) -> Iterator[Runtime]:
    state_dir = Path(tempfile.mkdtemp(prefix="fmm", dir="/tmp"))
    port = free_port()
    env = runtime_env(
        state_dir,
        port,
        FAULTMAVEN_ANTHROPIC_API_KEY=API_KEY,
        FAULTMAVEN_ANTHROPIC_BASE_URL=stub.base_url,
        FAULTMAVEN_SEED_GLOBAL_KB="false",
        # A short turn, so the deadline test below waits seconds, not 25.
        FAULTMAVEN_AGENT_TURN_DEADLINE_SECONDS="8",
        FAULTMAVEN_LLM_BACKOFF_BASE_SECONDS="0.01",
        FAULTMAVEN_LLM_BACKOFF_MAX_SECONDS="0.02",
    )
    started = Runtime(state_dir=state_dir, env=env, port=port)
    started.start()
    yield started
    started.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


def test_an_upload_is_summarized_by_the_model_and_recorded(
    model_runtime: Runtime, stub: MessagesStub
) -> None:
    from tests.integration.evidence_helpers import upload

    answer = {
        "summary": "edge-proxy timed out on its upstream 50 times at 10:00; the upstream "
        "never answered within 30 s.",
        "key_insights": [
            "upstream timed out after 30s (50 lines)",
            "All errors at 2026-11-22T10:00:00Z",
            "Only edge-proxy is affected",
        ],
    }
    stub.queue(ToolCall(name="record_summary", input=answer))
    api = Api(HttpxClient(model_runtime.base_url))
    owner = api.user("moira")
    case_id = api.case(owner)["case_id"]
    log = b"2026-11-22T10:00:00Z ERROR upstream timed out after 30s user=moira@example.com\n" * 50
    evidence = upload(api, owner, case_id, "edge.log", log)
    assert evidence["status"] == "completed", evidence
    assert evidence["summary"] == answer["summary"]
    assert evidence["summary_origin"]["source"] == "model"
    sent = [r.body for r in stub.requests if r.path.endswith("/v1/messages")]
    assert sent, "the pipeline never called the model"
    assert "moira@example.com" not in json.dumps(sent)
    session_id = evidence["summary_origin"]["history_session_id"]
    summary = api.call("GET", f"/history/sessions/{session_id}/summary", owner)
    assert summary.status_code == 200, summary.text
    stats = summary.json()
    assert stats["llm_interactions"] == 1
    assert stats["total_cost_usd"] > 0


def test_a_question_is_answered_by_the_model_with_citations_and_history(
    model_runtime: Runtime, stub: MessagesStub
) -> None:
    """upload → query → cited answer → hypothesis in the case → history session with the
    LLM and tool interactions, the SDK talking to the stub over HTTP."""
    from tests.integration.agent_helpers import POOL_LOG, ask, session_of
    from tests.integration.evidence_helpers import upload

    api = Api(HttpxClient(model_runtime.base_url))
    owner = api.user("quinn")
    session_id = session_of(api, owner)
    case_id = api.case(owner, title="Checkout requests time out")["case_id"]
    stub.queue(
        ToolCall(
            name="record_summary",
            input={
                "summary": "checkout-api ran out of HikariPool connections from 10:02.",
                "key_insights": [
                    "Connection is not available after 30000ms (21 times)",
                    "active=50, idle=0, waiting=212",
                    "ledger-service answered 503 once",
                ],
            },
        )
    )
    evidence = upload(api, owner, case_id, "checkout-api.log", POOL_LOG.encode())
    assert evidence["status"] == "completed", evidence
    evidence_id = evidence["evidence_id"]
    stub.queue(
        ToolCall(name="read_evidence", input={"evidence_id": evidence_id}),
        ToolCall(
            name="give_answer",
            input={
                "response_type": "HYPOTHESIS_PROPOSAL",
                "content": "The pool is saturated: 50 active, 212 waiting [S1].",
                "confidence": 0.72,
                "cited_source_ids": ["S1"],
                "hypotheses": [
                    {
                        "statement": "A connection leak keeps the HikariPool at its maximum",
                        "category": "data",
                        "likelihood": 0.7,
                        "supporting_source_ids": ["S1"],
                    }
                ],
            },
        ),
    )
    response = ask(api, owner, case_id, session_id, "Why do checkout requests time out?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metadata"]["provider"] == "anthropic" and not body["metadata"]["offline"]
    assert [s["source_id"] for s in body["sources"]] == [f"{evidence_id}#digest"]
    hypotheses = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    assert [h["statement"] for h in hypotheses] == [
        "A connection leak keeps the HikariPool at its maximum"
    ]
    detail = api.call("GET", f"/history/sessions/{body['metadata']['history_session_id']}", owner)
    assert detail.status_code == 200, detail.text
    text = json.dumps(detail.json())
    assert "read_evidence" in text and "search_knowledge" in text and "give_answer" in text
    stats = api.call(
        "GET", f"/history/sessions/{body['metadata']['history_session_id']}/summary", owner
    ).json()
    assert stats["llm_interactions"] == 2 and stats["mcp_communications"] >= 2


def test_a_turn_survives_malformed_output_a_529_storm_and_the_deadline(
    model_runtime: Runtime, stub: MessagesStub
) -> None:
    from tests.integration.agent_helpers import ask, session_of

    api = Api(HttpxClient(model_runtime.base_url))
    owner = api.user("rowan")
    session_id = session_of(api, owner)
    case_id = api.case(owner, title="Payments 500s")["case_id"]

    # Malformed twice: the model's own text, never a 500.
    stub.queue(
        ToolCall(name="give_answer", input={"response_type": "NOPE", "content": "Try a rollback."}),
        ToolCall(name="give_answer", input={"content": 42}),
    )
    malformed = ask(api, owner, case_id, session_id, "what now?")
    assert malformed.status_code == 200, malformed.text
    assert malformed.json()["response_type"] == "GENERAL_RESPONSE"
    assert malformed.json()["content"] == "Try a rollback."

    # Overloaded on every attempt: 503 with Retry-After, and nothing stored.
    stub.queue(*[Fail(529, "overloaded_error") for _ in range(3)])
    storm = ask(api, owner, case_id, session_id, "and now?")
    assert storm.status_code == 503, storm.text
    assert storm.json()["error_code"] == "LLM_UNAVAILABLE" and storm.headers["retry-after"]

    # The model is slower than the turn: a STATUS_UPDATE within the deadline.
    stub.queue(ToolCall(name="list_evidence", input={}, delay=5.5))
    late = ask(api, owner, case_id, session_id, "still there?")
    assert late.status_code == 200, late.text
    assert late.json()["response_type"] == "STATUS_UPDATE"
    assert late.json()["metadata"]["deadline_hit"] is True
    messages = api.call("GET", f"/cases/{case_id}/messages", owner).json()
    assert messages["total"] == 4  # two answered turns; the 503 stored nothing
