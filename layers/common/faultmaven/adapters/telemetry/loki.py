"""Loki's query API (`/loki/api/v1/query_range` for log queries). Timestamps are Unix
nanoseconds as strings. https://grafana.com/docs/loki/latest/reference/loki-http-api/"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from faultmaven.adapters.telemetry._http import get, probe
from faultmaven.core.telemetry import BackendHealth, Endpoint, LogEntry, LogQuery, TelemetryError

DEFAULT_WINDOW = timedelta(hours=1)


def _ns(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1_000_000_000))


def query(endpoint: Endpoint, q: LogQuery) -> list[LogEntry]:
    end = q.end or datetime.now(UTC)
    start = q.start or end - DEFAULT_WINDOW
    if end <= start:
        raise TelemetryError("the range's end must be after its start", retryable=False)
    body = get(
        endpoint,
        "/loki/api/v1/query_range",
        {
            "query": q.query,
            "start": _ns(start),
            "end": _ns(end),
            "limit": q.limit,
            "direction": q.direction,
        },
    )
    return parse(body, q.limit, q.direction)


def parse(body: Any, limit: int, direction: str = "backward") -> list[LogEntry]:
    if not isinstance(body, dict) or body.get("status") != "success":
        raise TelemetryError(f"Loki answered an error: {body!r:.300}", retryable=False)
    data = body.get("data") or {}
    if data.get("resultType") != "streams":
        raise TelemetryError(
            "that is a metric query (it returns samples, not log lines): use query_metrics "
            'for PromQL, or a LogQL log selector such as {app="checkout"} |= "error"',
            retryable=False,
        )
    entries: list[LogEntry] = []
    for stream in data.get("result") or []:
        labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
        for value in stream.get("values") or []:
            entries.append(
                LogEntry(
                    timestamp=datetime.fromtimestamp(int(value[0]) / 1_000_000_000, UTC),
                    labels=labels,
                    line=str(value[1]),
                )
            )
    # Loki returns one list per stream; one timeline reads better, in the asked direction.
    entries.sort(key=lambda e: e.timestamp, reverse=direction == "backward")
    return entries[:limit]


def health(endpoint: Endpoint) -> BackendHealth:
    return probe(endpoint, "/ready", "/loki/api/v1/status/buildinfo")
