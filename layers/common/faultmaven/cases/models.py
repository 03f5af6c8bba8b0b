"""Case API and domain models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from faultmaven.core.models import (
    Line,
    Metadata,
    PatchModel,
    RequestModel,
    StrictFloat,
    StrictInt,
    Text,
)

MAX_MESSAGE_BYTES = 100 * 1024
MAX_TAGS = 20
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"


class CaseStatus(StrEnum):
    ACTIVE = "active"
    INVESTIGATING = "investigating"
    STALLED = "stalled"
    RESOLVED = "resolved"
    VALIDATED = "validated"
    DOCUMENTING = "documenting"
    ARCHIVED = "archived"


class CasePriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Visibility(StrEnum):
    PRIVATE = "private"
    TEAM = "team"
    ORGANIZATION = "organization"


class ParticipantRole(StrEnum):
    OWNER = "owner"
    COLLABORATOR = "collaborator"
    VIEWER = "viewer"


class MessageType(StrEnum):
    USER_QUERY = "user_query"
    AGENT_RESPONSE = "agent_response"
    SYSTEM_EVENT = "system_event"
    DATA_UPLOAD = "data_upload"
    CASE_NOTE = "case_note"
    STATUS_CHANGE = "status_change"


# What a person may post; the others are written by the agent and the pipelines.
CLIENT_MESSAGE_TYPES = frozenset({MessageType.USER_QUERY, MessageType.CASE_NOTE})


class HypothesisStatus(StrEnum):
    CAPTURED = "captured"
    ACTIVE = "active"
    VALIDATED = "validated"
    REFUTED = "refuted"
    RETIRED = "retired"


class HypothesisCategory(StrEnum):
    CODE = "code"
    CONFIG = "config"
    ENVIRONMENT = "environment"
    NETWORK = "network"
    DATA = "data"
    HARDWARE = "hardware"
    EXTERNAL = "external"
    HUMAN = "human"
    OTHER = "other"


class SolutionCategory(StrEnum):
    FIX = "fix"
    MITIGATION = "mitigation"
    ESCALATION = "escalation"
    INVESTIGATION = "investigation"


class SolutionStatus(StrEnum):
    PROPOSED = "proposed"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def _check_tags(tags: list[str]) -> list[str]:
    import re

    for tag in tags:
        if not re.match(TAG_PATTERN, tag):
            raise ValueError("each tag must be 1-64 letters, digits or . _ : / -")
    return list(dict.fromkeys(tags))  # de-duplicated, order kept


class CaseCreate(RequestModel):
    title: Line = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=10_000)
    priority: CasePriority = CasePriority.MEDIUM
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    visibility: Visibility = Visibility.PRIVATE
    team_id: str | None = Field(default=None, max_length=40)
    org_id: str | None = Field(default=None, max_length=40)

    _tags = field_validator("tags")(_check_tags)


class CaseUpdate(PatchModel):
    clearable: ClassVar[frozenset[str]] = frozenset({"team_id", "org_id"})

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    priority: CasePriority | None = None
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    visibility: Visibility | None = None
    team_id: str | None = Field(default=None, max_length=40)
    org_id: str | None = Field(default=None, max_length=40)

    _tags = field_validator("tags")(lambda v: None if v is None else _check_tags(v))


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    title: str
    description: str
    status: CaseStatus
    priority: CasePriority
    tags: list[str]
    visibility: Visibility
    team_id: str | None
    org_id: str | None
    owner_id: str
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    my_role: ParticipantRole | None = Field(
        default=None, description="The caller's effective role on this case"
    )


class StatusChange(RequestModel):
    status: CaseStatus
    reason: Text = Field(default="", max_length=2000)


class StatusTransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    transition_id: str
    from_status: CaseStatus
    to_status: CaseStatus
    changed_by: str | None
    reason: str
    created_at: datetime


class MessageCreate(RequestModel):
    content: Text = Field(min_length=1, description="At most 100 KiB of UTF-8")
    type: MessageType = MessageType.USER_QUERY
    metadata: Metadata = Field(default_factory=dict)

    @field_validator("content")
    @classmethod
    def _size(cls, value: str) -> str:
        if len(value.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise ValueError(f"content must be at most {MAX_MESSAGE_BYTES} bytes")
        return value

    @field_validator("type")
    @classmethod
    def _client_type(cls, value: MessageType) -> MessageType:
        if value not in CLIENT_MESSAGE_TYPES:
            allowed = ", ".join(sorted(t.value for t in CLIENT_MESSAGE_TYPES))
            raise ValueError(f"clients may post only: {allowed}")
        return value


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: str
    case_id: str
    author_id: str | None
    type: MessageType
    content: str
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime


EvidenceItem = str


class HypothesisCreate(RequestModel):
    statement: Line = Field(min_length=1, max_length=500)
    category: HypothesisCategory = HypothesisCategory.OTHER
    rationale: Text = Field(default="", max_length=5000)
    initial_likelihood: StrictFloat = Field(default=0.5, ge=0, le=1)


class HypothesisUpdate(PatchModel):
    """Evidence is appended, never rewritten: the likelihood is derived from it."""

    statement: Line | None = Field(default=None, min_length=1, max_length=500)
    category: HypothesisCategory | None = None
    rationale: Text | None = Field(default=None, max_length=5000)
    add_supporting_evidence: list[Text] = Field(default_factory=list, max_length=50)
    add_refuting_evidence: list[Text] = Field(default_factory=list, max_length=50)
    turns_without_progress: StrictInt | None = Field(default=None, ge=0, le=1000)

    @field_validator("add_supporting_evidence", "add_refuting_evidence")
    @classmethod
    def _items(cls, value: list[str]) -> list[str]:
        if any(not item.strip() or len(item) > 2000 for item in value):
            raise ValueError("each evidence item must be 1-2000 characters")
        return value


class HypothesisOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hypothesis_id: str
    case_id: str
    statement: str
    category: HypothesisCategory
    rationale: str
    status: HypothesisStatus
    initial_likelihood: float
    likelihood: float
    supporting_evidence: list[str]
    refuting_evidence: list[str]
    turns_without_progress: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    concluded_at: datetime | None


class SolutionCreate(RequestModel):
    title: Line = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=10_000)
    category: SolutionCategory
    steps: list[Text] = Field(default_factory=list, max_length=50)
    risk_level: RiskLevel = RiskLevel.MEDIUM
    hypothesis_id: str | None = Field(default=None, max_length=40)


class SolutionUpdate(PatchModel):
    clearable: ClassVar[frozenset[str]] = frozenset({"outcome"})

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    steps: list[Text] | None = Field(default=None, max_length=50)
    risk_level: RiskLevel | None = None
    status: SolutionStatus | None = None
    outcome: Text | None = Field(default=None, max_length=10_000)


class SolutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    solution_id: str
    case_id: str
    hypothesis_id: str | None
    title: str
    description: str
    category: SolutionCategory
    status: SolutionStatus
    steps: list[str]
    risk_level: RiskLevel
    outcome: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    applied_at: datetime | None


class ParticipantAdd(RequestModel):
    """By user id, never by email: answering "no such user" for an address would let
    anyone probe which addresses have accounts."""

    user_id: str = Field(min_length=1, max_length=40)
    role: ParticipantRole


class ParticipantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    user_id: str
    role: ParticipantRole
    added_by: str
    added_at: datetime


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: str
    actor_id: str | None
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    created_at: datetime
