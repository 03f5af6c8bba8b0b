"""A long conversation: the memory stays within its budget and early facts stay reachable;
every few turns the model compresses it (and a failed compression keeps the draft)."""

from __future__ import annotations

from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import AgentMemory
from tests.helpers import Api
from tests.integration.agent_helpers import Factory, ask, case_with_log, session_of
from tests.integration.test_agent_model_turn import answer
from tests.llm_stubs import Fail, MessagesStub, ToolCall

TURN_2_FACT = "we raised maximumPoolSize from 50 to 80 on payments-db at 09:58"
QUESTIONS = [
    "Why do checkout requests time out?",
    f"Context: {TURN_2_FACT}. Does that change anything?",
    "Which service calls the ledger?",
    "How many requests waited for a connection?",
    "When did the errors start?",
    "Is the ledger 503 related?",
    "What should I check in pg_stat_activity?",
    "Could a long transaction hold connections?",
    "What does the runbook say about pool size?",
    "Should we roll back release 4.2.1?",
]


def test_thirty_turns_keep_the_memory_small_and_turn_two_reachable(
    api: Api,
    container: Container,
    model_api: Factory,
    messages_stub: MessagesStub,
) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, evidence = case_with_log(api, owner)
    memory_tokens = []
    for turn in range(1, 30):
        response = ask(
            api,
            owner,
            case_id,
            session_id,
            QUESTIONS[turn % len(QUESTIONS)] if turn != 2 else QUESTIONS[1],
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["metadata"]["turn"] == turn
        memory_tokens.append(body["view_state"]["memory_context"]["tokens"])
    assert max(memory_tokens) <= 1_600
    assert max(memory_tokens) <= container.settings.agent_memory_budget_tokens
    with container.database.session() as session:
        row = session.scalars(select(AgentMemory).where(AgentMemory.case_id == case_id)).one()
        assert row.turn == 29
        # The source cited in turn 2 is still remembered with its snippet.
        assert f"{evidence['evidence_id']}#digest" in row.state["cited_sources"]

    # Turn 30, with a model: turn 2's fact is one tool call away.
    messages_stub.queue(
        ToolCall(name="search_conversation", input={"query": "maximumPoolSize raised 80"}),
        answer(content="You raised the pool to 80 at 09:58."),
    )
    last = ask(model_api(), owner, case_id, session_id, "What did we change on the pool?")
    assert last.status_code == 200, last.text
    assert last.json()["metadata"]["turn"] == 30
    turn_calls = [
        r.body
        for r in messages_stub.requests
        if r.body.get("system", [{}])[0].get("text", "").startswith("You are FaultMaven")
    ]
    results = [
        block["content"]
        for block in turn_calls[-1]["messages"][-1]["content"]
        if block.get("type") == "tool_result"
    ]
    assert any(TURN_2_FACT in r for r in results)
    first_prompt = turn_calls[-2]["messages"][0]["content"][0]["text"]
    assert "<memory>" in first_prompt


def test_every_third_turn_the_model_compresses_the_memory(
    api: Api,
    container: Container,
    model_api: Factory,
    messages_stub: MessagesStub,
) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, _ = case_with_log(api, owner)
    model = model_api()
    summary = "Checkout times out: HikariPool at 50 active; suspect a connection leak."
    messages_stub.queue(
        answer(content="one"),
        answer(content="two"),
        answer(content="three"),
        ToolCall(
            name="record_memory",
            input={"running_summary": summary, "persistent_insights": ["pool max is 50"]},
        ),
        answer(content="four"),
        answer(content="five"),
        answer(content="six"),
        Fail(400, "invalid_request_error"),
    )
    for turn in range(1, 7):
        response = ask(model, owner, case_id, session_id, f"question {turn}")
        assert response.status_code == 200, response.text
        with container.database.session() as session:
            state = session.get(AgentMemory, case_id)
            assert state is not None
            if turn == 3:
                assert state.state["running_summary"] == summary
                assert state.state["persistent_insights"] == ["pool max is 50"]
            if turn == 6:
                # The model failed: the deterministic compression was kept.
                assert state.state["last_compression_turn"] == 6
                assert state.state["running_summary"] != summary
    assert any(
        r.body.get("tool_choice", {}).get("name") == "record_memory" for r in messages_stub.requests
    )
