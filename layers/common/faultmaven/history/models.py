"""The investigation history as TARSy's EP-0010 defines it: typed models for a session, its
stages and every LLM and tool interaction, so the API, the dashboard and the tests share
one shape instead of loose dicts.

Adaptations to FaultMaven (the field names of EP-0010 are kept wherever they exist):

- A session belongs to a case: `case_id` on `SessionOverview` and `DetailedSession`. It is
  None only for an alert that has not opened a case yet; such sessions are visible to
  administrators alone.
- `alert_id` and `alert_type` are optional: a preprocessing run or a chat-started
  investigation has no alert. `alert_data` defaults to `{}`.
- `LLMEventDetails` also carries the `provider`, the `system` prompt, the `response`
  (content blocks and stop_reason), `token_usage` by kind (input, output, cache-creation
  and cache-read tokens, and their total) and the call's `cost_usd`. Everything in it was
  redacted before the call left the process.
- `MCPEventDetails.server_name` is `faultmaven` for built-in tools, or the MCP server's
  name; it also carries the `error_message` of a failed call.
- `SessionStats` adds the token totals by kind and `total_cost_usd`.
- `DetailedSession.unstaged_interactions`: calls recorded outside any stage (a recorder
  caller may pass no stage), so the detailed view still shows every interaction.
- `FilterOptions` lists only values present among the sessions the caller may read.
- The computed durations (`duration_ms`, `stage_interactions_duration_ms`) are pydantic
  computed fields, so they appear in the JSON too, not only as Python properties.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, computed_field, model_validator

BUILTIN_SERVER = "faultmaven"


class SessionStatus(StrEnum):
    """EP-0010's AlertSessionStatus, for every kind of history session."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    STALLED = "stalled"
    CANCELLED = "cancelled"


FINISHED_STATUSES = frozenset(
    {SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED}
)


class StageStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    SKIPPED = "skipped"


class PaginationInfo(BaseModel):
    page: int
    page_size: int
    total_pages: int
    total_items: int


class TimeRangeOption(BaseModel):
    label: str
    value: str


class FilterOptions(BaseModel):
    """The filter values present among the sessions the caller may see."""

    agent_types: list[str]
    alert_types: list[str]
    status_options: list[str]
    time_ranges: list[TimeRangeOption]


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    total_tokens: int = 0


class LLMEventDetails(BaseModel):
    """One model call: what was sent (already redacted) and what came back."""

    provider: str | None = None
    model_name: str
    temperature: float | None = None
    system: str | list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = None
    response: dict[str, Any] | None = None
    success: bool
    error_message: str | None = None
    token_usage: TokenUsage | None = None
    cost_usd: float = 0.0
    tool_calls: list[dict[str, Any]] | None = None
    tool_results: dict[str, Any] | None = None


class MCPEventDetails(BaseModel):
    """One tool call: `server_name` is `faultmaven` for built-in tools."""

    tool_name: str | None = None
    server_name: str
    communication_type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    available_tools: dict[str, Any] = Field(default_factory=dict)
    success: bool
    error_message: str | None = None


class BaseInteraction(BaseModel):
    id: str
    event_id: str
    timestamp_us: int
    step_description: str
    duration_ms: int | None
    stage_execution_id: str | None


class LLMInteraction(BaseInteraction):
    type: Literal["llm"] = "llm"
    details: LLMEventDetails

    @model_validator(mode="after")
    def _requires_model_name(self) -> LLMInteraction:
        if not self.details.model_name:
            raise ValueError("LLM interactions require model_name in details")
        return self


class MCPInteraction(BaseInteraction):
    type: Literal["mcp"] = "mcp"
    details: MCPEventDetails

    @model_validator(mode="after")
    def _requires_server_name(self) -> MCPInteraction:
        if not self.details.server_name:
            raise ValueError("MCP interactions require server_name in details")
        return self


Interaction = Annotated[LLMInteraction | MCPInteraction, Field(discriminator="type")]


class LLMInteractionSummary(BaseModel):
    interaction_id: str
    timestamp_us: int
    step_description: str
    model_name: str
    duration_ms: int | None


class MCPCommunicationSummary(BaseModel):
    communication_id: str
    timestamp_us: int
    step_description: str
    server_name: str
    tool_name: str | None
    success: bool
    duration_ms: int | None


def _duration_ms(started_at_us: int | None, completed_at_us: int | None) -> int | None:
    if started_at_us and completed_at_us:
        return (completed_at_us - started_at_us) // 1000
    return None


class SessionOverview(BaseModel):
    """A session in a list: identity, timing, status and counts."""

    session_id: str
    case_id: str | None
    alert_id: str | None = None
    alert_type: str | None = None
    agent_type: str
    status: SessionStatus
    started_at_us: int
    completed_at_us: int | None
    error_message: str | None
    llm_interaction_count: int = 0
    mcp_communication_count: int = 0
    total_interactions: int = 0
    chain_id: str
    total_stages: int | None = None
    completed_stages: int | None = None
    failed_stages: int = 0
    current_stage_index: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> int | None:
        return _duration_ms(self.started_at_us, self.completed_at_us)


class DetailedStage(BaseModel):
    """A stage with every interaction that happened in it."""

    execution_id: str
    session_id: str
    stage_id: str
    stage_index: int
    stage_name: str
    agent: str
    status: StageStatus
    started_at_us: int | None
    completed_at_us: int | None
    duration_ms: int | None
    stage_output: dict[str, Any] | None
    error_message: str | None
    llm_interactions: list[LLMInteraction] = Field(default_factory=list)
    mcp_communications: list[MCPInteraction] = Field(default_factory=list)
    llm_interaction_count: int = 0
    mcp_communication_count: int = 0
    total_interactions: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stage_interactions_duration_ms(self) -> int | None:
        """The time spent in the stage's calls (not its wall time)."""
        interactions: list[LLMInteraction | MCPInteraction] = [
            *self.llm_interactions,
            *self.mcp_communications,
        ]
        total = sum(i.duration_ms or 0 for i in interactions)
        return total if total > 0 else None


class DetailedSession(BaseModel):
    """A session with everything: its stages, their interactions, and the interactions
    recorded outside any stage (`unstaged_interactions`, in time order)."""

    session_id: str
    case_id: str | None
    alert_id: str | None = None
    alert_type: str | None = None
    agent_type: str
    status: SessionStatus
    started_at_us: int
    completed_at_us: int | None
    error_message: str | None
    alert_data: dict[str, Any] = Field(default_factory=dict)
    final_analysis: str | None
    session_metadata: dict[str, Any] | None
    chain_id: str
    chain_definition: dict[str, Any]
    current_stage_index: int | None = None
    current_stage_id: str | None = None
    total_interactions: int = 0
    llm_interaction_count: int = 0
    mcp_communication_count: int = 0
    stages: list[DetailedStage] = Field(default_factory=list)
    unstaged_interactions: list[Interaction] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> int | None:
        return _duration_ms(self.started_at_us, self.completed_at_us)


class ChainStatistics(BaseModel):
    total_stages: int
    completed_stages: int
    failed_stages: int
    stages_by_agent: dict[str, int]


class SessionStats(BaseModel):
    """Counts, time, tokens and cost of one session, for headers and budgets."""

    total_interactions: int
    llm_interactions: int
    mcp_communications: int
    system_events: int = 0
    errors_count: int
    total_duration_ms: int
    chain_statistics: ChainStatistics
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    total_tokens: int = 0
    total_cost_usd: float = 0.0


class PaginatedSessions(BaseModel):
    sessions: list[SessionOverview]
    pagination: PaginationInfo
    filters_applied: dict[str, Any] = Field(default_factory=dict)


TIME_RANGES: tuple[TimeRangeOption, ...] = (
    TimeRangeOption(label="Last hour", value="1h"),
    TimeRangeOption(label="Last 4 hours", value="4h"),
    TimeRangeOption(label="Today", value="today"),
    TimeRangeOption(label="Last 7 days", value="7d"),
    TimeRangeOption(label="Last 30 days", value="30d"),
)
TimeRange = Literal["1h", "4h", "today", "7d", "30d"]
