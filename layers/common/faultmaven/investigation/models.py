"""Investigation API models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from faultmaven.core.models import RequestModel, Text
from faultmaven.investigation.phases import EngagementMode, Phase, Strategy


class ConsentRequest(RequestModel):
    """The user agrees that the agent leads an investigation of the case."""

    strategy: Strategy = Field(
        default=Strategy.ACTIVE_INCIDENT,
        description="active_incident: mitigation first; post_mortem: root cause first",
    )
    problem_statement: Text | None = Field(
        default=None,
        max_length=2000,
        description="The problem as confirmed; the case's description (or title) if unset",
    )


class PhaseRequirement(BaseModel):
    phase: int
    phase_name: str
    missing: list[str] = Field(description="what must still hold before the phase may end")


class InvestigationOut(BaseModel):
    investigation_id: str | None = Field(description="None until the user consents")
    case_id: str
    phase: int
    phase_name: str
    engagement_mode: EngagementMode
    strategy: Strategy
    status: str = Field(description="intake, investigating, stalled or done")
    problem_statement: str
    consented_by: str | None
    consented_at: datetime | None
    ooda: dict[str, Any] = Field(
        description="iterations (steps completed, insights, evidence, confidence delta, "
        "made_progress, stall reason), stall count and the anchoring flag"
    )
    hypotheses: dict[str, int] = Field(description="hypotheses of the case by status")
    requirements: PhaseRequirement
    created_at: datetime | None
    updated_at: datetime | None


def phase_name(phase: int) -> str:
    return Phase(phase).name.lower()
