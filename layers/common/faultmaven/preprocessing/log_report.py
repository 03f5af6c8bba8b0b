"""Insights (short sentences) and the summary (<= 500 characters) of a log analysis.

Both are plain functions of the LogAnalysis, deterministic, so the same log always reads
the same way and tests can pin the wording.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from faultmaven.preprocessing.log_lines import MAX_LINE_CHARS
from faultmaven.preprocessing.log_models import (
    MAX_CLUSTERS,
    MAX_SUMMARY_CHARS,
    ErrorCluster,
    LogAnalysis,
    TimelineEvent,
)

MAX_INSIGHTS = 10
_QUOTE_CHARS = 90
_ONE_TEMPLATE_SHARE = 0.3  # above this, "N% from one template" is worth saying
_ONGOING_SHARE = 0.02  # last error within the last 2% of the log's span: still going on
_LEVEL_ORDER = ("FATAL", "ERROR", "WARN", "INFO", "DEBUG")


def build_insights(
    analysis: LogAnalysis,
    *,
    lifecycle: Sequence[TimelineEvent] = (),
    skipped_lines: int = 0,
) -> list[str]:
    """The few sentences an SRE would say after reading the log, most important first.

    `lifecycle` holds the first occurrence of each restart/shutdown/OOM/crash-like
    template (the timeline keeps one entry per line, so it may have dropped some).
    """
    spans_days = _spans_days(analysis)
    found = [
        *_error_volume(analysis),
        *_onset(analysis, spans_days),
        *_bursts(analysis, spans_days),
        *_lifecycle(lifecycle, spans_days),
        *_traces(analysis),
        *_ending(analysis, spans_days),
        *_coverage(analysis, skipped_lines),
    ]
    return found[:MAX_INSIGHTS]


def summarize(analysis: LogAnalysis) -> str:
    """One paragraph of at most 500 characters: size, time span, levels, then insights."""
    head = f"{analysis.line_count:,} lines"
    if analysis.time_range.first and analysis.time_range.last:
        head += f" from {analysis.time_range.first} to {analysis.time_range.last}"
    parts = [head]
    levels = ", ".join(
        f"{analysis.level_counts[name]:,} {name}"
        for name in _LEVEL_ORDER
        if analysis.level_counts.get(name)
    )
    if levels:
        parts.append(levels)
    parts.append(f"{analysis.template_count:,} templates")
    text = "; ".join(parts) + "."
    for insight in analysis.insights:
        candidate = f"{text} {insight[0].upper()}{insight[1:]}."
        if len(candidate) > MAX_SUMMARY_CHARS:
            if len(text) < MAX_SUMMARY_CHARS - 60:  # room for a shortened sentence
                text = _cut(candidate, MAX_SUMMARY_CHARS)
            break
        text = candidate
    return _cut(text, MAX_SUMMARY_CHARS)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _QUOTE_CHARS:
        text = text[: _QUOTE_CHARS - 1] + "…"
    return f"'{text}'"


def _n(value: int) -> str:
    return f"{value:,}"


def _lines(count: int, label: str = "") -> str:
    """`1 ERROR line`, `3,412 ERROR lines`."""
    noun = "line" if count == 1 else "lines"
    return f"{_n(count)} {label} {noun}" if label else f"{_n(count)} {noun}"


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "0%"


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 1:
        return "<1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _moment(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00").timestamp()


def _spans_days(analysis: LogAnalysis) -> bool:
    first, last = analysis.time_range.first, analysis.time_range.last
    return bool(first and last and first[:10] != last[:10])


def _when(at: str | None, line: int, spans_days: bool) -> str:
    if at is None:
        return f"line {_n(line)}"
    return (at.replace("T", " ") if spans_days else at[11:]).split(".")[0]


def _errors(analysis: LogAnalysis) -> int:
    return analysis.level_counts.get("ERROR", 0) + analysis.level_counts.get("FATAL", 0)


def _error_clusters(analysis: LogAnalysis) -> list[ErrorCluster]:
    return [c for c in analysis.clusters if c.level in ("ERROR", "FATAL")]


def _timeline(analysis: LogAnalysis, kind: str) -> list[TimelineEvent]:
    return [e for e in analysis.timeline if e.kind == kind]


def _error_volume(analysis: LogAnalysis) -> list[str]:
    errors = _errors(analysis)
    if not errors:
        return _quiet(analysis)
    fatal = analysis.level_counts.get("FATAL", 0)
    if not fatal:
        head = _lines(errors, "ERROR")
    elif fatal == errors:
        head = _lines(fatal, "FATAL")
    else:
        head = f"{_lines(errors, 'ERROR/FATAL')} ({_n(fatal)} FATAL)"
    if analysis.event_count:
        head += f", {_percent(errors, analysis.event_count)} of events"
    clusters = _error_clusters(analysis)
    if not clusters:
        return [head]
    top = max(clusters, key=lambda c: c.count)  # clusters are ranked by severity first
    if top.count / errors >= _ONE_TEMPLATE_SHARE:
        return [f"{head}; {_percent(top.count, errors)} from one template: {_quote(top.template)}"]
    many = "+" if len(clusters) >= MAX_CLUSTERS else ""
    return [
        f"{head} across {len(clusters)}{many} templates; most frequent: "
        f"{_quote(top.template)} ({_n(top.count)})"
    ]


def _quiet(analysis: LogAnalysis) -> list[str]:
    """A log without errors: say what it is mostly about instead."""
    warnings = analysis.level_counts.get("WARN", 0)
    if warnings and analysis.clusters:
        top_warning = analysis.clusters[0].template
        return [f"no ERROR lines; {_lines(warnings, 'WARN')}, most often {_quote(top_warning)}"]
    if analysis.top_templates:
        return [
            f"no ERROR or WARN lines; {_n(analysis.template_count)} templates, "
            f"most frequent {_quote(analysis.top_templates[0].template)}"
        ]
    return []


def _onset(analysis: LogAnalysis, spans_days: bool) -> list[str]:
    first_error = next(iter(_timeline(analysis, "first_error")), None)
    if first_error is None:
        first_error = next(iter(_timeline(analysis, "first_fatal")), None)
    if first_error is None:
        return []
    sentence = f"errors began at {_when(first_error.at, first_error.line, spans_days)}"
    if first_error.at is not None:
        sentence += f" (line {_n(first_error.line)})"
    first_warn = next(
        (e for e in _timeline(analysis, "first_warn") if e.line < first_error.line), None
    )
    error_at = _moment(first_error.at)
    warn_at = _moment(first_warn.at) if first_warn else None
    start_at = _moment(analysis.time_range.first)
    if error_at is not None and warn_at is not None and error_at > warn_at:
        sentence += f", {_duration(error_at - warn_at)} after the first WARN"
    elif error_at is not None and start_at is not None and error_at - start_at >= 1:
        sentence += f", {_duration(error_at - start_at)} after the log starts"
    return [sentence]


def _bursts(analysis: LogAnalysis, spans_days: bool) -> list[str]:
    found = []
    for burst in sorted(analysis.bursts, key=lambda b: -b.count)[:2]:
        at = _when(burst.start, burst.first_line, spans_days)
        sentence = f"burst of {_n(burst.count)} errors in {_duration(burst.seconds)} at {at}"
        if burst.template:
            sentence += f", mostly {_quote(burst.template)}"
        found.append(sentence)
    return found


def _lifecycle(events: Sequence[TimelineEvent], spans_days: bool) -> list[str]:
    found = []
    for kind, label in (("oom", "out-of-memory"), ("crash", "crash/panic")):
        for e in [e for e in events if e.kind == kind][:1]:
            found.append(f"{label} at {_when(e.at, e.line, spans_days)}: {_quote(e.text)}")
    stops = [e for e in events if e.kind in ("restart", "shutdown")]
    if stops:
        first = min(stops, key=lambda e: e.line)
        found.append(
            f"restart/shutdown events from {_when(first.at, first.line, spans_days)}: "
            f"{_quote(first.text)}"
        )
    return found


def _traces(analysis: LogAnalysis) -> list[str]:
    traces = analysis.stack_traces
    if not traces:
        return []
    total = sum(t.count for t in traces)
    top = traces[0]
    label = "stack trace" if len(traces) == 1 else "distinct stack traces"
    detail = f"{top.exception_type}: {top.message}" if top.message else top.exception_type
    return [
        f"{len(traces)} {label} ({_n(total)} occurrences); most frequent: "
        f"{_quote(detail)} x{_n(top.count)} at line {_n(top.first_line)}"
    ]


def _ending(analysis: LogAnalysis, spans_days: bool) -> list[str]:
    """Is it still going on when the log ends?"""
    seen = [c.last_seen for c in _error_clusters(analysis) if c.last_seen]
    end, start = _moment(analysis.time_range.last), _moment(analysis.time_range.first)
    if not seen or end is None or start is None or end <= start:
        return []
    last_error = max(seen)
    last_at = _moment(last_error)
    assert last_at is not None
    when = _when(last_error, 0, spans_days)
    if end - last_at <= _ONGOING_SHARE * (end - start):
        return [f"errors continue until the end of the log (last at {when})"]
    return [f"last error at {when}, {_duration(end - last_at)} before the log ends"]


def _coverage(analysis: LogAnalysis, skipped_lines: int) -> Sequence[str]:
    found = []
    events = analysis.event_count
    if events and analysis.parsed_timestamp_count == 0:
        found.append("no timestamps recognised: no timing information")
    elif events and analysis.parsed_timestamp_count < events / 2:
        share = _percent(analysis.parsed_timestamp_count, events)
        found.append(f"only {share} of events have a timestamp")
    if analysis.truncated_line_count:
        found.append(
            f"{_lines(analysis.truncated_line_count)} longer than {_n(MAX_LINE_CHARS)} "
            "characters were cut for analysis"
        )
    if skipped_lines:
        found.append(f"{_lines(skipped_lines)} in the middle of this very large log were skipped")
    return found
