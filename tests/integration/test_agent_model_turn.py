"""The chat turn with a model: the real `anthropic` SDK against the Messages stub. The
tool loop, the answer's validation and repair, citations checked against the context,
and what the turn does when the provider storms, the deadline comes or a budget is spent."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import HistoryLLMInteraction, HistoryStage, HistoryToolInteraction
from tests.helpers import Api, User, assert_envelope
from tests.integration.agent_helpers import Factory, add_runbook, ask, case_with_log, session_of
from tests.llm_stubs import Fail, MessagesStub, Text, ToolCall


def answer(**fields: Any) -> ToolCall:
    body = {"response_type": "ANSWER", "content": "See the evidence.", **fields}
    return ToolCall(name="give_answer", input=body)


def prepared(api: Api, suite_api: Api) -> tuple[User, str, str, dict[str, Any]]:
    """A user, a session and a case with a processed log (uploaded through the suite's
    app, whose pipeline runs offline), asked through the model-backed app."""
    owner = suite_api.user()
    session_id = session_of(suite_api, owner)
    case_id, evidence = case_with_log(suite_api, owner)
    return owner, session_id, case_id, evidence


def sent_text(body: dict[str, Any]) -> str:
    return json.dumps(body)


def test_a_turn_with_a_tool_call_cites_what_it_read(
    model_api: Factory, api: Api, messages_stub: MessagesStub, container: Container
) -> None:
    owner, session_id, case_id, evidence = prepared(api, api)
    add_runbook(api, owner)
    evidence_id = evidence["evidence_id"]
    messages_stub.queue(
        ToolCall(name="read_evidence", input={"evidence_id": evidence_id, "limit": 2000}),
        answer(
            response_type="HYPOTHESIS_PROPOSAL",
            content=f"The pool is exhausted (active=50, waiting=212) [S1]. See {evidence_id}.",
            confidence=0.7,
            cited_source_ids=["S1", f"{evidence_id}#chars-0-2000"],
            hypotheses=[
                {
                    "statement": "Connections leak: the HikariPool stays at 50 active",
                    "category": "data",
                    "likelihood": 0.7,
                    "supporting_source_ids": [f"{evidence_id}#digest"],
                }
            ],
            suggested_commands=[
                {"command": "SELECT * FROM pg_stat_activity", "safety": "read_only"}
            ],
        ),
    )
    model = model_api()
    response = ask(model, owner, case_id, session_id, "Why do checkout requests time out?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "HYPOTHESIS_PROPOSAL"
    assert body["metadata"]["provider"] == "anthropic" and body["metadata"]["offline"] is False
    assert body["metadata"]["model_calls"] == 2 and body["metadata"]["tool_calls"] == 1
    assert body["metadata"]["input_tokens"] > 0
    cited = {s["source_id"] for s in body["sources"]}
    assert {f"{evidence_id}#digest", f"{evidence_id}#chars-0-2000"} <= cited
    assert body["structured_data"]["hypotheses"][0]["created_this_turn"] is True
    assert body["suggested_commands"][0]["command"].startswith("SELECT")
    hypotheses = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    assert [h["statement"] for h in hypotheses] == [
        "Connections leak: the HikariPool stays at 50 active"
    ]
    assert hypotheses[0]["supporting_evidence"][0].startswith(f"{evidence_id}#digest")
    # What the model received: the cached prefix, the evidence digest, the runbook, and the
    # tool's result in the second call.
    first, second = (r.body for r in messages_stub.requests[-2:])
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert first["tools"][-1]["name"] == "give_answer"
    assert first["tool_choice"] == {"type": "any"}
    prompt = sent_text(first)
    assert "Connection is not available" in prompt and "pg_stat_activity" in prompt
    assert "bob@example.org" not in prompt
    assert any(
        block.get("type") == "tool_result"
        for message in second["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
    )
    # The history: two model calls and two tool interactions (retrieval, read_evidence).
    history_id = body["metadata"]["history_session_id"]
    with container.database.session() as session:
        llm = session.scalars(
            select(HistoryLLMInteraction).where(HistoryLLMInteraction.session_id == history_id)
        ).all()
        tools = session.scalars(
            select(HistoryToolInteraction).where(HistoryToolInteraction.session_id == history_id)
        ).all()
    assert len(llm) == 2
    assert sorted(t.tool_name for t in tools) == ["read_evidence", "search_knowledge"]


def test_citations_of_what_was_not_shown_are_dropped_and_recorded(
    model_api: Factory, api: Api, messages_stub: MessagesStub, container: Container
) -> None:
    owner, session_id, case_id, evidence = prepared(api, api)
    messages_stub.queue(
        answer(
            content="It is DNS [S99].",
            cited_source_ids=[
                "S99",
                "evd_00000000000000000000000000000000#digest",
                f"{evidence['evidence_id']}#digest",
            ],
        )
    )
    body = ask(model_api(), owner, case_id, session_id, "Is it DNS?").json()
    assert [s["source_id"] for s in body["sources"]] == [f"{evidence['evidence_id']}#digest"]
    with container.database.session() as session:
        stage = session.scalars(
            select(HistoryStage).where(
                HistoryStage.session_id == body["metadata"]["history_session_id"]
            )
        ).one()
    assert set(stage.stage_output["hallucinated_citations"]) == {
        "S99",
        "evd_00000000000000000000000000000000#digest",
    }


def test_an_answer_that_does_not_validate_is_repaired_once(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    messages_stub.queue(
        ToolCall(name="give_answer", input={"response_type": "MAYBE", "content": ""}),
        answer(content="Fixed: the pool is exhausted."),
    )
    body = ask(model_api(), owner, case_id, session_id, "why?").json()
    assert body["response_type"] == "ANSWER"
    assert body["content"] == "Fixed: the pool is exhausted."
    repair = messages_stub.requests[-1].body
    assert repair["tool_choice"] == {"type": "tool", "name": "give_answer"}
    assert "did not validate" in sent_text(repair)


def test_an_answer_that_never_validates_is_a_general_response_with_the_text(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    messages_stub.queue(
        ToolCall(name="give_answer", input={"response_type": "MAYBE", "content": "Pool [S1]."}),
        ToolCall(name="give_answer", input={"content": "Still the pool [S1].", "confidence": 7}),
    )
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "GENERAL_RESPONSE"
    assert body["content"] == "Still the pool [S1]."
    assert body["metadata"]["fallback_reason"] == "invalid_answer"
    assert body["structured_data"]["validation_errors"]
    assert body["sources"]  # the handle in the text still cites
    messages = api.call("GET", f"/cases/{case_id}/messages", owner).json()["items"]
    assert messages[-1]["metadata"]["response_type"] == "GENERAL_RESPONSE"


def test_prose_instead_of_the_tool_is_kept(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    messages_stub.queue(Text("The pool is exhausted."), Text("Really, the pool."))
    body = ask(model_api(), owner, case_id, session_id, "why?").json()
    assert body["response_type"] == "GENERAL_RESPONSE"
    assert body["content"] == "Really, the pool."


def test_the_same_call_twice_is_refused_and_a_large_result_is_cut(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, evidence = prepared(api, api)
    read = {"evidence_id": evidence["evidence_id"], "limit": 12000}
    messages_stub.queue(
        ToolCall(name="read_evidence", input=read),
        ToolCall(name="read_evidence", input=read),
        answer(),
    )
    ask(model_api(agent_tool_result_tokens=200), owner, case_id, session_id, "why?")
    second, third = (r.body for r in messages_stub.requests[-2:])
    first_result = second["messages"][-1]["content"][0]
    assert (
        "Result cut at" in first_result["content"]
        and "smaller `limit`" in (first_result["content"])
    )
    refused = third["messages"][-1]["content"][0]
    assert refused["is_error"] is True and "already made" in refused["content"]


def test_tools_read_only_the_turns_case(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    other = api.user()
    _, foreign = case_with_log(api, other)
    messages_stub.queue(
        ToolCall(name="read_evidence", input={"evidence_id": foreign["evidence_id"]}),
        answer(),
    )
    ask(model_api(), owner, case_id, session_id, "why?")
    result = messages_stub.requests[-1].body["messages"][-1]["content"][0]
    assert result["is_error"] is True
    assert "Connection is not available" not in result["content"]


def test_a_529_storm_is_a_503_and_nothing_is_stored(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    messages_stub.queue(*[Fail(529, "overloaded_error") for _ in range(10)])
    response = ask(model_api(), owner, case_id, session_id, "why?")
    body = assert_envelope(response, 503, "LLM_UNAVAILABLE")
    assert int(response.headers["retry-after"]) >= 1
    assert body["details"]["reason"] == "providers_failed"
    assert api.call("GET", f"/cases/{case_id}/messages", owner).json()["total"] == 0


def test_when_the_deadline_comes_first_the_turn_answers_with_what_it_has(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, evidence = prepared(api, api)
    messages_stub.queue(
        ToolCall(name="list_evidence", input={}, delay=3.5),
        answer(content="too late"),
    )
    response = ask(
        model_api(agent_turn_deadline_seconds=6, llm_max_attempts=1),
        owner,
        case_id,
        session_id,
        "Why do checkout requests time out?",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "STATUS_UPDATE"
    assert body["metadata"]["deadline_hit"] is True
    assert "ran out of this turn's time" in body["content"]
    assert f"{evidence['evidence_id']}#digest" in {s["source_id"] for s in body["sources"]}
    assert body["structured_data"]["reason"] == "deadline"


def test_a_spent_budget_is_a_402(model_api: Factory, api: Api, messages_stub: MessagesStub) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    response = ask(model_api(llm_case_budget_tokens=500), owner, case_id, session_id, "why?")
    assert_envelope(response, 402, "LLM_BUDGET_EXHAUSTED")
    assert api.call("GET", f"/cases/{case_id}/messages", owner).json()["total"] == 0


def test_three_blocked_requests_stall_the_investigation(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    wanted = [
        {"label": label, "description": f"{label} of checkout-api", "category": category}
        for label, category in (
            ("Pool metrics", "metrics"),
            ("Recent deploys", "changes"),
            ("Pool configuration", "configuration"),
        )
    ]
    messages_stub.queue(
        answer(response_type="NEEDS_MORE_DATA", content="I need more.", evidence_requests=wanted)
    )
    body = ask(
        model_api(), owner, case_id, session_id, "Investigate, please.", consent_to_investigate=True
    ).json()
    assert body["response_type"] == "NEEDS_MORE_DATA", body
    requests = body["evidence_requests"]
    assert [r["category"] for r in requests] == ["metrics", "changes", "configuration"]
    assert body["structured_data"]["evidence_request_ids"] == [r["request_id"] for r in requests]
    for index, request in enumerate(requests):
        moved = api.call(
            "POST",
            f"/cases/{case_id}/evidence-requests/{request['request_id']}/status",
            owner,
            json={"status": "blocked", "reason": "not available"},
        )
        assert moved.status_code == 200, moved.text
        status = api.call("GET", f"/cases/{case_id}", owner).json()["status"]
        assert status == ("stalled" if index == 2 else "investigating")
