"""The EP-0010 history models: their validators refuse an interaction that does not say
what it talked to, and the computed durations are in the JSON a client receives."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from faultmaven.history.models import (
    DetailedSession,
    DetailedStage,
    Interaction,
    LLMEventDetails,
    LLMInteraction,
    MCPEventDetails,
    MCPInteraction,
    SessionOverview,
    SessionStatus,
    StageStatus,
)


def _base(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "llm_1",
        "event_id": "llm_1",
        "timestamp_us": 1_000_000,
        "step_description": "summarize",
        "duration_ms": 40,
        "stage_execution_id": "stg_1",
        **overrides,
    }


def _llm(duration_ms: int | None = 40, model_name: str = "claude") -> LLMInteraction:
    return LLMInteraction(
        **_base(duration_ms=duration_ms),
        details=LLMEventDetails(model_name=model_name, success=True),
    )


def _mcp(duration_ms: int | None = 10, server_name: str = "faultmaven") -> MCPInteraction:
    return MCPInteraction(
        **_base(id="tool_1", event_id="tool_1", duration_ms=duration_ms),
        details=MCPEventDetails(
            server_name=server_name,
            tool_name="search",
            communication_type="tool_call",
            success=True,
        ),
    )


def test_an_llm_interaction_without_a_model_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="model_name"):
        _llm(model_name="")


def test_an_mcp_interaction_without_a_server_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="server_name"):
        _mcp(server_name="")


def test_details_without_their_required_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        LLMEventDetails.model_validate({"success": True})
    with pytest.raises(ValidationError):
        MCPEventDetails.model_validate({"communication_type": "tool_call", "success": True})


def test_the_interaction_union_is_discriminated_by_type() -> None:
    adapter: TypeAdapter[LLMInteraction | MCPInteraction] = TypeAdapter(Interaction)
    llm = adapter.validate_python(_llm().model_dump())
    mcp = adapter.validate_python(_mcp().model_dump())
    assert isinstance(llm, LLMInteraction)
    assert isinstance(mcp, MCPInteraction)
    with pytest.raises(ValidationError):
        adapter.validate_python({**_llm().model_dump(), "type": "other"})
    # An "mcp" body with LLM details is not silently read as an LLM call.
    with pytest.raises(ValidationError):
        adapter.validate_python({**_llm().model_dump(), "type": "mcp"})


def _overview(started: int, completed: int | None) -> SessionOverview:
    return SessionOverview(
        session_id="hist_1",
        case_id="case_1",
        agent_type="preprocessing",
        status=SessionStatus.COMPLETED,
        started_at_us=started,
        completed_at_us=completed,
        error_message=None,
        chain_id="preprocessing",
    )


def test_the_session_duration_is_computed_and_serialized() -> None:
    overview = _overview(1_000_000, 3_500_999)
    assert overview.duration_ms == 2_500
    assert overview.model_dump(mode="json")["duration_ms"] == 2_500
    assert _overview(1_000_000, None).model_dump()["duration_ms"] is None
    detailed = DetailedSession(
        **_overview(5_000_000, 5_250_000).model_dump(exclude={"duration_ms"}),
        final_analysis=None,
        session_metadata=None,
        chain_definition={},
    )
    assert detailed.model_dump()["duration_ms"] == 250
    assert detailed.alert_data == {}
    assert detailed.alert_id is None


def _stage(llm: list[LLMInteraction], mcp: list[MCPInteraction]) -> DetailedStage:
    return DetailedStage(
        execution_id="stg_1",
        session_id="hist_1",
        stage_id="summarize",
        stage_index=0,
        stage_name="Summarize",
        agent="preprocessing",
        status=StageStatus.COMPLETED,
        started_at_us=None,
        completed_at_us=None,
        duration_ms=None,
        stage_output=None,
        error_message=None,
        llm_interactions=llm,
        mcp_communications=mcp,
    )


def test_the_stage_interactions_duration_sums_its_calls() -> None:
    stage = _stage([_llm(40), _llm(None)], [_mcp(10)])
    assert stage.stage_interactions_duration_ms == 50
    assert stage.model_dump(mode="json")["stage_interactions_duration_ms"] == 50
    assert _stage([], []).stage_interactions_duration_ms is None
    assert _stage([_llm(0)], []).model_dump()["stage_interactions_duration_ms"] is None


def test_the_statuses_are_the_ep0010_ones() -> None:
    assert [s.value for s in SessionStatus] == [
        "pending",
        "in_progress",
        "completed",
        "failed",
        "stalled",
        "cancelled",
    ]
    assert [s.value for s in StageStatus] == [
        "pending",
        "active",
        "completed",
        "failed",
        "partial",
        "skipped",
    ]
