"""Our case vocabulary in the words of FaultMaven's clients. Their `state` has four
values where our lifecycle has seven: a translation table, not a rule (the lifecycle and
its transitions stay in `cases/lifecycle.py`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from faultmaven.cases.lifecycle import allowed_targets
from faultmaven.cases.models import CaseOut, CaseStatus, MessageOut, MessageType

State = Literal["inquiry", "investigating", "resolved", "closed"]


class CaseState(StrEnum):
    """`State` as a query filter."""

    INQUIRY = "inquiry"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    CLOSED = "closed"


S = CaseStatus
STATE_OF: dict[CaseStatus, State] = {
    S.ACTIVE: "inquiry",
    S.INVESTIGATING: "investigating",
    S.STALLED: "investigating",
    S.RESOLVED: "resolved",
    S.VALIDATED: "resolved",
    S.DOCUMENTING: "resolved",
    S.ARCHIVED: "closed",
}
STATUSES_OF: dict[str, frozenset[CaseStatus]] = {
    state: frozenset(s for s, v in STATE_OF.items() if v == state)
    for state in ("inquiry", "investigating", "resolved", "closed")
}
OPEN_STATUSES = frozenset(s for s, v in STATE_OF.items() if v != "closed")
ROLE_OF = {
    MessageType.USER_QUERY: "user",
    MessageType.AGENT_RESPONSE: "assistant",
}


class CompatCase(BaseModel):
    case_id: str
    title: str
    description: str
    state: State
    status: str  # ours, for a reader that wants the finer lifecycle
    priority: str
    user_id: str
    owner_id: str
    organization_id: str | None
    enterprise_id: str
    team_id: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    closure_reason: str | None
    valid_next_states: list[State]
    is_terminal: bool
    current_turn: int | None = None
    last_activity_at: datetime
    shared_team_ids: list[str]


class CaseList(BaseModel):
    cases: list[CompatCase]
    total_count: int
    limit: int
    offset: int
    has_more: bool


class CompatMessage(BaseModel):
    message_id: str
    case_id: str
    role: Literal["user", "assistant", "system"]
    content: str
    created_at: datetime
    turn_number: int
    author_id: str | None
    metadata: dict[str, object]


class MessageList(BaseModel):
    messages: list[CompatMessage]
    total_count: int
    retrieved_count: int
    has_more: bool
    next_offset: int | None


def compat_case(case: CaseOut, *, current_turn: int | None = None) -> CompatCase:
    state = STATE_OF[case.status]
    nexts = [STATE_OF[s] for s in allowed_targets(case.status)]
    return CompatCase(
        case_id=case.case_id,
        title=case.title,
        description=case.description,
        state=state,
        status=case.status.value,
        priority=case.priority.value,
        user_id=case.owner_id,
        owner_id=case.owner_id,
        organization_id=case.org_id,
        # The extension requires a non-empty workspace id: a case outside any
        # organization belongs to its owner's personal one.
        enterprise_id=case.org_id or case.owner_id,
        team_id=case.team_id,
        created_at=case.created_at,
        updated_at=case.updated_at,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
        closure_reason="closed" if case.status is S.ARCHIVED else None,
        valid_next_states=list(dict.fromkeys(s for s in nexts if s != state)),
        is_terminal=case.status is S.ARCHIVED,
        current_turn=current_turn,
        last_activity_at=case.updated_at,
        shared_team_ids=[case.team_id] if case.team_id else [],
    )


def compat_messages(items: list[MessageOut]) -> list[CompatMessage]:
    """Messages (from the first one) with their role and the turn they belong to: a
    user's question opens a turn and the answer shares its number; other messages count
    in the turn they fall in."""
    turn = 0
    out = []
    for message in items:
        if message.type is MessageType.USER_QUERY:
            turn += 1
        stored = message.metadata.get("turn")
        if isinstance(stored, int) and not isinstance(stored, bool):
            turn = stored  # the agent's own count, which TurnResponse.turn_number reports
        out.append(
            CompatMessage(
                message_id=message.message_id,
                case_id=message.case_id,
                role=ROLE_OF.get(message.type, "system"),
                content=message.content,
                created_at=message.created_at,
                turn_number=turn,
                author_id=message.author_id,
                metadata=message.metadata,
            )
        )
    return out
