"""The lead investigator across turns, with a scripted model: phases advance on their
criteria, a refuted set of hypotheses loops back, turns without progress stall the case,
and every phase move is a history stage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import HistoryStage
from tests.helpers import Api
from tests.integration.agent_helpers import Factory, ask
from tests.integration.test_agent_model_turn import answer, prepared
from tests.llm_stubs import MessagesStub, ToolCall

FRAME = {
    "what_is_broken": "checkout",
    "expected_behaviour": "p99 under 300 ms",
    "actual_behaviour": "requests time out after 30 s",
    "impact": "12% of orders fail",
    "scope": "all regions",
}


def investigation(api: Api, owner: Any, case_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    return body


def two_hypotheses(evidence_id: str) -> list[dict[str, Any]]:
    return [
        {
            "statement": "A connection leak keeps the pool at its maximum",
            "category": "code",
            "likelihood": 0.5,
            "supporting_source_ids": [],
        },
        {
            "statement": "The database is slow since the index was dropped",
            "category": "data",
            "likelihood": 0.4,
        },
    ]


def test_the_phases_advance_on_their_criteria_and_loop_back_when_all_are_refuted(
    api: Api,
    container: Container,
    model_api: Factory,
    messages_stub: MessagesStub,
) -> None:
    owner, session_id, case_id, evidence = prepared(api, api)
    digest = f"{evidence['evidence_id']}#digest"
    model = model_api()
    consent = api.call(
        "POST", f"/cases/{case_id}/investigation/consent", owner, json={"strategy": "post_mortem"}
    )
    assert consent.json()["phase"] == 1

    def turn(query: str, before: list[ToolCall] | None = None, **fields: Any) -> dict[str, Any]:
        messages_stub.queue(
            *(before or []),
            answer(
                working_conclusion={"statement": "The pool is exhausted", "confidence": 0.4},
                **fields,
            ),
        )
        response = ask(model, owner, case_id, session_id, query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # Phase 1: half a frame stays, the whole frame advances.
    first = turn("what is broken?", anomaly_frame={"what_is_broken": "checkout"})
    assert first["phase_transition"]["outcome"] == "stay"
    assert "impact" in first["phase_transition"]["reason"]
    prompt = messages_stub.requests[-1].body["messages"][0]["content"][0]["text"]
    assert "<investigation>" in prompt and "Phase 1 (blast_radius)" in prompt
    # Observe and orient only: phase 1 offers no hypothesis tool, and refuses one called.
    offered = [t["name"] for t in messages_stub.requests[-1].body["tools"]]
    assert "list_hypotheses" not in offered and "read_evidence" in offered
    refused = turn("and the hypotheses?", before=[ToolCall(name="list_hypotheses", input={})])
    assert refused["metadata"]["tool_calls"] == 1
    tool_result = messages_stub.requests[-1].body["messages"][-1]["content"][0]
    assert tool_result["is_error"] is True and "Unknown tool" in str(tool_result["content"])
    second = turn("impact?", anomaly_frame=FRAME)
    assert (second["phase_transition"]["from"], second["phase_transition"]["to"]) == (1, 2)
    assert second["view_state"]["investigation_progress"]["phase"] == 2
    assert second["working_conclusion"]["statement"] == "The pool is exhausted"
    # Phase 2: the timeline.
    third = turn(
        "when?", timeline={"started_at": "2026-12-01T10:02:05Z", "changes_considered": True}
    )
    assert third["phase_transition"]["to"] == 3
    # Phase 3: two hypotheses of two categories.
    fourth = turn(
        "why?",
        response_type="HYPOTHESIS_PROPOSAL",
        hypotheses=two_hypotheses(evidence["evidence_id"]),
    )
    assert fourth["phase_transition"]["to"] == 4
    hypotheses = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    assert "list_hypotheses" in [t["name"] for t in messages_stub.requests[-1].body["tools"]]
    # Phase 4: each refuted in turn (two refuting sources: the digest and a section the
    # model read first); while one is open the phase stays, then it loops back to 3.
    read = ToolCall(
        name="read_evidence", input={"evidence_id": evidence["evidence_id"], "limit": 500}
    )

    def refuted(h: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "hypothesis_id": h["hypothesis_id"],
                "statement": h["statement"],
                "refuting_source_ids": [digest, f"{evidence['evidence_id']}#chars-0-500"],
            }
        ]

    first_refuted = turn("test the first", before=[read], hypotheses=refuted(hypotheses[0]))
    assert first_refuted["phase_transition"]["outcome"] == "stay"
    both = turn("test the second", before=[read], hypotheses=refuted(hypotheses[1]))
    assert {
        h["status"] for h in api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    } == {"refuted"}
    assert both["phase_transition"]["outcome"] == "loop_back"
    assert both["phase_transition"]["to"] == 3 and "refuted" in both["phase_transition"]["reason"]
    state = investigation(api, owner, case_id)
    assert state["phase"] == 3
    with container.database.session() as session:
        stages = session.scalars(
            select(HistoryStage.stage_id).where(
                HistoryStage.session_id == second["metadata"]["history_session_id"]
            )
        ).all()
    assert {"phase-1-to-2", "phase-2-to-3", "phase-3-to-4"} <= set(stages)
    assert [t["to"] for t in state["transitions"]] == [2, 3, 4, 3]


def test_three_turns_without_progress_stall_the_case(
    api: Api,
    model_api: Factory,
    messages_stub: MessagesStub,
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    model = model_api()
    api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json={})
    for number in range(1, 4):
        messages_stub.queue(answer(content="I still do not know."))
        body = ask(model, owner, case_id, session_id, f"anything? {number}").json()
    assert body["phase_transition"]["stalled"] is True
    assert api.call("GET", f"/cases/{case_id}", owner).json()["status"] == "stalled"
    state = investigation(api, owner, case_id)
    assert state["status"] == "stalled" and state["ooda"]["stall_count"] == 3
    assert [i["made_progress"] for i in state["ooda"]["iterations"]] == [False] * 3
    # New findings take it out of the stall.
    messages_stub.queue(answer(content="Found it.", anomaly_frame=FRAME))
    ask(model, owner, case_id, session_id, "here is the impact")
    assert investigation(api, owner, case_id)["status"] == "investigating"
    assert api.call("GET", f"/cases/{case_id}", owner).json()["status"] == "investigating"
