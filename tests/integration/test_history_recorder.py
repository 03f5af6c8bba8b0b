"""The history recorder against the real PostgreSQL: it keeps the record of a call that
failed, never fails the call it records (even with the database gone), stores no secret
it is handed, and sums what a case or a session has spent."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultmaven.adapters.postgres import Database
from faultmaven.container import Container
from faultmaven.history.recorder import HistoryRecorder, Spend
from tests.conftest import make_settings
from tests.helpers import Api
from tests.integration.history_helpers import history_rows, history_text, llm_record, tool_record
from tests.secret_strategies import KIND_STRATEGIES, Planted, leaked_pieces

ALL_KINDS = tuple(sorted(KIND_STRATEGIES))


class StageFailedError(RuntimeError):
    pass


@pytest.fixture
def case_id(api: Api) -> str:
    return str(api.case(api.user())["case_id"])


def _open(recorder: HistoryRecorder, case_id: str | None, **extra: object) -> str:
    return recorder.open_session(
        agent_type="preprocessing", chain_id="preprocessing", case_id=case_id, **extra
    )


def test_a_session_with_stages_and_calls_is_stored(container: Container, case_id: str) -> None:
    recorder = container.history_recorder
    session_id = _open(recorder, case_id, alert_data={"source": "upload"}, metadata={"a": 1})
    with recorder.stage(session_id, stage_id="summarize", stage_name="Summarize", agent="pre") as h:
        recorder.record_llm(llm_record(session_id, h.execution_id))
        recorder.record_tool(tool_record(session_id, h.execution_id))
        h.output = {"summary": "ok"}
    with recorder.stage(session_id, stage_id="index", stage_name="Index", agent="pre") as second:
        pass
    recorder.close_session(session_id, status="completed", final_analysis="done", metadata={"b": 2})

    [row] = history_rows(container, "history_sessions", id=session_id)
    assert row["status"] == "completed"
    assert row["completed_at_us"] >= row["started_at_us"]
    assert row["final_analysis"] == "done"
    assert row["session_metadata"] == {"a": 1, "b": 2}
    assert row["alert_data"] == {"source": "upload"}
    assert row["current_stage_id"] == "index"
    assert row["current_stage_index"] == 1
    stages = {s["execution_id"]: s for s in history_rows(container, "history_stages")}
    assert stages[h.execution_id]["status"] == "completed"
    assert stages[h.execution_id]["stage_output"] == {"summary": "ok"}
    assert stages[h.execution_id]["stage_index"] == 0
    assert stages[second.execution_id]["stage_index"] == 1
    assert stages[second.execution_id]["stage_output"] is None
    [llm] = history_rows(container, "history_llm_interactions")
    assert llm["stage_execution_id"] == h.execution_id
    assert llm["request"]["messages"][0]["role"] == "user"
    assert llm["response"]["stop_reason"] == "end_turn"
    assert (llm["input_tokens"], llm["output_tokens"]) == (100, 20)
    [tool] = history_rows(container, "history_tool_interactions")
    assert (tool["server_name"], tool["tool_name"]) == ("faultmaven", "knowledge_search")


def test_opening_the_same_session_twice_keeps_the_first(container: Container, case_id: str) -> None:
    recorder = container.history_recorder
    first = _open(recorder, case_id, session_id="hist_" + "a" * 32, metadata={"try": 1})
    again = _open(recorder, case_id, session_id=first, metadata={"try": 2})
    assert first == again
    rows = history_rows(container, "history_sessions", id=first)
    assert [r["session_metadata"] for r in rows] == [{"try": 1}]


def test_a_stage_whose_body_raises_is_stored_failed_and_the_error_propagates(
    container: Container, case_id: str
) -> None:
    recorder = container.history_recorder
    session_id = _open(recorder, case_id)
    error = StageFailedError("provider said no: password=Hunter2-Sup3rSecret!")
    with (  # noqa: PT012 - the output set before the failure must not be stored
        pytest.raises(StageFailedError) as raised,
        recorder.stage(session_id, stage_id="s", stage_name="S", agent="a") as handle,
    ):
        handle.output = {"half": "done"}
        raise error
    assert raised.value is error  # the caller's exception, unchanged
    [stage] = history_rows(container, "history_stages", execution_id=handle.execution_id)
    assert stage["status"] == "failed"
    assert stage["stage_output"] is None
    assert stage["error_message"].startswith("StageFailedError: provider said no")
    assert "Hunter2-Sup3rSecret" not in stage["error_message"]
    assert stage["completed_at_us"] >= stage["started_at_us"]


def test_a_very_long_error_is_capped(container: Container, case_id: str) -> None:
    recorder = container.history_recorder
    session_id = _open(recorder, case_id)
    with (
        pytest.raises(ValueError, match="x"),
        recorder.stage(session_id, stage_id="s", stage_name="S", agent="a"),
    ):
        raise ValueError("x" * 100_000)
    [stage] = history_rows(container, "history_stages")
    assert len(stage["error_message"]) <= 2_000


def test_a_failed_call_is_recorded_with_its_error(container: Container, case_id: str) -> None:
    recorder = container.history_recorder
    session_id = _open(recorder, case_id)
    recorder.record_llm(
        llm_record(
            session_id,
            response=None,
            success=False,
            error_message="overloaded_error: 529",
            output_tokens=0,
        )
    )
    recorder.record_tool(tool_record(session_id, success=False, error_message="timed out"))
    [llm] = history_rows(container, "history_llm_interactions", session_id=session_id)
    assert (llm["success"], llm["response"], llm["error_message"]) == (
        False,
        None,
        "overloaded_error: 529",
    )
    assert llm["stage_execution_id"] is None
    [tool] = history_rows(container, "history_tool_interactions", session_id=session_id)
    assert (tool["success"], tool["error_message"]) == (False, "timed out")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable(redis_url: str) -> HistoryRecorder:
    url = f"postgresql://nobody@127.0.0.1:{_closed_port()}/faultmaven"
    return HistoryRecorder(Database(make_settings(url, redis_url)))


def test_recording_with_the_database_down_never_fails_the_caller(
    unreachable: HistoryRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    session_id = unreachable.open_session(
        agent_type="investigation", chain_id="investigation", case_id=None, alert_data={"k": "v"}
    )
    assert session_id.startswith("hist_")
    with unreachable.stage(session_id, stage_id="s", stage_name="S", agent="a") as handle:
        assert handle.execution_id.startswith("stg_")
        unreachable.record_llm(
            llm_record(session_id, handle.execution_id, error_message="token=abc123")
        )
        unreachable.record_tool(tool_record(session_id, handle.execution_id))
        handle.output = {"ok": True}
    with (
        pytest.raises(StageFailedError),
        unreachable.stage(session_id, stage_id="t", stage_name="T", agent="a"),
    ):
        raise StageFailedError("the caller's own error still reaches the caller")
    unreachable.close_session(session_id, status="failed", error="boom")
    warnings = [r for r in caplog.records if r.getMessage() == "history recording failed"]
    assert len(warnings) >= 6
    logged = "\n".join(json.dumps(r.__dict__, default=str) for r in warnings)
    # Ids and the error type only: not the content of what was being recorded.
    assert "abc123" not in logged
    assert "boom" not in logged
    assert "OperationalError" in logged


def test_spent_raises_when_the_database_cannot_answer(unreachable: HistoryRecorder) -> None:
    with pytest.raises(Exception, match=r"connect|Connection|refused"):
        unreachable.spent(case_id="case_" + "0" * 32)


def test_an_interaction_whose_session_row_is_missing_is_kept_under_a_recovered_session(
    container: Container,
) -> None:
    """The session's own write failed earlier (a blip): the interaction and its spend are
    not lost with it, and an unknown stage id does not lose it either."""
    recorder = container.history_recorder
    ghost = "hist_" + "f" * 32
    recorder.record_llm(llm_record(ghost, stage_execution_id="stg_" + "e" * 32, cost_usd=0.5))
    with recorder.stage(ghost, stage_id="s", stage_name="S", agent="a"):
        pass
    recorder.close_session(ghost, status="not-a-status")  # refused quietly
    (row,) = history_rows(container, "history_llm_interactions")
    assert row["session_id"] == ghost
    assert row["stage_execution_id"] is None
    (session,) = history_rows(container, "history_sessions")
    assert session["session_metadata"] == {"recovered": True}
    assert session["case_id"] is None  # so only administrators see it
    assert recorder.spent(session_id=ghost).cost_usd == 0.5


def test_an_interaction_without_a_model_or_server_name_keeps_its_session_readable(
    api: Api, container: Container
) -> None:
    from faultmaven.history.recorder import ToolCallRecord

    recorder = container.history_recorder
    owner = api.user()
    session_id = _open(recorder, str(api.case(owner)["case_id"]))
    recorder.record_llm(llm_record(session_id, model=""))
    recorder.record_tool(
        ToolCallRecord(
            session_id=session_id,
            stage_execution_id=None,
            step_description="t",
            server_name="",
            tool_name="",
            arguments={},
            result={},
            available_tools={},
            started_at_us=1,
            duration_ms=1,
            success=True,
            error_message=None,
        )
    )
    answer = api.call("GET", f"/history/sessions/{session_id}", owner)
    assert answer.status_code == 200, answer.text
    kinds = {i["type"]: i["details"] for i in answer.json()["unstaged_interactions"]}
    assert kinds["llm"]["model_name"] == "unknown"
    assert kinds["mcp"]["server_name"] == "faultmaven"


def test_spend_is_summed_by_case_and_by_session(api: Api, container: Container) -> None:
    recorder = container.history_recorder
    owner = api.user()
    case_a, case_b = (str(api.case(owner)["case_id"]) for _ in range(2))
    first, second = _open(recorder, case_a), _open(recorder, case_a)
    other = _open(recorder, case_b)
    recorder.record_llm(llm_record(first, input_tokens=100, output_tokens=10, cost_usd=0.25))
    recorder.record_llm(
        llm_record(
            first,
            input_tokens=1,
            output_tokens=2,
            cache_creation_input_tokens=3,
            cache_read_input_tokens=4,
            cost_usd=0.125,
            success=False,
            response=None,
        )
    )
    recorder.record_llm(llm_record(second, input_tokens=50, output_tokens=5, cost_usd=0.5))
    recorder.record_llm(llm_record(other, input_tokens=7, output_tokens=7, cost_usd=9.0))
    recorder.record_tool(tool_record(first))  # tools cost no tokens

    by_first = recorder.spent(session_id=first)
    default_cache = 5 + 3  # llm_record's cache tokens
    assert by_first.input_tokens == 101
    assert by_first.output_tokens == 12
    assert by_first.cache_creation_input_tokens == 5 + 3
    assert by_first.cache_read_input_tokens == 3 + 4
    assert by_first.tokens == 101 + 12 + default_cache + 7
    assert by_first.cost_usd == pytest.approx(0.375)
    by_case = recorder.spent(case_id=case_a)
    assert by_case.input_tokens == 151
    assert by_case.cost_usd == pytest.approx(0.875)
    assert recorder.spent(case_id=case_b).cost_usd == pytest.approx(9.0)
    # Both: the session, only if it is the case's.
    assert recorder.spent(case_id=case_b, session_id=first) == Spend(tokens=0, cost_usd=0.0)
    assert recorder.spent(case_id=str(api.case(owner)["case_id"])) == Spend(0, 0.0)
    with pytest.raises(ValueError, match="case_id or a session_id"):
        recorder.spent()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(planted=st.sampled_from(ALL_KINDS).flatmap(lambda kind: KIND_STRATEGIES[kind]))
def test_a_secret_in_an_error_or_free_text_is_not_stored(
    container: Container, case_id: str, planted: Planted
) -> None:
    recorder = container.history_recorder
    session_id = _open(recorder, case_id)
    fragment = planted.fragment
    with (
        pytest.raises(StageFailedError),
        recorder.stage(session_id, stage_id="s", stage_name="S", agent="a") as handle,
    ):
        raise StageFailedError(f"the provider refused: {fragment} (retry later)")
    recorder.record_llm(
        llm_record(
            session_id,
            handle.execution_id,
            step_description=f"step with {fragment}",
            success=False,
            response=None,
            error_message=f"400 invalid_request_error: {fragment}",
        )
    )
    recorder.record_tool(
        tool_record(
            session_id,
            handle.execution_id,
            arguments={"query": f"grep {fragment}"},
            result={"lines": [f"found {fragment}"]},
            success=False,
            error_message=f"tool failed near {fragment}",
        )
    )
    recorder.close_session(
        session_id, status="failed", error=f"gave up: {fragment}", final_analysis=fragment
    )
    assert leaked_pieces(planted.secrets, history_text(container)) == [], planted.kind
