"""Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`); Thanos and Mimir
speak the same. https://prometheus.io/docs/prometheus/latest/querying/api/"""

from __future__ import annotations

from typing import Any

from faultmaven.adapters.telemetry._http import get, probe, unix
from faultmaven.core.telemetry import (
    BackendHealth,
    Endpoint,
    MetricQuery,
    MetricResult,
    MetricSeries,
    TelemetryError,
)

# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000


def query(endpoint: Endpoint, q: MetricQuery) -> MetricResult:
    timeout = f"{q.timeout_seconds:g}s"
    budget = q.timeout_seconds + 5
    if q.start is not None:
        start, end = unix(q.start), unix(q.end)
        if end <= start:
            raise TelemetryError("the range's end must be after its start", retryable=False)
        step = q.step_seconds or max(1.0, (end - start) / 250)
        if (end - start) / step > MAX_POINTS:
            step = (end - start) / MAX_POINTS
        data = get(
            endpoint,
            "/api/v1/query_range",
            {"query": q.query, "start": start, "end": end, "step": step, "timeout": timeout},
            timeout=budget,
        )
    else:
        params: dict[str, Any] = {"query": q.query, "timeout": timeout}
        if q.time is not None:
            params["time"] = unix(q.time)
        data = get(endpoint, "/api/v1/query", params, timeout=budget)
    return parse(data)


def parse(body: Any) -> MetricResult:
    if not isinstance(body, dict) or body.get("status") != "success":
        detail = body.get("error") if isinstance(body, dict) else None
        raise TelemetryError(f"Prometheus answered an error: {detail or body!r}", retryable=False)
    data = body.get("data") or {}
    kind = data.get("resultType")
    result = data.get("result")
    series: list[MetricSeries] = []
    if kind in ("scalar", "string"):
        series.append(MetricSeries(labels={}, values=[_point(result)]))
    elif kind == "vector":
        for item in result or []:
            series.append(
                MetricSeries(labels=item.get("metric", {}), values=[_point(item["value"])])
            )
    elif kind == "matrix":
        for item in result or []:
            series.append(
                MetricSeries(
                    labels=item.get("metric", {}),
                    values=[_point(v) for v in item.get("values", [])],
                )
            )
    else:
        raise TelemetryError(f"unknown Prometheus result type {kind!r}", retryable=False)
    return MetricResult(
        result_type=kind, series=series, warnings=[str(w) for w in body.get("warnings", [])]
    )


def _point(pair: Any) -> tuple[float, str]:
    return (float(pair[0]), str(pair[1]))


def health(endpoint: Endpoint) -> BackendHealth:
    return probe(endpoint, "/-/ready", "/api/v1/status/buildinfo")
