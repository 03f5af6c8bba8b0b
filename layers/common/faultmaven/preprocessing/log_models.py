"""What log analysis returns: the "crime scene" of a log, small enough to hand to a person
or an LLM (summary <= 500 characters, extraction <= 8 KB)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_SUMMARY_CHARS = 500
MAX_EXTRACTION_BYTES = 8192
MAX_CLUSTERS = 20  # error/warn clusters kept in a LogAnalysis

TraceKind = Literal["python", "java", "go"]


class TimeRange(BaseModel):
    first: str | None = None
    last: str | None = None


class TemplateStat(BaseModel):
    """One event type (a Drain template) and how often it occurs."""

    template: str
    count: int
    level: str | None = None


class ErrorCluster(BaseModel):
    """ERROR/WARN lines of one template: the unit an SRE reasons about ("the connection
    refused errors"), with where they start and stop."""

    template: str
    count: int = Field(description="ERROR/WARN lines of this template")
    level: str
    first_line: int
    first_seen: str | None = None
    last_line: int
    last_seen: str | None = None
    example: str


class Burst(BaseModel):
    """A time window where errors arrive much faster than usual."""

    start: str
    end: str
    seconds: float
    count: int
    first_line: int
    template: str | None = Field(default=None, description="the dominant error template")


class TimelineEvent(BaseModel):
    line: int
    at: str | None = None
    kind: str
    text: str


class StackTrace(BaseModel):
    """One distinct stack trace; repeats of the same signature are counted, not listed."""

    kind: TraceKind
    exception_type: str
    message: str
    signature: str
    first_line: int
    first_seen: str | None = None
    count: int = 1
    frames: list[str] = Field(default_factory=list, description="innermost first, <= 8")
    caused_by: list[str] = Field(default_factory=list, description="root cause last")


class LogAnalysis(BaseModel):
    line_count: int
    analyzed_line_count: int
    event_count: int = Field(
        default=0, description="lines that start an event (not stack frames or blank lines)"
    )
    truncated_line_count: int = 0
    parsed_timestamp_count: int = 0
    time_range: TimeRange = Field(default_factory=TimeRange)
    level_counts: dict[str, int] = Field(default_factory=dict)
    template_count: int = 0
    clusters: list[ErrorCluster] = Field(default_factory=list)
    top_templates: list[TemplateStat] = Field(default_factory=list)
    bursts: list[Burst] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    stack_traces: list[StackTrace] = Field(default_factory=list)
    insights: list[str] = Field(default_factory=list)
    summary: str = ""

    def to_extraction(self) -> str:
        """The whole analysis as compact JSON, at most 8192 bytes of UTF-8.

        Lists are trimmed and long texts shortened step by step until it fits, most
        useful first: what is kept longest is the summary, the insights and the top
        error clusters.
        """
        data = self.model_dump(mode="json", exclude_defaults=True)
        for degrade in _DEGRADE_STEPS:
            data = degrade(data)
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            if len(text.encode("utf-8")) <= MAX_EXTRACTION_BYTES:
                return text
        return json.dumps({"summary": self.summary[:MAX_SUMMARY_CHARS]}, ensure_ascii=False)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _limit(
    data: dict[str, Any], *, lists: dict[str, int], frames: int, chars: int
) -> dict[str, Any]:
    """A copy of `data` with lists cut to `lists[name]` items, traces to `frames` frames
    and every string inside lists to `chars` characters."""
    out = dict(data)
    for name, keep in lists.items():
        if name not in out:
            continue
        items = out[name][:keep]
        if name == "insights":
            out[name] = [_clip(item, max(chars, 120)) for item in items]
            continue
        clipped = []
        for item in items:
            item = {
                key: _clip(value, chars) if isinstance(value, str) else value
                for key, value in item.items()
            }
            if "frames" in item:
                item["frames"] = [_clip(frame, chars) for frame in item["frames"][:frames]]
            clipped.append(item)
        out[name] = clipped
    return out


def _step(lists: dict[str, int], frames: int, chars: int) -> Callable[[Any], Any]:
    return lambda data: _limit(data, lists=lists, frames=frames, chars=chars)


def _drop(*names: str) -> Callable[[Any], Any]:
    return lambda data: {key: value for key, value in data.items() if key not in names}


_ALL = ("clusters", "top_templates", "stack_traces", "timeline", "bursts", "insights")
_DEGRADE_STEPS: tuple[Callable[[Any], Any], ...] = (
    _step(dict(zip(_ALL, (15, 10, 10, 20, 5, 12), strict=True)), frames=8, chars=300),
    _step(dict(zip(_ALL, (12, 8, 8, 16, 5, 10), strict=True)), frames=6, chars=200),
    _step(dict(zip(_ALL, (10, 6, 6, 12, 4, 8), strict=True)), frames=4, chars=160),
    _step(dict(zip(_ALL, (8, 5, 4, 10, 3, 8), strict=True)), frames=3, chars=120),
    _step(dict(zip(_ALL, (5, 3, 3, 8, 3, 6), strict=True)), frames=2, chars=100),
    _step(dict(zip(_ALL, (3, 2, 2, 5, 2, 5), strict=True)), frames=1, chars=80),
    _drop("top_templates", "timeline"),
    _drop("top_templates", "timeline", "clusters", "stack_traces", "bursts"),
    _drop(*_ALL),
)
