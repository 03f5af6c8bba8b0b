"""The `Telemetry` port over HTTP: one module per backend's wire format."""

from __future__ import annotations

from faultmaven.adapters.telemetry import alertmanager, loki, prometheus, tempo
from faultmaven.core.telemetry import (
    ActiveAlert,
    AlertQuery,
    Backend,
    BackendHealth,
    Endpoint,
    LogEntry,
    LogQuery,
    MetricQuery,
    MetricResult,
    Trace,
    TraceQuery,
)

_HEALTH = {
    Backend.PROMETHEUS: prometheus.health,
    Backend.LOKI: loki.health,
    Backend.TEMPO: tempo.health,
    Backend.ALERTMANAGER: alertmanager.health,
}


class HttpTelemetry:
    def query_metrics(self, endpoint: Endpoint, query: MetricQuery) -> MetricResult:
        return prometheus.query(endpoint, query)

    def query_logs(self, endpoint: Endpoint, query: LogQuery) -> list[LogEntry]:
        return loki.query(endpoint, query)

    def query_traces(self, endpoint: Endpoint, query: TraceQuery) -> list[Trace]:
        return tempo.query(endpoint, query)

    def get_alerts(self, endpoint: Endpoint, query: AlertQuery) -> list[ActiveAlert]:
        return alertmanager.query(endpoint, query)

    def health(self, backend: Backend, endpoint: Endpoint) -> BackendHealth:
        return _HEALTH[backend](endpoint)
