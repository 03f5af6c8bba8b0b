"""Tempo's query API: a trace by id (`/api/traces/{id}`, OTLP JSON in `batches`, or
`resourceSpans` in the v2 API's `trace`) and search (`/api/search`: TraceQL `q` or
`tags`). Ids arrive hex- or base64-encoded depending on the version; we print hex.
https://grafana.com/docs/tempo/latest/api_docs/"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from faultmaven.adapters.telemetry._http import get, probe, unix
from faultmaven.core.telemetry import (
    BackendHealth,
    Endpoint,
    Span,
    TelemetryError,
    Trace,
    TraceQuery,
)

HEX = re.compile(r"^[0-9a-fA-F]+$")
STATUS = {
    0: "unset",
    1: "ok",
    2: "error",
    "STATUS_CODE_UNSET": "unset",
    "STATUS_CODE_OK": "ok",
    "STATUS_CODE_ERROR": "error",
}
MAX_ATTRIBUTES = 30


def query(endpoint: Endpoint, q: TraceQuery) -> list[Trace]:
    if q.trace_id:
        return [trace(endpoint, q.trace_id)]
    params: dict[str, Any] = {"limit": q.limit}
    if q.query:
        params["q"] = q.query
    elif q.tags:
        params["tags"] = " ".join(f"{k}={v}" for k, v in q.tags.items())
    if q.start is not None:
        params["start"] = int(unix(q.start))
        params["end"] = int(unix(q.end))
    if q.min_duration_ms is not None:
        params["minDuration"] = f"{q.min_duration_ms}ms"
    return parse_search(get(endpoint, "/api/search", params))


def trace(endpoint: Endpoint, trace_id: str) -> Trace:
    try:
        body = get(endpoint, f"/api/traces/{trace_id.lower()}")
    except TelemetryError as exc:
        if exc.status == 404:
            raise TelemetryError(
                f"no trace {trace_id} in Tempo", retryable=False, status=404
            ) from exc
        raise
    return parse_trace(body, trace_id.lower())


def parse_search(body: Any) -> list[Trace]:
    if not isinstance(body, dict):
        raise TelemetryError("Tempo's search did not answer an object", retryable=False)
    found = []
    for item in body.get("traces") or []:
        found.append(
            Trace(
                trace_id=_hex(str(item.get("traceID", ""))),
                root_service=str(item.get("rootServiceName", "")),
                root_name=str(item.get("rootTraceName", "")),
                start=_from_ns(item.get("startTimeUnixNano", 0)),
                duration_ms=float(item.get("durationMs", 0) or 0),
            )
        )
    return found


def parse_trace(body: Any, trace_id: str) -> Trace:
    if not isinstance(body, dict):
        raise TelemetryError("Tempo did not answer a trace object", retryable=False)
    resources = (
        body.get("batches")
        or (body.get("trace") or {}).get("resourceSpans")
        or body.get("resourceSpans")
        or []
    )
    spans: list[Span] = []
    for resource in resources:
        attributes = _attributes((resource.get("resource") or {}).get("attributes"))
        service = attributes.get("service.name", "unknown")
        for scope in (
            resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []
        ):
            for raw in scope.get("spans") or []:
                start_ns = int(raw.get("startTimeUnixNano", 0))
                end_ns = int(raw.get("endTimeUnixNano", start_ns))
                status = raw.get("status") or {}
                parent = raw.get("parentSpanId")
                spans.append(
                    Span(
                        span_id=_hex(str(raw.get("spanId", ""))),
                        parent_span_id=_hex(str(parent)) if parent else None,
                        name=str(raw.get("name", "")),
                        service=service,
                        start=_from_ns(start_ns),
                        duration_ms=max(0, end_ns - start_ns) / 1_000_000,
                        status=STATUS.get(status.get("code", 0), "unset"),
                        status_message=str(status.get("message", "")),
                        attributes=dict(
                            list(_attributes(raw.get("attributes")).items())[:MAX_ATTRIBUTES]
                        ),
                    )
                )
    if not spans:
        raise TelemetryError(f"trace {trace_id} has no spans", retryable=False, status=404)
    spans.sort(key=lambda s: s.start)
    ids = {s.span_id for s in spans}
    root = next(
        (s for s in spans if s.parent_span_id is None or s.parent_span_id not in ids), spans[0]
    )
    end = max(s.start.timestamp() * 1000 + s.duration_ms for s in spans)
    return Trace(
        trace_id=trace_id,
        root_service=root.service,
        root_name=root.name,
        start=spans[0].start,
        duration_ms=round(end - spans[0].start.timestamp() * 1000, 3),
        spans=spans,
    )


def _attributes(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        value = item.get("value") or {}
        for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if kind in value:
                out[str(item.get("key"))] = str(value[kind])
                break
    return out


def _hex(value: str) -> str:
    """Span and trace ids: hex as they are, base64 (protobuf JSON) decoded to hex."""
    if not value or (HEX.match(value) and len(value) in (16, 32)):
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value.lower()


def _from_ns(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value or 0) / 1_000_000_000, UTC)


def health(endpoint: Endpoint) -> BackendHealth:
    return probe(endpoint, "/ready", "/api/status/buildinfo")
