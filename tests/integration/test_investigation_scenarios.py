"""The fourteen incident scenarios replayed as whole investigations (issue 14 §5).

Each scenario's plan (tests/scenarios/agent/investigation.py) is generated from its own
data and played over HTTP against the real app, the real `anthropic` SDK talking to the
Messages stub: consent, a frame, a timeline, a wrong hypothesis refuted and the
scenario's own validated, a solution the user applies, the fix verified, the case
documented. Variants by index add a blocked evidence request, a stall, or a set of
hypotheses all refuted first (the loop-back). Asserted per scenario: the path of phases,
each hypothesis' status and likelihood (exact, from the confidence rules), the case
status, the history stages, and that the script was consumed whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from faultmaven.app import create_app
from faultmaven.cases.confidence import assess
from faultmaven.container import Container, build_container
from faultmaven.db.tables import HistoryStage
from tests.helpers import Api
from tests.integration.agent_helpers import Factory, ask, stub_settings
from tests.integration.test_agent_model_turn import answer, prepared
from tests.llm_stubs import MessagesStub
from tests.scenarios.agent.investigation import (
    ALL_REFUTED,
    BLOCK_REASON,
    BLOCKED,
    STALL,
    Replay,
    plan,
    replay,
)
from tests.scenarios.agent.runner import load_all

SCENARIOS = load_all()
IDS = [s.slug for s in SCENARIOS]


@pytest.fixture(scope="module")
def stub() -> Iterator[MessagesStub]:
    with MessagesStub() as server:
        yield server


@pytest.fixture(scope="module")
def lead_api(container: Container, stub: MessagesStub) -> Iterator[tuple[Api, Container]]:
    """The in-process app over the suite's stores, its model the stub (one app for the
    module: building one per scenario would cost more than the replays)."""
    wired = build_container(stub_settings(container.settings, stub.base_url, llm_summaries=False))
    with TestClient(create_app(container=wired), raise_server_exceptions=False) as client:
        yield Api(client), wired
    wired.close()


def test_the_variants_cover_a_block_a_stall_and_a_loop_back() -> None:
    chosen = [plan(s, i).variants for i, s in enumerate(SCENARIOS)]
    for variant in (BLOCKED, STALL, ALL_REFUTED):
        assert any(variant in v for v in chosen), variant
    assert any(not v for v in chosen)  # and the plain path


def _stages(container: Container, history_session_id: str) -> list[str]:
    with container.database.session() as session:
        return list(
            session.scalars(
                select(HistoryStage.stage_id)
                .where(HistoryStage.session_id == history_session_id)
                .order_by(HistoryStage.stage_index, HistoryStage.started_at_us)
            ).all()
        )


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=IDS)
def test_the_scenario_replays_as_a_whole_investigation(
    index: int, lead_api: tuple[Api, Container], stub: MessagesStub
) -> None:
    api, container = lead_api
    scenario = SCENARIOS[index]
    run: Replay = replay(api, stub, scenario, index)
    owner, case_id = run.prepared.owner, run.prepared.case_id
    assert run.consent["phase"] == 1
    for turn in run.turns:
        assert turn.status == 200, (turn.step.name, turn.body)
        assert turn.transition["outcome"] == turn.step.expect_outcome, (
            turn.step.name,
            turn.transition,
        )
        if turn.step.expect_to is not None:
            assert (turn.transition["from"], turn.transition["to"]) == (
                turn.step.phase,
                turn.step.expect_to,
            ), turn.step.name
        assert turn.transition["stalled"] is turn.step.expect_stalled, turn.step.name
    assert len(run.turns) == len(run.plan.steps)
    assert stub.pending() == 0

    state: dict[str, Any] = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    assert state["status"] == "done" and state["phase"] == 6
    path = [(t["from"], t["to"], t["outcome"]) for t in state["transitions"]]
    assert path == run.plan.transitions
    assert len(state["ooda"]["iterations"]) == len(run.plan.steps)

    hypotheses = {
        h["hypothesis_id"]: h
        for h in api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    }
    assert set(hypotheses) == set(run.hypothesis_ids.values())
    for key, expected in run.plan.expected.items():
        got = hypotheses[run.hypothesis_ids[key]]
        assert (got["status"], got["likelihood"]) == (expected.status, expected.likelihood), key
    assert hypotheses[run.hypothesis_ids["R"]]["status"] == "validated"
    assert all(
        hypotheses[run.hypothesis_ids[h.key]]["status"] == "refuted"
        for h in run.plan.hypotheses
        if h.key in ("W1", "W2")
    )

    case = api.call("GET", f"/cases/{case_id}", owner).json()
    # Done is the investigation's end; resolving the case stays the user's call. After a
    # stall, the progress that recovered it took the case out of `stalled` too.
    assert case["status"] == "investigating", case["status"]
    solutions = api.call("GET", f"/cases/{case_id}/solutions", owner).json()["items"]
    assert [s["status"] for s in solutions] == ["applied"]

    stages = _stages(container, run.turns[0].metadata["history_session_id"])
    moves = [f"phase-{a}-to-{b}" for a, b, _ in run.plan.transitions]
    assert [s for s in stages if s.startswith("phase-")] == moves, stages

    if ALL_REFUTED in run.plan.variants:
        loop = next(t for t in run.turns if t.step.expect_outcome == "loop_back")
        assert "all 2 hypotheses were refuted" in loop.transition["reason"]
    if STALL in run.plan.variants:
        assert run.case_status_after_stall == "stalled"
        recovering = next(t for t in run.turns if t.step.name == "timeline")
        assert "The investigation is stalled: suggest escalating" in recovering.prompt
    else:
        assert all("The investigation is stalled" not in t.prompt for t in run.turns)
    if BLOCKED in run.plan.variants:
        assert [(r["status"], r["status_reason"]) for r in run.blocked] == [
            ("blocked", BLOCK_REASON)
        ]
    else:
        assert run.blocked == []


def test_progress_after_a_stall_takes_the_case_out_of_stalled(
    api: Api,
    model_api: Factory,
    messages_stub: MessagesStub,
) -> None:
    owner, session_id, case_id, _ = prepared(api, api)
    model = model_api()
    api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json={})
    for number in range(1, 4):
        messages_stub.queue(answer(content="I still do not know."))
        ask(model, owner, case_id, session_id, f"anything? {number}")
    assert api.call("GET", f"/cases/{case_id}", owner).json()["status"] == "stalled"
    messages_stub.queue(
        answer(
            content="Found it.",
            anomaly_frame={"what_is_broken": "checkout", "impact": "12% of orders fail"},
        )
    )
    ask(model, owner, case_id, session_id, "here is the impact")
    state = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    assert state["status"] == "investigating"
    assert api.call("GET", f"/cases/{case_id}", owner).json()["status"] == "investigating"


def test_a_hypothesis_that_got_evidence_this_iteration_does_not_decay(
    api: Api,
    model_api: Factory,
    messages_stub: MessagesStub,
) -> None:
    owner, session_id, case_id, evidence = prepared(api, api)
    model = model_api(agent_compression_every=50)  # no memory-compression call in the script
    api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json={})
    leak = "A connection leak keeps the pool at its maximum"
    messages_stub.queue(
        answer(
            anomaly_frame={
                "what_is_broken": "checkout",
                "expected_behaviour": "p99 under 300 ms",
                "actual_behaviour": "requests time out after 30 s",
                "impact": "12% of orders fail",
                "scope": "all regions",
            }
        ),
        answer(timeline={"started_at": "2026-12-01T10:02:05Z", "changes_considered": True}),
        answer(
            response_type="HYPOTHESIS_PROPOSAL",
            hypotheses=[
                {"statement": leak, "category": "code", "likelihood": 0.5},
                {"statement": "The database got slow", "category": "data", "likelihood": 0.4},
            ],
        ),
        answer(
            hypotheses=[
                {"statement": leak, "supporting_source_ids": [f"{evidence['evidence_id']}#digest"]}
            ]
        ),
    )
    for query in ("frame", "timeline", "hypotheses", "test the leak"):
        assert ask(model, owner, case_id, session_id, query).status_code == 200
    assert messages_stub.pending() == 0
    assert api.call("GET", f"/cases/{case_id}/investigation", owner).json()["phase"] == 4
    items = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
    worked = next(h for h in items if h["statement"] == leak)
    assert worked["status"] == "active"
    assert worked["turns_without_progress"] == 0
    assert worked["likelihood"] == assess(0.5, 1, 0, 0)[0]


def test_a_scenario_table_overrides_the_generated_plan() -> None:
    scenario = SCENARIOS[0]
    custom = replace(
        scenario,
        investigation={
            "variants": [STALL],
            "started_at": "2026-11-30T01:02:03Z",
            "wrong": [{"statement": "The CDN dropped the requests.", "category": "external"}],
        },
    )
    generated = plan(custom, 0)
    assert generated.variants == (STALL,)
    assert generated.by_key("W1").statement == "The CDN dropped the requests."
    timeline = next(s for s in generated.steps if s.name == "timeline")
    assert timeline.answer["timeline"]["started_at"] == "2026-11-30T01:02:03Z"
    assert [s.name for s in generated.steps].count("no progress 3") == 1
    right = generated.by_key("R").category
    same = {"statement": "Same category as the right one.", "category": right}
    with pytest.raises(ValueError, match="category"):
        plan(replace(scenario, investigation={"wrong": [same]}), 0)
    with pytest.raises(ValueError, match="unknown variants"):
        plan(replace(scenario, investigation={"variants": ["sometimes"]}), 0)
