"""The live-telemetry contract: what the agent asks a cluster's Prometheus, Loki, Tempo and
Alertmanager, and what it gets back, independent of their wire formats (the adapters in
`adapters/telemetry/` translate). Credentials travel in `Credentials`, whose secrets are
never printed, logged or serialised by accident."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

MAX_QUERY_TIMEOUT_SECONDS = 300
MAX_LOG_LIMIT = 5_000
MAX_TRACE_LIMIT = 100
Query = Annotated[str, StringConstraints(min_length=1, max_length=4_000)]


class Backend(StrEnum):
    """A cluster's telemetry components; each is a capability when its URL is set."""

    PROMETHEUS = "prometheus"
    LOKI = "loki"
    TEMPO = "tempo"
    ALERTMANAGER = "alertmanager"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Credentials(_Frozen):
    """How we authenticate to a cluster's endpoints: nothing, a bearer token, or basic
    auth. SecretStr keeps the values out of reprs, logs and model dumps."""

    kind: Literal["none", "bearer", "basic"] = "none"
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None

    def headers(self) -> dict[str, str]:
        if self.kind == "bearer" and self.token is not None:
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        return {}

    def basic(self) -> tuple[str, str] | None:
        if self.kind == "basic" and self.username is not None and self.password is not None:
            return (self.username, self.password.get_secret_value())
        return None


class Endpoint(_Frozen):
    url: str
    credentials: Credentials = Credentials()
    verify_tls: bool = True
    # The whole request's budget (connect + read), the query's own timeout stays below it.
    timeout_seconds: float = 30.0


class TelemetryError(Exception):
    """A backend refused or failed a query. `retryable` says whether the same call may
    succeed later (unreachable, 5xx, timeout) or must change (a bad query: 4xx)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


# -- metrics (PromQL) ---------------------------------------------------------------------
class MetricQuery(_Frozen):
    """An instant query at `time` (now when unset), or a range query when `start` is set:
    from `start` to `end` (now) every `step_seconds`."""

    query: Query
    time: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    step_seconds: float | None = Field(default=None, gt=0, le=86_400)
    timeout_seconds: float = Field(default=30, gt=0, le=MAX_QUERY_TIMEOUT_SECONDS)


class MetricSeries(_Frozen):
    labels: dict[str, str]
    # (unix seconds, value as Prometheus wrote it: "NaN" and "+Inf" stay readable)
    values: list[tuple[float, str]]


class MetricResult(_Frozen):
    result_type: Literal["vector", "matrix", "scalar", "string"]
    series: list[MetricSeries]
    warnings: list[str] = Field(default_factory=list)


# -- logs (LogQL) -------------------------------------------------------------------------
class LogQuery(_Frozen):
    query: Query
    start: datetime | None = None
    end: datetime | None = None
    limit: int = Field(default=100, ge=1, le=MAX_LOG_LIMIT)
    direction: Literal["backward", "forward"] = "backward"


class LogEntry(_Frozen):
    timestamp: datetime
    labels: dict[str, str]
    line: str


# -- traces (Tempo) -----------------------------------------------------------------------
class TraceQuery(_Frozen):
    """One trace by id, or a search: a TraceQL `query` (Tempo 2+) or `tags`
    (`service.name=checkout`), within `start`..`end`, by minimum duration."""

    trace_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{1,32}$")] | None = None
    query: Query | None = None
    tags: dict[str, str] = Field(default_factory=dict, max_length=20)
    start: datetime | None = None
    end: datetime | None = None
    min_duration_ms: int | None = Field(default=None, ge=0)
    limit: int = Field(default=20, ge=1, le=MAX_TRACE_LIMIT)


class Span(_Frozen):
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    start: datetime
    duration_ms: float
    status: Literal["unset", "ok", "error"] = "unset"
    status_message: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)


class Trace(_Frozen):
    trace_id: str
    root_service: str
    root_name: str
    start: datetime
    duration_ms: float
    # Empty for a search result (Tempo's search returns trace headers, not spans).
    spans: list[Span] = Field(default_factory=list)


# -- alerts (Alertmanager API v2) -----------------------------------------------------------
class AlertQuery(_Frozen):
    # Alertmanager matchers: `alertname="HighLatency"`, `severity=~"critical|page"`.
    filters: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=20
    )
    include_silenced: bool = False
    include_inhibited: bool = False


class ActiveAlert(_Frozen):
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str


# -- health ---------------------------------------------------------------------------------
class BackendHealth(_Frozen):
    ok: bool
    latency_ms: int
    version: str | None = None
    error: str | None = None
