"""The reply and request shapes of FaultMaven's clients, as their API layers send and
read them. Field names and casing are theirs (capabilities is camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from faultmaven.core.models import Line, Metadata, RequestModel, StrictInt
from faultmaven.sessions.models import CLIENT_ID_PATTERN


class CompatUser(BaseModel):
    user_id: str
    username: str
    email: str
    display_name: str
    roles: list[str]
    is_dev_user: bool = False
    is_active: bool = True
    created_at: datetime
    organization_id: str | None = None


class AuthTokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str = Field(description="A FaultMaven session opened with the login")
    user: CompatUser


class CompatLogin(RequestModel):
    """The extension sends `username` (which may be an email) and the password; it may
    also send `email` and `display_name`, which a login ignores."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    username: str | None = Field(default=None, max_length=320)
    email: str | None = Field(default=None, max_length=320)
    password: str = Field(min_length=1, max_length=128, repr=False)
    display_name: Line | None = Field(default=None, max_length=128)


class CompatRefresh(RequestModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    refresh_token: str = Field(min_length=1, max_length=4096, repr=False)


class LogoutReply(BaseModel):
    message: str
    all_sessions_ended: bool
    revoked_tokens: int


class AuthConfig(BaseModel):
    auth_mode: Literal["local"] = "local"
    supports_registration: bool = True
    login_endpoint: str = "/api/v1/auth/login"


class CompatSessionCreate(RequestModel):
    client_id: str | None = Field(default=None, pattern=CLIENT_ID_PATTERN)
    session_type: Literal["troubleshooting"] = "troubleshooting"
    timeout_minutes: StrictInt | None = Field(default=None, ge=60, le=480)
    metadata: Metadata | None = None


class CompatSession(BaseModel):
    session_id: str
    user_id: str
    client_id: str | None
    status: Literal["active", "expired", "terminated"] = "active"
    session_type: str = "troubleshooting"
    created_at: datetime
    last_activity: datetime
    expires_at: datetime
    timeout_minutes: int
    session_resumed: bool
    message: str
    metadata: dict[str, Any]


class Features(BaseModel):
    extensionKB: bool = False  # noqa: N815 - the client's casing
    adminKB: bool = True  # noqa: N815
    teamSharing: bool = True  # noqa: N815
    caseHistory: bool = True  # noqa: N815
    sso: bool = False
    managementConsole: bool = False  # noqa: N815


class Limits(BaseModel):
    maxFileBytes: int  # noqa: N815
    allowedExtensions: list[str]  # noqa: N815
    maxDocuments: int | None = None  # noqa: N815
    turnCeilingSeconds: int  # noqa: N815
    turnResponseBoundSeconds: int  # noqa: N815


class Capabilities(BaseModel):
    deploymentMode: Literal["self-hosted"] = "self-hosted"  # noqa: N815
    kbManagement: Literal["dashboard"] = "dashboard"  # noqa: N815
    dashboardUrl: str  # noqa: N815
    features: Features
    limits: Limits
    branding: dict[str, str] = Field(default_factory=lambda: {"name": "FaultMaven Serverless"})
