"""An outside tester's review of the chat turn (issue 13): other inputs than the lead's
tests — secrets in the client context, odd requests, malformed model output of other
shapes, two turns at once on one case, adversarial memory content, and the contract
fields the issue lists. Each test drives the real HTTP app; the model is the real
`anthropic` SDK against the Messages stub."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import HistoryStage
from tests.helpers import Api, User
from tests.integration.agent_helpers import Factory, add_runbook, ask, case_with_log, session_of
from tests.integration.evidence_helpers import upload
from tests.llm_stubs import MessagesStub, Raw, ToolCall

SECRET = "hunter2-Sup3rSecret"


def answer(**fields: Any) -> ToolCall:
    body = {"response_type": "ANSWER", "content": "See the evidence.", **fields}
    return ToolCall(name="give_answer", input=body)


def prepared(api: Api) -> tuple[User, str, str, dict[str, Any]]:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, evidence = case_with_log(api, owner)
    return owner, session_id, case_id, evidence


def messages_of(api: Api, user: User, case_id: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/cases/{case_id}/messages", user)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# -- secrets -------------------------------------------------------------------------------


def test_a_secret_in_the_client_context_is_not_stored_raw(api: Api) -> None:
    owner, session_id, case_id, _ = prepared(api)
    response = ask(
        api,
        owner,
        case_id,
        session_id,
        "Why do checkout requests time out?",
        context={"selection": f"db password={SECRET} for carol@example.org"},
    )
    assert response.status_code == 200, response.text
    stored = json.dumps(messages_of(api, owner, case_id))
    assert SECRET not in stored
    assert "carol@example.org" not in stored


def test_a_secret_in_the_query_is_not_stored_or_shown(api: Api) -> None:
    owner, session_id, case_id, _ = prepared(api)
    response = ask(api, owner, case_id, session_id, f"is password={SECRET} the problem?")
    assert response.status_code == 200, response.text
    assert SECRET not in response.text
    assert SECRET not in json.dumps(messages_of(api, owner, case_id))


# -- contract ------------------------------------------------------------------------------


def test_every_source_carries_a_confidence(api: Api) -> None:
    """The issue: sources have SourceType, source_id, confidence, snippet, metadata."""
    owner, session_id, case_id, _ = prepared(api)
    add_runbook(api, owner)
    body = ask(api, owner, case_id, session_id, "Why do checkout requests time out?").json()
    assert body["sources"]
    for source in body["sources"]:
        assert isinstance(source["confidence"], float), source


def test_the_stored_messages_carry_author_type_confidence_and_time(api: Api) -> None:
    owner, session_id, case_id, _ = prepared(api)
    ask(api, owner, case_id, session_id, "Why do checkout requests time out?")
    question, reply = messages_of(api, owner, case_id)
    assert question["type"] == "user_query" and question["author_id"] == owner.user_id
    assert reply["type"] == "agent_response"
    assert reply["metadata"]["author"] == "agent"
    assert 0 <= reply["metadata"]["confidence"] <= 1
    assert reply["metadata"]["processing_time_ms"] >= 0


# -- bad and odd input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"timestamp": "yesterday"},
        {"timestamp": "2026-13-45T99:00:00Z"},
        {"priority": "urgent"},
        {"context": "not an object"},
        {"context": {"blob": "x" * 10_000}},
        {"unexpected": True},
        {"session_id": ""},
        {"session_id": "s" * 100},
    ],
)
def test_bad_request_fields_are_a_4xx(api: Api, extra: dict[str, Any]) -> None:
    owner, session_id, case_id, _ = prepared(api)
    response = api.call(
        "POST",
        f"/cases/{case_id}/query",
        owner,
        json={"session_id": session_id, "query": "why?", **extra},
    )
    assert 400 <= response.status_code < 500, response.text
    assert messages_of(api, owner, case_id) == []


@pytest.mark.parametrize(
    "query",
    ["   \n\t  ", "why\u0000?", "x" * (100 * 1024 + 1), "é" * (60 * 1024)],
)
def test_bad_queries_are_a_422(api: Api, query: str) -> None:
    owner, session_id, case_id, _ = prepared(api)
    response = ask(api, owner, case_id, session_id, query)
    assert response.status_code == 422, response.text[:500]


@pytest.mark.parametrize(
    "timestamp", ["2026-12-01T10:00:00", "2026-12-01T10:00:00+05:30", 1764583200, "2026-12-01"]
)
def test_timestamp_formats_are_accepted(api: Api, timestamp: Any) -> None:
    owner, session_id, case_id, _ = prepared(api)
    response = ask(api, owner, case_id, session_id, "why?", timestamp=timestamp)
    assert response.status_code == 200, response.text[:500]


def test_a_100_kib_query_stays_inside_the_context_budget(api: Api) -> None:
    owner, session_id, case_id, _evidence = prepared(api)
    words = " ".join(f"word{i} connection pool timeout" for i in range(4_000))
    query = (words * 3)[: 100 * 1024 - 10]
    response = ask(api, owner, case_id, session_id, query)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["metadata"]["context_tokens"] <= 8_000
    assert body["view_state"]["memory_context"]["tokens"] <= 1_600


def test_unicode_and_emoji_queries_answer(api: Api) -> None:
    owner, session_id, case_id, _ = prepared(api)
    for query in ("Почему запросы оформления заказа завершаются по таймауту? 🔥", "为什么超时？"):
        response = ask(api, owner, case_id, session_id, query)
        assert response.status_code == 200, response.text[:500]
        assert response.json()["content"]


# -- authorization -------------------------------------------------------------------------


def test_who_may_ask(api: Api) -> None:
    owner, session_id, case_id, _ = prepared(api)
    stranger = api.user()
    stranger_session = session_of(api, stranger)
    viewer = api.user()
    api.share(owner, case_id, viewer, "viewer")
    viewer_session = session_of(api, viewer)
    # a stranger, a viewer, someone else's session, a case id given as the session
    assert ask(api, stranger, case_id, stranger_session, "why?").status_code == 404
    assert ask(api, viewer, case_id, viewer_session, "why?").status_code in (403, 404)
    assert ask(api, owner, case_id, stranger_session, "why?").status_code in (403, 404)
    assert ask(api, owner, case_id, case_id, "why?").status_code in (403, 404)
    # an evidence id given as the case
    other_case, other_evidence = case_with_log(api, owner)
    wrong = ask(api, owner, other_evidence["evidence_id"], session_id, "why?")
    assert wrong.status_code in (404, 422), wrong.text
    assert messages_of(api, owner, case_id) == []
    # a deleted case
    assert api.call("DELETE", f"/cases/{other_case}", owner).status_code in (200, 204)
    assert ask(api, owner, other_case, session_id, "why?").status_code in (404, 410)


def test_the_model_cannot_touch_another_cases_hypotheses(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, evidence = prepared(api)
    other = api.user()
    other_case, other_evidence = case_with_log(api, other)
    made = api.call(
        "POST",
        f"/cases/{other_case}/hypotheses",
        other,
        json={"statement": "Their own idea", "category": "data"},
    )
    assert made.status_code == 201, made.text
    foreign = made.json()["hypothesis_id"]
    messages_stub.queue(
        ToolCall(name="read_evidence", input={"evidence_id": other_evidence["evidence_id"]}),
        answer(
            response_type="SOLUTION_READY",
            content="done",
            hypotheses=[
                {
                    "hypothesis_id": foreign,
                    "statement": "Their own idea",
                    "supporting_source_ids": [f"{evidence['evidence_id']}#digest"],
                }
            ],
            solutions=[{"title": "Restart", "hypothesis_id": foreign}],
        ),
    )
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text
    theirs = api.call("GET", f"/cases/{other_case}/hypotheses", other).json()["items"]
    assert [h["supporting_evidence"] for h in theirs] == [[]]
    solutions = api.call("GET", f"/cases/{case_id}/solutions", owner).json()["items"]
    assert all(s["hypothesis_id"] != foreign for s in solutions)
    assert "Connection is not available" not in json.dumps(messages_stub.requests[-1].body)[-3000:]


# -- bad model output ----------------------------------------------------------------------


def _tool_use_message(tool_input: Any, name: str = "give_answer") -> Raw:
    return Raw(
        200,
        {
            "id": "msg_review",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [
                {"type": "tool_use", "id": "toolu_review", "name": name, "input": tool_input}
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        },
    )


@pytest.mark.parametrize(
    "tool_input",
    [
        ["ANSWER", "a list, not an object"],
        "a bare string",
        None,
        {"response_type": "ANSWER", "content": {"nested": "object"}},
        {"response_type": "ANSWER", "content": ["a", "list"]},
        {"response_type": "ANSWER", "content": 42},
        {"response_type": "ANSWER", "content": "ok", "hypotheses": "not a list"},
    ],
)
def test_any_shape_of_answer_input_is_never_a_500(
    model_api: Factory, api: Api, messages_stub: MessagesStub, tool_input: Any
) -> None:
    owner, session_id, case_id, _ = prepared(api)
    messages_stub.queue(_tool_use_message(tool_input), _tool_use_message(tool_input))
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text[:800]
    assert response.json()["response_type"] == "GENERAL_RESPONSE"


@pytest.mark.parametrize(
    "tool_input",
    [["evd_x"], "evd_x", None, {"evidence_id": ["evd_x"], "offset": "zero"}],
)
def test_any_shape_of_tool_input_is_never_a_500(
    model_api: Factory, api: Api, messages_stub: MessagesStub, tool_input: Any
) -> None:
    owner, session_id, case_id, _ = prepared(api)
    messages_stub.queue(_tool_use_message(tool_input, name="read_evidence"), answer())
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text[:800]


def test_an_answer_with_one_bad_hypothesis_category_is_not_a_500(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api)
    bad = answer(
        content="The pool [S1].",
        hypotheses=[{"statement": "pool", "category": "astrology"}],
        evidence_requests=[
            {"label": f"r{i}", "description": "d", "category": "metrics"} for i in range(50)
        ],
    )
    messages_stub.queue(bad, bad)
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text[:800]
    assert response.json()["response_type"] == "GENERAL_RESPONSE"
    assert api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"] == []


def test_a_model_that_never_answers_still_gets_a_reply(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api)
    messages_stub.queue(
        *[ToolCall(name="no_such_tool", input={"q": "x" * 50_000}) for _ in range(8)]
    )
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text[:800]
    body = response.json()
    assert body["response_type"] == "GENERAL_RESPONSE"
    assert body["metadata"]["model_calls"] <= 5


def test_a_secret_in_the_models_answer_is_redacted_everywhere(
    model_api: Factory, api: Api, messages_stub: MessagesStub, container: Container
) -> None:
    owner, session_id, case_id, _evidence = prepared(api)
    messages_stub.queue(
        answer(
            response_type="SOLUTION_READY",
            content=f"Use password={SECRET} to log in.",
            hypotheses=[
                {"statement": f"The password={SECRET} leaked", "rationale": f"token={SECRET}"}
            ],
            solutions=[{"title": "Rotate", "description": f"old password={SECRET}"}],
            suggested_commands=[{"command": f"psql postgres://app:{SECRET}@db/app"}],
        )
    )
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text
    assert SECRET not in response.text
    for path in ("messages", "hypotheses", "solutions"):
        listed = api.call("GET", f"/cases/{case_id}/{path}", owner).text
        assert SECRET not in listed, path


# -- concurrency ---------------------------------------------------------------------------


def test_two_turns_at_once_on_one_case_get_their_own_turn_numbers(
    model_api: Factory, api: Api, messages_stub: MessagesStub, container: Container
) -> None:
    owner, session_id, case_id, _ = prepared(api)
    messages_stub.queue(
        ToolCall(name="give_answer", input={"response_type": "ANSWER", "content": "one"}, delay=1),
        ToolCall(name="give_answer", input={"response_type": "ANSWER", "content": "two"}, delay=1),
    )
    first, second = model_api(), model_api()
    results: list[Any] = []

    def run(client: Api, query: str) -> None:
        results.append(ask(client, owner, case_id, session_id, query))

    threads = [
        threading.Thread(target=run, args=(first, "first question")),
        threading.Thread(target=run, args=(second, "second question")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200, 200], [r.text[:300] for r in results]
    turns = sorted(r.json()["metadata"]["turn"] for r in results)
    assert turns == [1, 2]
    history_id = results[0].json()["metadata"]["history_session_id"]
    with container.database.session() as session:
        stage_ids = session.scalars(
            select(HistoryStage.stage_id).where(HistoryStage.session_id == history_id)
        ).all()
    assert sorted(stage_ids) == ["turn-1", "turn-2"]
    stored = [m["metadata"]["turn"] for m in messages_of(api, owner, case_id)]
    assert sorted(stored) == [1, 1, 2, 2]


# -- memory --------------------------------------------------------------------------------


def test_memory_stays_bounded_with_one_line_8_kb_answers(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    owner, session_id, case_id, _ = prepared(api)
    model = model_api()
    tokens: list[int] = []
    for turn in range(1, 8):
        line = f"fact{turn} " + "".join(f"token{turn}x{i}" for i in range(900))
        messages_stub.queue(answer(content=line[:7_900]))
        if turn % 3 == 0:  # the compression call
            messages_stub.queue(
                ToolCall(
                    name="record_memory",
                    input={"running_summary": "y" * 20_000, "persistent_insights": ["z" * 9_000]},
                )
            )
        response = ask(model, owner, case_id, session_id, "q" * 50_000 + f" turn {turn}")
        assert response.status_code == 200, response.text[:500]
        tokens.append(response.json()["view_state"]["memory_context"]["tokens"])
    assert max(tokens) <= 1_600, tokens


# -- offline analyst on unusual cases ------------------------------------------------------

METRICS_CSV = "timestamp,cpu_pct,mem_mb,p99_ms\n" + "".join(
    f"2026-12-01T10:{m:02d}:00Z,{40 + m},{1200 + 10 * m},{120 + m}\n" for m in range(30)
)


def test_offline_analyst_on_a_metrics_only_case_is_honest(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner, title="Latency creeps up")
    evidence = upload(api, owner, case["case_id"], "metrics.csv", METRICS_CSV.encode())
    assert evidence["status"] == "completed", evidence
    response = ask(api, owner, case["case_id"], session_id, "Is the CPU the bottleneck?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metadata"]["offline"] is True and "offline" in body["content"].lower()
    assert body["sources"], body["content"]
    for hypothesis in body["new_hypotheses"]:
        assert len(hypothesis["statement"]) >= 10


def test_offline_analyst_on_an_empty_case(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner, title="Something is wrong")
    response = ask(api, owner, case["case_id"], session_id, "?!")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sources"] == [] and body["new_hypotheses"] == []
    assert body["evidence_requests"], body


# -- provider trouble, deadlines, bounded tool use ----------------------------------------


def test_a_storm_with_the_offline_fallback_answers_offline(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    from tests.llm_stubs import Fail

    owner, session_id, case_id, evidence = prepared(api)
    messages_stub.queue(*[Fail(529, "overloaded_error") for _ in range(10)])
    response = ask(model_api(llm_fallback="offline"), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["metadata"]["offline"] is True
    assert f"{evidence['evidence_id']}#digest" in {s["source_id"] for s in body["sources"]}


def test_many_tool_calls_in_one_message_stay_inside_the_budget(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    """One model message asking for 30 reads: the next prompt must not grow past the
    context budget plus each round's share of tool results."""
    owner, session_id, case_id, evidence = prepared(api)
    uses = [
        {
            "type": "tool_use",
            "id": f"toolu_{i}",
            "name": "read_evidence",
            "input": {"evidence_id": evidence["evidence_id"], "offset": i * 10, "limit": 12000},
        }
        for i in range(30)
    ]
    messages_stub.queue(
        Raw(
            200,
            {
                "id": "msg_many",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": uses,
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
        ),
        answer(),
    )
    response = ask(model_api(), owner, case_id, session_id, "why?")
    assert response.status_code == 200, response.text[:500]
    second = messages_stub.requests[-1].body
    sent_tokens = len(json.dumps(second["messages"])) / 4
    budget = 8_000 + 4 * 1_500
    assert sent_tokens <= budget, (sent_tokens, response.json()["metadata"]["tool_calls"])


def test_a_slow_compression_call_does_not_outlive_the_deadline(
    model_api: Factory, api: Api, messages_stub: MessagesStub, container: Container
) -> None:
    """Turn 3 compresses the memory with the model; a compression call that hangs must be
    cut at the turn's deadline and the deterministic compression kept."""
    import time

    owner, session_id, case_id, _ = prepared(api)
    model = model_api(agent_turn_deadline_seconds=8, llm_max_attempts=1)
    for turn in (1, 2):
        messages_stub.queue(answer(content=f"turn {turn}: the pool is exhausted"))
        assert ask(model, owner, case_id, session_id, f"q{turn}").status_code == 200
    messages_stub.queue(
        answer(content="turn 3"),
        ToolCall(
            name="record_memory",
            input={"running_summary": "late", "persistent_insights": []},
            delay=20,
        ),
    )
    started = time.monotonic()
    response = ask(model, owner, case_id, session_id, "q3")
    elapsed = time.monotonic() - started
    print(f"turn 3 with a hanging compression call took {elapsed:.1f} s (deadline 8 s)")
    assert response.status_code == 200, response.text[:500]
    assert response.json()["view_state"]["running_summary"] != "late"


# -- offline analyst on cases unlike the tests' -------------------------------------------


def test_offline_analyst_on_a_knowledge_only_case_cites_the_runbook(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    document_id = add_runbook(api, owner)
    case = api.case(owner, title="Pool exhausted?")
    response = ask(
        api, owner, case["case_id"], session_id, "How do I fix database connection pool exhaustion?"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert any(s["source_id"].startswith(document_id) for s in body["sources"]), body["sources"]
    assert "offline" in body["content"].lower()


def test_offline_analyst_on_a_german_log(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner, title="Bestellungen schlagen fehl")
    log = "".join(
        f"2026-12-01T10:{m:02d}:00Z FEHLER bestell-dienst Verbindung zur Datenbank abgelehnt\n"
        for m in range(20)
    )
    evidence = upload(api, owner, case["case_id"], "bestell.log", log.encode())
    assert evidence["status"] == "completed", evidence
    response = ask(api, owner, case["case_id"], session_id, "Warum schlagen Bestellungen fehl?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert f"{evidence['evidence_id']}#digest" in {s["source_id"] for s in body["sources"]}
    print(body["content"][:1500])
    print([h["statement"] for h in body["new_hypotheses"]])


# -- every response type -------------------------------------------------------------------

FULL_ANSWER: dict[str, Any] = {
    "content": "The pool is exhausted [S1].",
    "confidence": 0.8,
    "cited_source_ids": ["S1"],
    "hypotheses": [{"statement": "The pool leaks connections", "category": "data"}],
    "evidence_requests": [
        {"label": "DB metrics", "description": "Connections over time", "category": "metrics"}
    ],
    "suggested_commands": [{"command": "SELECT count(*) FROM pg_stat_activity"}],
    "solutions": [{"title": "Close leaked connections", "steps": ["Find the leak"]}],
    "clarifying_questions": ["When did it start?"],
    "plan": [{"step_number": 1, "action": "Check the pool"}],
    "diagram": "graph TD; A-->B",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "escalation_reason": "Needs the DBA",
    "root_cause": "Leaked connections",
}


KINDS = [
    "ANSWER",
    "PLAN_PROPOSAL",
    "CLARIFICATION_REQUEST",
    "CONFIRMATION_REQUEST",
    "SOLUTION_READY",
    "NEEDS_MORE_DATA",
    "ESCALATION_REQUIRED",
    "VISUAL_DIAGRAM",
    "COMPARISON_TABLE",
    "HYPOTHESIS_PROPOSAL",
    "EVIDENCE_ANALYSIS",
    "ROOT_CAUSE_IDENTIFIED",
    "COMMAND_SUGGESTION",
    "KNOWLEDGE_REFERENCE",
    "INVESTIGATION_SUMMARY",
]


def test_each_response_type_has_its_structured_data(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    """Every type the model may give, one turn each on one case (one upload)."""
    from faultmaven.agent.models import ResponseType
    from faultmaven.agent.shaping import STRUCTURED_DATA

    owner, session_id, case_id, _ = prepared(api)
    add_runbook(api, owner)
    model = model_api()
    for kind in KINDS:
        messages_stub.queue(
            ToolCall(name="give_answer", input={"response_type": kind, **FULL_ANSWER})
        )
        response = ask(model, owner, case_id, session_id, "Why do checkout requests time out?")
        assert response.status_code == 200, (kind, response.text[:500])
        body = response.json()
        assert body["response_type"] == kind
        assert set(body["structured_data"]) == set(
            STRUCTURED_DATA[ResponseType(kind)].model_fields
        ), kind
        view = body["view_state"]
        for name in (
            "running_summary",
            "uploaded_data",
            "conversation_count",
            "can_upload_data",
            "needs_more_info",
            "available_actions",
            "progress_indicators",
            "investigation_progress",
            "ooda_progress",
            "evidence_status",
        ):
            assert name in view, name
        assert view["available_actions"] and view["progress_indicators"]
        assert view["uploaded_data"][0]["processing_status"] == "completed"
        for name in (
            "confidence",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "provider",
            "model",
        ):
            assert name in body["metadata"], name
        assert body["metadata"]["processing_time_ms"] >= 0
        assert body["metadata"]["history_session_id"]
        if kind == "NEEDS_MORE_DATA":
            assert view["needs_more_info"] is True


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("VISUAL_DIAGRAM", "diagram"),
        ("COMPARISON_TABLE", "table"),
        ("CLARIFICATION_REQUEST", "clarifying_questions"),
        ("PLAN_PROPOSAL", "plan"),
    ],
)
def test_a_type_without_its_payload_is_repaired(
    model_api: Factory, api: Api, messages_stub: MessagesStub, kind: str, missing: str
) -> None:
    """A VISUAL_DIAGRAM with no diagram (or a table, questions or plan type without
    them) shows the client an empty payload: the answer should go back for repair."""
    owner, session_id, case_id, _ = prepared(api)
    bare = {k: v for k, v in FULL_ANSWER.items() if k != missing}
    messages_stub.queue(
        ToolCall(name="give_answer", input={"response_type": kind, **bare}),
        ToolCall(name="give_answer", input={"response_type": kind, **FULL_ANSWER}),
    )
    body = ask(model_api(), owner, case_id, session_id, "why?").json()
    assert body["metadata"]["model_calls"] == 2, body["structured_data"]


def test_nothing_secret_reaches_the_logs(
    model_api: Factory,
    api: Api,
    messages_stub: MessagesStub,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    owner, session_id, case_id, _evidence = prepared(api)
    messages_stub.queue(
        ToolCall(name="search_knowledge", input={"query": f"password={SECRET}", "k": "many"}),
        ToolCall(name="give_answer", input={"response_type": "MAYBE", "content": f"pw={SECRET}"}),
        ToolCall(name="give_answer", input={"content": f"password={SECRET}", "confidence": 9}),
    )
    with caplog.at_level("DEBUG"):
        response = ask(model_api(), owner, case_id, session_id, f"why? password={SECRET}")
    assert response.status_code == 200, response.text[:500]
    assert SECRET not in response.text
    assert SECRET not in caplog.text
    assert SECRET not in capsys.readouterr().out


def test_redaction_that_lengthens_a_field_does_not_lose_the_hypothesis(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    """An IP address becomes `[REDACTED:IP]` (8 → 13 characters): a statement near its
    500-character limit must still land in the case, capped, not vanish with the rest
    of the answer's structure."""
    owner, session_id, case_id, _ = prepared(api)
    statement = "The pool is exhausted " + "because of slow queries " * 19 + "10.1.2.3 10.1.2.4"
    assert len(statement) <= 500
    proposal = answer(
        response_type="HYPOTHESIS_PROPOSAL",
        content="A hypothesis [S1].",
        hypotheses=[{"statement": statement, "category": "data"}],
    )
    messages_stub.queue(proposal, proposal)
    body = ask(model_api(), owner, case_id, session_id, "why?").json()
    assert body["response_type"] == "HYPOTHESIS_PROPOSAL", body["structured_data"]
    stored = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    assert len(stored) == 1 and "10.1.2.3" not in stored[0]["statement"]


def test_a_case_whose_evidence_failed_or_is_pending_still_answers(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner, title="Odd files")
    from tests.integration.evidence_helpers import request_upload

    pending = request_upload(api, owner, case["case_id"], "later.log", 100)
    assert pending.status_code == 202, pending.text
    broken = upload(api, owner, case["case_id"], "blob.bin", bytes(range(256)) * 40)
    print("statuses", broken["status"])
    response = ask(api, owner, case["case_id"], session_id, "what do the files show?")
    assert response.status_code == 200, response.text[:500]


def test_offline_analyst_proposes_no_failure_hypothesis_for_a_healthy_log(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner, title="Is anything wrong?")
    log = "".join(
        f"2026-12-01T10:{m:02d}:00Z INFO web-api request handled path=/health status=200 in 3ms\n"
        for m in range(40)
    )
    evidence = upload(api, owner, case["case_id"], "web.log", log.encode())
    assert evidence["status"] == "completed", evidence
    response = ask(api, owner, case["case_id"], session_id, "Is anything failing here?")
    assert response.status_code == 200, response.text
    body = response.json()
    print(body["content"][:1200])
    print([h["statement"] for h in body["new_hypotheses"]])
    # The digest itself says "no ERROR or WARN lines": a routine INFO template is not a
    # failure to build a hypothesis on.
    assert body["new_hypotheses"] == [], body["new_hypotheses"]


def test_a_429_storm_with_a_long_retry_after_ends_inside_the_deadline(
    model_api: Factory, api: Api, messages_stub: MessagesStub
) -> None:
    import time

    from tests.llm_stubs import Fail

    owner, session_id, case_id, _ = prepared(api)
    messages_stub.queue(*[Fail(429, "rate_limit_error", retry_after="60") for _ in range(10)])
    model = model_api(agent_turn_deadline_seconds=6)
    started = time.monotonic()
    response = ask(model, owner, case_id, session_id, "why?")
    print(
        f"429 storm with retry-after 60 took {time.monotonic() - started:.1f} s: "
        f"{response.status_code} {response.headers.get('retry-after')}"
    )
    assert response.status_code in (200, 503), response.text[:500]
    if response.status_code == 503:
        assert int(response.headers["retry-after"]) >= 1
