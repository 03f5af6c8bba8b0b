"""Clusters the agent may query live: their Prometheus (or Thanos), Loki, Tempo and
Alertmanager endpoints, the credentials for them (write-only: sealed at rest, never in a
response), and the status the last health check found."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from faultmaven.core.models import (
    Line,
    PatchModel,
    RequestModel,
    StrictBool,
    Text,
    refuse_hidden_characters,
)
from faultmaven.core.telemetry import Backend, BackendHealth

ClusterName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError("put credentials in `credentials`, not in the URL")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return value.rstrip("/")


def _visible(value: object) -> object:
    return refuse_hidden_characters(value, multiline=False) if isinstance(value, str) else value


# A secret as sent: no control or bidi characters (no server accepts them in a header).
Secret = Annotated[SecretStr, BeforeValidator(_visible)]
Url = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]


class ClusterState(StrEnum):
    UNKNOWN = "unknown"  # never checked
    HEALTHY = "healthy"  # every configured endpoint answered
    DEGRADED = "degraded"  # some did
    UNREACHABLE = "unreachable"  # none did


class ClusterEndpoints(RequestModel):
    prometheus_url: Url | None = Field(default=None, description="Prometheus, Thanos or Mimir")
    loki_url: Url | None = None
    tempo_url: Url | None = None
    alertmanager_url: Url | None = None

    def url(self, backend: Backend) -> str | None:
        value: str | None = getattr(self, f"{backend.value}_url")
        return value

    def capabilities(self) -> list[Backend]:
        return [b for b in Backend if self.url(b)]


class ClusterCredentials(RequestModel):
    """A bearer token, or basic auth; sent to every endpoint of the cluster."""

    kind: Literal["bearer", "basic"] = "bearer"
    token: Secret | None = Field(default=None, max_length=8192)
    username: Line | None = Field(default=None, min_length=1, max_length=200)
    password: Secret | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _complete(self) -> ClusterCredentials:
        if self.kind == "bearer" and not (self.token and self.token.get_secret_value()):
            raise ValueError("a bearer credential needs `token`")
        if self.kind == "basic" and not (self.username and self.password):
            raise ValueError("basic auth needs `username` and `password`")
        return self


class ClusterCreate(RequestModel):
    name: ClusterName = Field(
        description="what the agent and alerts call it (an alert's `cluster` label)"
    )
    description: Text | None = Field(default=None, max_length=2000)
    environment: Line | None = Field(default=None, max_length=40)
    endpoints: ClusterEndpoints
    credentials: ClusterCredentials | None = None
    verify_tls: StrictBool = True
    is_default: StrictBool = Field(
        default=False, description="queried when the agent names no cluster"
    )

    @model_validator(mode="after")
    def _something(self) -> ClusterCreate:
        if not self.endpoints.capabilities():
            raise ValueError("a cluster needs at least one endpoint URL")
        return self


class ClusterUpdate(PatchModel):
    clearable: ClassVar[frozenset[str]] = frozenset({"description", "environment", "credentials"})

    description: Text | None = Field(default=None, max_length=2000)
    environment: Line | None = Field(default=None, max_length=40)
    endpoints: ClusterEndpoints | None = None
    credentials: ClusterCredentials | None = Field(
        default=None, description="replaces the stored credentials; null removes them"
    )
    verify_tls: StrictBool | None = None
    is_default: StrictBool | None = None
    enabled: StrictBool | None = None


class ClusterStatus(BaseModel):
    state: ClusterState
    checked_at: datetime | None
    components: dict[Backend, BackendHealth] = Field(default_factory=dict)


class ClusterOut(BaseModel):
    cluster_id: str
    name: str
    description: str | None
    environment: str | None
    endpoints: dict[str, str | None]
    capabilities: list[Backend]
    auth: Literal["none", "bearer", "basic"] = Field(
        description="how we authenticate; the credentials themselves are never returned"
    )
    verify_tls: bool
    is_default: bool
    enabled: bool
    status: ClusterStatus
    created_by: str
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(use_enum_values=False)
