"""Crime scene extraction from logs: what happened, when, how often, and where it broke.

`analyze_log(text)` works on any log without being told what produced it (HDFS, Apache,
syslog, Windows CBS, Android, OpenStack, Spark, proxies, nginx, Kubernetes, Java, Python,
JSON lines...): one general Drain configuration, cheap masking before it, and per-shape
work instead of per-line work keep a 10 MB log well under a second.

The pipeline, module by module:
  log_lines      split, mask, deduplicate into line shapes; what each shape is
  log_header     per shape: strip the timestamp/level/logger header, read the level
  log_time       timestamp formats; timestamps of every line (format memoised per shape)
  log_templates  Drain templates of the distinct messages, refined
  log_traces     Python/Java/Go stack traces, de-duplicated; one event per trace
  log_events     error bursts, lifecycle events, the timeline
  log_report     insights and the <= 500-character summary
  log_models     the pydantic result, and its <= 8 KB extraction
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from faultmaven.preprocessing.log_events import (
    ErrorPoint,
    build_timeline,
    event,
    find_bursts,
    lifecycle_events,
)
from faultmaven.preprocessing.log_header import Level
from faultmaven.preprocessing.log_lines import (
    CONTINUATION_KINDS,
    Kind,
    LineSet,
    Shapes,
    shape_lines,
    split_lines,
)
from faultmaven.preprocessing.log_models import (
    MAX_CLUSTERS,
    MAX_EXTRACTION_BYTES,
    MAX_SUMMARY_CHARS,
    Burst,
    ErrorCluster,
    LogAnalysis,
    StackTrace,
    TemplateStat,
    TimelineEvent,
    TimeRange,
)
from faultmaven.preprocessing.log_report import build_insights, summarize
from faultmaven.preprocessing.log_templates import mine, refine
from faultmaven.preprocessing.log_time import TimestampReader, iso
from faultmaven.preprocessing.log_traces import extract_traces

__all__ = [
    "MAX_EXTRACTION_BYTES",
    "MAX_SUMMARY_CHARS",
    "Burst",
    "ErrorCluster",
    "LogAnalysis",
    "StackTrace",
    "TemplateStat",
    "TimeRange",
    "TimelineEvent",
    "analyze_log",
    "line_templates",
]

TOP_TEMPLATES = 10
TOP_CLUSTER_EVENTS = 5
TOP_TRACE_EVENTS = 3
_TEXT_CHARS = 300
_ANCHOR_KINDS = frozenset({Kind.JAVA_FRAME, Kind.PY_HEAD, Kind.GO_GOROUTINE, Kind.GO_PANIC})


def analyze_log(text: str) -> LogAnalysis:
    """Everything worth knowing about a log, for a person or an LLM (see LogAnalysis)."""
    scene = _Scene.build(split_lines(text))
    analysis, lifecycle = scene.assemble()
    analysis.insights = build_insights(
        analysis, lifecycle=lifecycle, skipped_lines=scene.line_set.skipped
    )
    analysis.summary = summarize(analysis)
    return analysis


def line_templates(text: str) -> list[str]:
    """The template of every line ("" for continuation lines such as stack frames):
    the grouping that the Loghub accuracy benchmark scores."""
    line_set = split_lines(text)
    shapes = shape_lines(line_set.lines)
    template_of_shape, templates = _mine_shapes(shapes)
    return [templates[t] if (t := template_of_shape[d]) >= 0 else "" for d in shapes.ids]


def _mine_shapes(shapes: Shapes) -> tuple[list[int], list[str]]:
    """Template id of each shape (-1 for continuation shapes) and the template texts.

    Shapes with the same message (they differ in their header only) are mined once.
    """
    messages: dict[str, int] = {}
    lines_per_shape = Counter(shapes.ids)
    weights: list[int] = []
    for shape_id, shape in enumerate(shapes.shapes):
        if shape.kind in CONTINUATION_KINDS:
            continue
        index = messages.setdefault(shape.content, len(messages))
        if index == len(weights):
            weights.append(0)
        weights[index] += lines_per_shape[shape_id]
    texts = list(messages)
    by_text: dict[str, int] = {}
    template_of_message = [
        by_text.setdefault(text, len(by_text)) for text in refine(texts, mine(texts), weights)
    ]
    template_of_shape = [
        -1 if shape.kind in CONTINUATION_KINDS else template_of_message[messages[shape.content]]
        for shape in shapes.shapes
    ]
    return template_of_shape, list(by_text)


@dataclass
class _TemplateStats:
    """Per template: events (non-continuation lines), highest level, first/last line."""

    count: list[int]
    top_level: list[int]
    first: list[int]
    last: list[int]


@dataclass
class _Scene:
    """The per-line facts every part of the report is computed from."""

    line_set: LineSet
    ids: list[int]
    template_of_shape: list[int]
    templates: list[str]
    levels: list[int]
    times: list[float | None]
    traces: list[StackTrace]

    @classmethod
    def build(cls, line_set: LineSet) -> _Scene:
        lines = line_set.lines
        shapes = shape_lines(lines)
        template_of_shape, templates = _mine_shapes(shapes)
        ids = shapes.ids
        time_format = [shape.time_format for shape in shapes.shapes]
        reader = TimestampReader()
        times = [
            None if (fmt := time_format[d]) is None else reader.read(line, fmt)
            for line, d in zip(lines, ids, strict=True)
        ]
        shape_level = [int(shape.level) for shape in shapes.shapes]
        levels = [shape_level[d] for d in ids]
        anchor_shapes = {d for d, s in enumerate(shapes.shapes) if s.kind in _ANCHOR_KINDS}
        kinds = [shape.kind for shape in shapes.shapes]
        result = extract_traces(
            lines,
            [i for i, d in enumerate(ids) if d in anchor_shapes] if anchor_shapes else [],
            kind_of=lambda i: kinds[ids[i]],
            time_of=lambda i: times[i],
            level_of=lambda i: Level(levels[i]),
            number_of=line_set.number,
            iso_of=iso,
        )
        for index, level in result.overrides.items():
            levels[index] = int(level)
        return cls(line_set, ids, template_of_shape, templates, levels, times, result.traces)

    def template(self, index: int) -> int:
        return self.template_of_shape[self.ids[index]]

    def at(self, index: int) -> str | None:
        moment = self.times[index]
        return None if moment is None else iso(moment)

    def assemble(self) -> tuple[LogAnalysis, list[TimelineEvent]]:
        """The analysis (without insights and summary) and the lifecycle events (restart,
        shutdown, OOM, crash: the first line of each such template)."""
        stats, level_counts, issues, events = self._count()
        parsed = [t for t in self.times if t is not None]
        clusters = self._clusters(issues)
        bursts = self._bursts(issues, (min(parsed), max(parsed)) if parsed else (0.0, 0.0))
        firsts = sorted(
            (stats.first[t], stats.count[t], self.templates[t])
            for t in range(len(self.templates))
            if stats.count[t]
        )
        lifecycle = lifecycle_events(firsts, make=self._event)
        analysis = LogAnalysis(
            line_count=self.line_set.total,
            analyzed_line_count=len(self.line_set.lines),
            event_count=events,
            truncated_line_count=self.line_set.truncated,
            parsed_timestamp_count=len(parsed),
            time_range=TimeRange(
                first=iso(min(parsed)) if parsed else None,
                last=iso(max(parsed)) if parsed else None,
            ),
            level_counts={
                Level(level).name: n for level, n in reversed(list(enumerate(level_counts))) if n
            },
            template_count=sum(1 for n in stats.count if n),
            clusters=clusters,
            top_templates=self._top_templates(stats),
            bursts=bursts,
            timeline=self._timeline(issues, clusters, bursts, lifecycle),
            stack_traces=self.traces,
        )
        return analysis, lifecycle

    def _count(self) -> tuple[_TemplateStats, list[int], list[int], int]:
        """One pass over the lines: template stats, level counts, the WARN+ lines and the
        number of event lines."""
        n = len(self.templates)
        stats = _TemplateStats([0] * n, [0] * n, [-1] * n, [0] * n)
        count, top_level, first, last = stats.count, stats.top_level, stats.first, stats.last
        level_counts = [0] * (int(Level.FATAL) + 1)
        issues: list[int] = []
        template_of_shape, levels = self.template_of_shape, self.levels
        warn = int(Level.WARN)
        for i, shape in enumerate(self.ids):
            level = levels[i]
            template = template_of_shape[shape]
            if level < 0 or template < 0:
                continue
            count[template] += 1
            level_counts[level] += 1
            if first[template] < 0:
                first[template] = i
            last[template] = i
            if level > top_level[template]:
                top_level[template] = level
            if level >= warn:
                issues.append(i)
        events = sum(level_counts)
        level_counts[Level.NONE] = 0  # lines without a level are not a level
        return stats, level_counts, issues, events

    def _clusters(self, issues: Sequence[int]) -> list[ErrorCluster]:
        """ERROR/WARN lines grouped by template, most severe first, then most frequent."""
        grouped: dict[int, list[int]] = {}
        for i in issues:
            grouped.setdefault(self.template(i), []).append(i)
        ranked = sorted(
            grouped.items(),
            key=lambda item: (-max(self.levels[i] for i in item[1]), -len(item[1]), item[1][0]),
        )
        clusters = []
        for template, members in ranked[:MAX_CLUSTERS]:
            head, tail = members[0], members[-1]
            clusters.append(
                ErrorCluster(
                    template=self.templates[template][:_TEXT_CHARS],
                    count=len(members),
                    level=Level(max(self.levels[i] for i in members)).name,
                    first_line=self.line_set.number(head),
                    first_seen=self.at(head),
                    last_line=self.line_set.number(tail),
                    last_seen=self.at(tail),
                    example=self.line_set.lines[head].strip()[:_TEXT_CHARS],
                )
            )
        return clusters

    def _bursts(self, issues: Sequence[int], span: tuple[float, float]) -> list[Burst]:
        error = int(Level.ERROR)
        points = [
            ErrorPoint(moment, self.template(i), i)
            for i in issues
            if self.levels[i] >= error and (moment := self.times[i]) is not None
        ]
        return find_bursts(
            points,
            span=span,
            template_text=lambda t: self.templates[t],
            number_of=self.line_set.number,
            iso_of=iso,
        )

    def _top_templates(self, stats: _TemplateStats) -> list[TemplateStat]:
        order = sorted(
            (t for t, n in enumerate(stats.count) if n), key=lambda t: (-stats.count[t], t)
        )
        return [
            TemplateStat(
                template=self.templates[t][:_TEXT_CHARS],
                count=stats.count[t],
                level=Level(stats.top_level[t]).name if stats.top_level[t] > 0 else None,
            )
            for t in order[:TOP_TEMPLATES]
        ]

    def _event(self, index: int, kind: str, text: str) -> TimelineEvent:
        return event(self.line_set.number(index), self.at(index), kind, text)

    def _timeline(
        self,
        issues: Sequence[int],
        clusters: Sequence[ErrorCluster],
        bursts: Sequence[Burst],
        lifecycle: Sequence[TimelineEvent],
    ) -> list[TimelineEvent]:
        candidates: list[TimelineEvent] = [*lifecycle]
        first_at = self._first_at_level(issues)
        for kind, level in (
            ("first_warn", Level.WARN),
            ("first_error", Level.ERROR),
            ("first_fatal", Level.FATAL),
        ):
            if level in first_at:
                index = first_at[level]
                candidates.append(self._event(index, kind, self.line_set.lines[index]))
        for cluster in clusters[:TOP_CLUSTER_EVENTS]:
            if cluster.level in ("ERROR", "FATAL"):
                text = f"{cluster.template} (x{cluster.count})"
                candidates.append(
                    event(cluster.first_line, cluster.first_seen, "error_cluster", text)
                )
        for burst in bursts:
            text = f"{burst.count} errors in {burst.seconds:.0f} s: {burst.template or ''}"
            candidates.append(event(burst.first_line, burst.start, "burst", text))
        for trace in self.traces[:TOP_TRACE_EVENTS]:
            text = f"{trace.exception_type}: {trace.message} (x{trace.count})"
            candidates.append(event(trace.first_line, trace.first_seen, "stack_trace", text))
        return build_timeline(candidates)

    def _first_at_level(self, issues: Sequence[int]) -> dict[Level, int]:
        """First line index of a WARN, of an ERROR or worse, and of a FATAL."""
        found: dict[Level, int] = {}
        for i in issues:  # the WARN+ lines, in order
            level = self.levels[i]
            if level == Level.WARN:
                found.setdefault(Level.WARN, i)
            else:
                found.setdefault(Level.ERROR, i)
                if level == Level.FATAL:
                    found.setdefault(Level.FATAL, i)
            if len(found) == 3:
                break
        return found
