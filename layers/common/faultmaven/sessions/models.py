"""Session models: a client's conversation context, kept in Redis with a TTL."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from faultmaven.core.models import Metadata, RequestModel, StrictInt

CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class SessionStatus(StrEnum):
    ACTIVE = "active"


class SessionCreate(RequestModel):
    client_id: str | None = Field(
        default=None,
        pattern=CLIENT_ID_PATTERN,
        description="A stable id of the browser or device; the same client resumes its session",
    )
    timeout_minutes: StrictInt | None = Field(default=None, ge=60, le=480)
    metadata: Metadata = Field(default_factory=dict)


class SessionRecord(BaseModel):
    """What is stored under `session:{id}`."""

    session_id: str
    user_id: str
    client_id: str | None
    status: SessionStatus = SessionStatus.ACTIVE
    created_at: datetime
    last_activity_at: datetime
    expires_at: datetime
    timeout_minutes: int
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionOut(SessionRecord):
    session_resumed: bool = False
