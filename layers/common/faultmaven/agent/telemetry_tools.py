"""The agent's live-telemetry tools: PromQL, LogQL, Tempo and Alertmanager against the
registered clusters. Their arguments, and how a result is written for the model: short,
readable lines (series with their range and a few sampled points, log lines in time
order, a trace as its span tree), redacted like every evidence extraction, since a log
line or a label can hold a token. The same text is what a saved result becomes as case
evidence, so preprocessing reads what the model read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from faultmaven.agent.memory import cap
from faultmaven.core.telemetry import (
    MAX_LOG_LIMIT,
    MAX_QUERY_TIMEOUT_SECONDS,
    MAX_TRACE_LIMIT,
    ActiveAlert,
    AlertQuery,
    Backend,
    LogEntry,
    LogQuery,
    MetricQuery,
    MetricResult,
    Trace,
    TraceQuery,
)
from faultmaven.preprocessing.models import DataType
from faultmaven.preprocessing.redact import redact

MAX_RANGE_MINUTES = 7 * 24 * 60
SERIES_SHOWN = 40
POINTS_SHOWN = 12
LINE_CHARS = 400
SPANS_SHOWN = 150


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster: str | None = Field(
        default=None, max_length=63, description="the cluster's name; omit for the default one"
    )
    save_as_evidence: bool = Field(
        default=False,
        description="also add the result to the case as evidence (it is preprocessed like "
        "an upload and can be cited later)",
    )


class QueryMetricsArgs(_Args):
    query: str = Field(min_length=1, max_length=4000, description="PromQL")
    range_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RANGE_MINUTES,
        description="a range query over the N minutes before `end`; omit for an instant query",
    )
    end: datetime | None = Field(default=None, description="ISO 8601; default now")
    step_seconds: int | None = Field(default=None, ge=1, le=86_400)
    timeout_seconds: float = Field(default=20, gt=0, le=MAX_QUERY_TIMEOUT_SECONDS)


class QueryLogsArgs(_Args):
    query: str = Field(
        min_length=1, max_length=4000, description='LogQL, e.g. {app="checkout"} |= "error"'
    )
    range_minutes: int = Field(default=60, ge=1, le=MAX_RANGE_MINUTES)
    end: datetime | None = Field(default=None, description="ISO 8601; default now")
    limit: int = Field(default=100, ge=1, le=MAX_LOG_LIMIT)
    direction: Literal["backward", "forward"] = Field(
        default="backward", description="backward: newest first"
    )


class QueryTracesArgs(_Args):
    trace_id: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{1,32}$", description="one trace, with its spans"
    )
    query: str | None = Field(
        default=None,
        max_length=4000,
        description='TraceQL search: {status=error && resource.service.name="api"}',
    )
    tags: dict[str, str] = Field(
        default_factory=dict, max_length=20, description='tag search: {"service.name": "api"}'
    )
    range_minutes: int = Field(default=60, ge=1, le=MAX_RANGE_MINUTES)
    min_duration_ms: int | None = Field(default=None, ge=0)
    limit: int = Field(default=20, ge=1, le=MAX_TRACE_LIMIT)


class GetAlertsArgs(_Args):
    filters: list[str] = Field(
        default_factory=list,
        max_length=20,
        description='Alertmanager matchers, e.g. severity="critical" or service=~"api|web"',
    )
    include_silenced: bool = False


# name → (description, arguments, the backend a cluster needs for it)
TELEMETRY_TOOLS: dict[str, tuple[str, type[_Args], Backend]] = {
    "query_metrics": (
        "PromQL against a cluster's Prometheus: an instant query, or a range query over "
        "the last `range_minutes`. Use it to confirm an anomaly, its start and its scope.",
        QueryMetricsArgs,
        Backend.PROMETHEUS,
    ),
    "query_logs": (
        "LogQL against a cluster's Loki: log lines of a time window, newest first.",
        QueryLogsArgs,
        Backend.LOKI,
    ),
    "query_traces": (
        "A trace by id from a cluster's Tempo (its span tree with errors and durations), "
        "or a search (TraceQL or tags) for matching traces.",
        QueryTracesArgs,
        Backend.TEMPO,
    ),
    "get_alerts": (
        "The alerts firing now in a cluster's Alertmanager, optionally filtered by matchers.",
        GetAlertsArgs,
        Backend.ALERTMANAGER,
    ),
}


def _window(minutes: int, end: datetime | None) -> tuple[datetime, datetime]:
    stop = end or datetime.now(UTC)
    if stop.tzinfo is None:
        stop = stop.replace(tzinfo=UTC)
    return stop - timedelta(minutes=minutes), stop


def metric_query(args: QueryMetricsArgs, cap_seconds: float) -> MetricQuery:
    timeout = min(args.timeout_seconds, cap_seconds)
    if args.range_minutes is None:
        return MetricQuery(query=args.query, time=args.end, timeout_seconds=timeout)
    start, end = _window(args.range_minutes, args.end)
    return MetricQuery(
        query=args.query,
        start=start,
        end=end,
        step_seconds=args.step_seconds,
        timeout_seconds=timeout,
    )


def log_query(args: QueryLogsArgs) -> LogQuery:
    start, end = _window(args.range_minutes, args.end)
    return LogQuery(
        query=args.query, start=start, end=end, limit=args.limit, direction=args.direction
    )


def trace_query(args: QueryTracesArgs) -> TraceQuery:
    start, end = _window(args.range_minutes, None)
    return TraceQuery(
        trace_id=args.trace_id,
        query=args.query,
        tags=args.tags,
        start=start,
        end=end,
        min_duration_ms=args.min_duration_ms,
        limit=args.limit,
    )


def alert_query(args: GetAlertsArgs) -> AlertQuery:
    return AlertQuery(filters=args.filters, include_silenced=args.include_silenced)


# -- writing results for the model ---------------------------------------------------------
def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def metrics_text(cluster: str, query: str, result: MetricResult) -> str:
    lines = [
        f"Prometheus on {cluster}: `{query}` → {result.result_type}, {len(result.series)} series"
    ]
    for series in result.series[:SERIES_SHOWN]:
        points = series.values
        if not points:
            continue
        name = _labels(series.labels)
        if len(points) == 1:
            lines.append(f"{name} = {points[0][1]} at {_at(points[0][0])}")
            continue
        numbers = [n for n in (_number(v) for _, v in points) if n is not None]
        stats = (
            f"min {min(numbers):g}, max {max(numbers):g}, last {points[-1][1]}" if numbers else ""
        )
        every = max(1, len(points) // POINTS_SHOWN)
        sample = ", ".join(f"{_at(t)[11:19]} {v}" for t, v in points[::every][:POINTS_SHOWN])
        lines.append(
            f"{name}: {len(points)} points {_at(points[0][0])}..{_at(points[-1][0])}; {stats}\n"
            f"    {sample}"
        )
    if len(result.series) > SERIES_SHOWN:
        lines.append(
            f"[{len(result.series) - SERIES_SHOWN} more series not shown: aggregate with "
            "sum by (…) or topk]"
        )
    lines += [f"warning: {w}" for w in result.warnings]
    if not result.series:
        lines.append("No data: the selector matches nothing in that window.")
    return clean("\n".join(lines))


def logs_text(cluster: str, query: str, entries: list[LogEntry]) -> str:
    streams: dict[str, str] = {}
    lines = [f"Loki on {cluster}: `{query}` → {len(entries)} lines"]
    body = []
    for entry in entries:
        key = _labels(entry.labels)
        handle = streams.setdefault(key, f"L{len(streams) + 1}")
        body.append(
            f"{entry.timestamp.strftime('%Y-%m-%dT%H:%M:%S.%fZ')[:-4]}Z {handle} "
            f"{cap(entry.line.rstrip(), LINE_CHARS)}"
        )
    lines += [f"{handle} = {key}" for key, handle in streams.items()]
    lines += body
    if not entries:
        lines.append("No log lines matched in that window.")
    return clean("\n".join(lines))


def traces_text(cluster: str, traces: list[Trace], *, by_id: bool) -> str:
    if not by_id:
        lines = [f"Tempo on {cluster}: {len(traces)} traces"]
        lines += [
            f'- {t.trace_id} {t.root_service} "{t.root_name}" {t.duration_ms:g} ms at '
            f"{t.start.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            for t in traces
        ]
        if not traces:
            lines.append("No traces matched in that window.")
        return clean("\n".join(lines))
    trace = traces[0]
    errors = [s for s in trace.spans if s.status == "error"]
    lines = [
        f"Tempo on {cluster}: trace {trace.trace_id}, root {trace.root_service} "
        f'"{trace.root_name}", {trace.duration_ms:g} ms, {len(trace.spans)} spans, '
        f"{len(errors)} with errors"
    ]
    children: dict[str | None, list[int]] = {}
    ids = {s.span_id for s in trace.spans}
    for i, span in enumerate(trace.spans):
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(i)
    shown = 0
    stack = [(i, 0) for i in reversed(children.get(None, []))]
    while stack and shown < SPANS_SHOWN:
        index, depth = stack.pop()
        span = trace.spans[index]
        mark = ""
        if span.status == "error":
            detail = span.status_message or ", ".join(
                f"{k}={v}" for k, v in span.attributes.items() if "status" in k or "error" in k
            )
            mark = f" ERROR {cap(detail, 200)}".rstrip()
        lines.append(f"{'  ' * depth}- {span.service}: {span.name} {span.duration_ms:g} ms{mark}")
        shown += 1
        stack += [(c, depth + 1) for c in reversed(children.get(span.span_id, []))]
    if len(trace.spans) > shown:
        lines.append(f"[{len(trace.spans) - shown} more spans not shown]")
    return clean("\n".join(lines))


def alerts_text(cluster: str, alerts: list[ActiveAlert]) -> str:
    lines = [f"Alertmanager on {cluster}: {len(alerts)} alerts"]
    for alert in alerts[:100]:
        labels = dict(alert.labels)
        name = labels.pop("alertname", "?")
        summary = alert.annotations.get("summary") or alert.annotations.get("description", "")
        lines.append(
            f"- {name} [{labels.pop('severity', 'none')}, {alert.state}] since "
            f"{alert.starts_at.strftime('%Y-%m-%dT%H:%M:%SZ')}: {cap(summary, 300)} "
            f"{_labels(labels)}"
        )
    if not alerts:
        lines.append("Nothing is firing.")
    return clean("\n".join(lines))


def clean(text: str) -> str:
    """What the model and the history see: secrets and PII redacted."""
    return redact(text).text


def evidence_file(tool: str, cluster: str, text: str) -> tuple[str, str, DataType]:
    """File name, content type and data type of a saved result (its redacted text)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = {
        "query_metrics": DataType.METRICS_AND_PERFORMANCE,
        "query_logs": DataType.LOGS_AND_ERRORS,
        "query_traces": DataType.TRACE_DATA,
        "get_alerts": DataType.UNSTRUCTURED_TEXT,
    }[tool]
    suffix = "log" if kind is DataType.LOGS_AND_ERRORS else "txt"
    return f"{tool}-{cluster}-{stamp}.{suffix}", "text/plain", kind
