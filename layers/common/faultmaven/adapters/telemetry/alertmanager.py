"""Alertmanager's API v2 (`/api/v2/alerts`): the alerts firing now, with matchers.
https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from faultmaven.adapters.telemetry._http import get, probe
from faultmaven.core.telemetry import (
    ActiveAlert,
    AlertQuery,
    BackendHealth,
    Endpoint,
    TelemetryError,
)


def query(endpoint: Endpoint, q: AlertQuery) -> list[ActiveAlert]:
    params: list[tuple[str, Any]] = [
        ("active", "true"),
        ("silenced", str(q.include_silenced).lower()),
        ("inhibited", str(q.include_inhibited).lower()),
    ]
    params += [("filter", f) for f in q.filters]
    return parse(get(endpoint, "/api/v2/alerts", params))


def parse(body: Any) -> list[ActiveAlert]:
    if not isinstance(body, list):
        raise TelemetryError("Alertmanager did not answer a list of alerts", retryable=False)
    alerts = [
        ActiveAlert(
            fingerprint=str(item.get("fingerprint", "")),
            labels={str(k): str(v) for k, v in (item.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in (item.get("annotations") or {}).items()},
            state=str((item.get("status") or {}).get("state", "unknown")),
            starts_at=datetime.fromisoformat(item["startsAt"]),
            ends_at=datetime.fromisoformat(item["endsAt"]) if item.get("endsAt") else None,
            generator_url=str(item.get("generatorURL", "")),
        )
        for item in body
    ]
    alerts.sort(key=lambda a: a.starts_at, reverse=True)
    return alerts


def health(endpoint: Endpoint) -> BackendHealth:
    return probe(endpoint, "/-/ready", "/api/v2/status")
