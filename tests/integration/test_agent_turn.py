"""The chat turn over HTTP with the offline analyst (the suite's provider): a cited answer
from the case's evidence and knowledge, hypotheses in the case, messages stored, a
history session with its LLM and tool interactions, and who may ask."""

from __future__ import annotations

from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import HistoryLLMInteraction, HistoryStage, HistoryToolInteraction
from tests.helpers import Api, assert_envelope
from tests.integration.agent_helpers import add_runbook, ask, case_with_log, session_of


def test_offline_turn_answers_from_the_evidence_with_citations(
    api: Api, container: Container
) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, evidence = case_with_log(api, owner)
    add_runbook(api, owner)

    response = ask(api, owner, case_id, session_id, "Why do checkout requests time out?")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schema_version"] == "3.1.0"
    assert body["case_id"] == case_id and body["session_id"] == session_id
    assert body["metadata"]["offline"] is True
    assert body["content"].startswith("[offline analyst]")
    cited = {s["source_id"] for s in body["sources"]}
    assert f"{evidence['evidence_id']}#digest" in cited
    assert any(s["type"] in ("knowledge_base", "documentation") for s in body["sources"])
    for source in body["sources"]:
        assert source["snippet"] and source["content"] == source["snippet"]
    # The hypotheses it proposed are in the case, with the evidence behind them.
    hypotheses = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    assert body["new_hypotheses"]
    assert {h["hypothesis_id"] for h in body["new_hypotheses"]} <= {
        h["hypothesis_id"] for h in hypotheses
    }
    assert any(h["supporting_evidence"] for h in hypotheses)
    # Both sides of the turn are case messages.
    messages = api.call("GET", f"/cases/{case_id}/messages", owner).json()["items"]
    assert [m["type"] for m in messages] == ["user_query", "agent_response"]
    assert messages[0]["author_id"] == owner.user_id and messages[1]["author_id"] is None
    assert messages[1]["metadata"]["confidence"] == body["metadata"]["confidence"]
    assert messages[1]["metadata"]["processing_time_ms"] >= 0
    # View state.
    view = body["view_state"]
    assert view["conversation_count"] == 1
    assert view["uploaded_data"][0]["insights"]
    assert view["can_upload_data"] is True
    assert view["evidence_status"]["files_processed"] == 1
    assert view["investigation_progress"]["engagement_mode"] == "consultant"
    # The history session has the turn's stage, the model call and the retrieval.
    history_id = body["metadata"]["history_session_id"]
    with container.database.session() as session:
        stages = session.scalars(
            select(HistoryStage).where(HistoryStage.session_id == history_id)
        ).all()
        llm = session.scalars(
            select(HistoryLLMInteraction).where(HistoryLLMInteraction.session_id == history_id)
        ).all()
        tools = session.scalars(
            select(HistoryToolInteraction).where(HistoryToolInteraction.session_id == history_id)
        ).all()
    assert [s.stage_id for s in stages] == ["turn-1"]
    assert stages[0].stage_output["context"]["estimated_tokens"] > 0
    assert len(llm) == 1 and tools and tools[0].tool_name == "search_knowledge"


def test_the_answer_and_the_stored_question_never_carry_a_secret(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, _ = case_with_log(api, owner)
    secret = "AKIAIOSFODNN7EXAMPLE"
    response = ask(
        api, owner, case_id, session_id, f"We rotated key {secret} and pools time out. Why?"
    )
    assert response.status_code == 200, response.text
    assert secret not in response.text
    messages = api.call("GET", f"/cases/{case_id}/messages", owner).json()["items"]
    assert all(secret not in m["content"] for m in messages)


def test_the_other_name_and_health(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner)
    chat = api.call(
        "POST",
        f"/agent/chat/{case['case_id']}",
        owner,
        json={"session_id": session_id, "query": "Where do I start?"},
    )
    assert chat.status_code == 200, chat.text
    # No evidence and nothing in the knowledge bases: the offline analyst asks for logs.
    assert chat.json()["response_type"] == "NEEDS_MORE_DATA"
    assert chat.json()["evidence_requests"][0]["category"] == "symptoms"
    health = api.call("GET", "/agent/health")
    assert health.status_code == 200
    assert health.json()["provider"] == "offline" and health.json()["offline"] is True


def test_who_may_ask(api: Api) -> None:
    owner, viewer, stranger = api.user(), api.user(), api.user()
    case_id, _ = case_with_log(api, owner)
    api.share(owner, case_id, viewer, "viewer")
    assert_envelope(ask(api, viewer, case_id, session_of(api, viewer), "why?"), 403)
    assert_envelope(
        ask(api, stranger, case_id, session_of(api, stranger), "why?"), 404, "CASE_NOT_FOUND"
    )
    # Another user's session is not the caller's.
    assert_envelope(
        ask(api, owner, case_id, session_of(api, stranger), "why?"), 404, "SESSION_NOT_FOUND"
    )
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/query", json={"session_id": "x", "query": "q"}), 401
    )
    # Nothing was stored by the refused calls.
    assert api.call("GET", f"/cases/{case_id}/messages", owner).json()["total"] == 0


def test_bad_queries_are_422(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner)
    for body in (
        {"session_id": session_id, "query": ""},
        {"session_id": session_id, "query": "   "},
        {"session_id": session_id, "query": "x" * (100 * 1024 + 1)},
        {"session_id": session_id},
        {"query": "why?"},
        {"session_id": session_id, "query": "why?", "priority": "urgent"},
        {"session_id": session_id, "query": "why?", "unknown": 1},
    ):
        assert_envelope(
            api.call("POST", f"/cases/{case['case_id']}/query", owner, json=body),
            422,
            "VALIDATION_FAILED",
        )


def test_a_secret_in_a_runbook_never_reaches_the_answer_the_memory_or_the_hypotheses(
    api: Api, container: Container
) -> None:
    from faultmaven.db.tables import AgentMemory

    owner = api.user()
    session_id = session_of(api, owner)
    case_id, _ = case_with_log(api, owner)
    password = "Xq7#mPz9!vLw2sRt"
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    response = api.call(
        "POST",
        "/knowledge/documents",
        owner,
        json={
            "title": "Checkout pool runbook",
            "content": "# Checkout pool\nConnection is not available, request timed out: "
            f"log in with password={password} and token {token}, then restart checkout-api.",
        },
    )
    assert response.status_code == 201, response.text
    answer = ask(api, owner, case_id, session_id, "checkout connection is not available, why?")
    assert answer.status_code == 200, answer.text
    assert any(
        s["metadata"].get("title") == "Checkout pool runbook" for s in answer.json()["sources"]
    )
    for text in (
        answer.text,
        api.call("GET", f"/cases/{case_id}/messages", owner).text,
        api.call("GET", f"/cases/{case_id}/hypotheses", owner).text,
    ):
        assert password not in text and token not in text
    with container.database.session() as session:
        state = session.get(AgentMemory, case_id)
        assert state is not None
        assert password not in str(state.state) and token not in str(state.state)


def test_an_archived_case_takes_no_questions(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case = api.case(owner)
    for status in ("resolved", "archived"):
        moved = api.call("POST", f"/cases/{case['case_id']}/status", owner, json={"status": status})
        assert moved.status_code == 200, moved.text
    assert_envelope(ask(api, owner, case["case_id"], session_id, "why?"), 409, "CASE_CLOSED")


def test_deleting_the_case_forgets_the_agents_memory(api: Api, container: Container) -> None:
    from faultmaven.db.tables import AgentMemory

    owner = api.user()
    session_id = session_of(api, owner)
    case_id, _ = case_with_log(api, owner)
    assert ask(api, owner, case_id, session_id, "why?").status_code == 200
    with container.database.session() as session:
        assert session.get(AgentMemory, case_id) is not None
    assert api.call("DELETE", f"/cases/{case_id}", owner).status_code == 204
    with container.database.session() as session:
        assert session.get(AgentMemory, case_id) is None
