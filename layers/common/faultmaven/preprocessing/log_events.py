"""Events in time: error bursts, lifecycle events (restart, shutdown, OOM, panic) and the
timeline of key moments an SRE would put on the incident doc."""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faultmaven.preprocessing.log_models import Burst, TimelineEvent

MAX_BURSTS = 5
MAX_TIMELINE = 20
MIN_BURST_ERRORS = 10
MIN_WINDOW_ERRORS = 3
TARGET_BUCKETS = 60  # the log's time span is cut into about this many windows
_NICE_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
_TEXT_CHARS = 160

# Lifecycle events, by kind, matched against the lower-cased template text (case-insensitive
# regexes are several times slower, and there can be 100k templates). Order matters: the
# first kind that matches names the event.
_LIFECYCLE: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "oom",
        re.compile(
            r"out of memory|outofmemory|\boom[-_ ]?kill|oomkilled|killed process"
            r"|cannot allocate memory"
        ),
    ),
    (
        "crash",
        re.compile(
            r"\bpanic\b|segfault|segmentation fault|core dumped|fatal error|sigsegv|sigabrt"
            r"|\bcrash(?:ed|ing)?\b|fatal exception"
        ),
    ),
    (
        "shutdown",
        re.compile(
            r"shut(?:ting)?\s?down|\bstopp(?:ing|ed)\b|\bterminat(?:ing|ed)\b|sigterm|sigkill"
            r"|\bexit(?:ing|ed)\b|exited abnormally"
        ),
    ),
    ("restart", re.compile(r"\brestart(?:ing|ed)?\b|\breboot(?:ing|ed)?\b|crashloopbackoff")),
    (
        "start",
        re.compile(
            r"\bstart(?:ing|ed)\b.{0,40}\b(?:server|service|application|app|daemon|worker"
            r"|process|node|container|instance)\b|\blistening on\b|\bbooting\b"
        ),
    ),
)
# Cheap prefilter: a template without any of these is no lifecycle event.
_LIFECYCLE_HINT = re.compile(
    "memory|oom|kill|alloc|panic|fault|core dump|fatal|sig|crash|shut|stop|terminat|exit"
    "|restart|reboot|start|listening|booting"
)
_MAX_PER_KIND = {"oom": 3, "crash": 3, "shutdown": 3, "restart": 3, "start": 2}
# Which timeline entries survive when there are more than MAX_TIMELINE (lower first).
_PRIORITY = {
    "first_error": 0,
    "first_fatal": 0,
    "burst": 1,
    "oom": 1,
    "crash": 1,
    "first_warn": 2,
    "error_cluster": 3,
    "stack_trace": 4,
    "restart": 4,
    "shutdown": 4,
    "last_error": 5,
    "start": 6,
}


def lifecycle_kind(template: str) -> str | None:
    lowered = template.lower()
    if not _LIFECYCLE_HINT.search(lowered):
        return None
    for kind, pattern in _LIFECYCLE:
        if pattern.search(lowered):
            return kind
    return None


@dataclass(frozen=True)
class ErrorPoint:
    """An error line with a timestamp: enough to find bursts."""

    time: float
    template: int
    line: int  # index in the analysed lines


def find_bursts(
    points: Sequence[ErrorPoint],
    *,
    span: tuple[float, float],
    template_text: Callable[[int], str],
    number_of: Callable[[int], int],
    iso_of: Callable[[float], str],
) -> list[Burst]:
    """Periods where errors arrive far above the log's usual error rate.

    The log's time `span` is cut into ~60 windows of a round width. A window is hot when
    its error count is at least 4x the mean, 4 Poisson standard deviations above it, and
    MIN_WINDOW_ERRORS; hot windows at most one window apart form a burst, which must hold
    MIN_BURST_ERRORS errors. A steady error rate rarely clears that bar; a storm does,
    even when it holds every error of the log.
    """
    if len(points) < MIN_BURST_ERRORS or span[1] <= span[0]:
        return []
    width = next((w for w in _NICE_WIDTHS if (span[1] - span[0]) / w <= TARGET_BUCKETS), 86400)
    origin = math.floor(span[0] / width) * width
    windows = int((span[1] - origin) // width) + 1
    if windows < 3:
        return []
    ordered = sorted(points, key=lambda p: p.time)
    counts = Counter(int((p.time - origin) // width) for p in ordered)
    mean = len(ordered) / windows
    threshold = max(MIN_WINDOW_ERRORS, 4 * mean, mean + 4 * math.sqrt(mean))
    times = [p.time for p in ordered]
    bursts = []
    for first, last in _runs(sorted(w for w, c in counts.items() if c >= threshold)):
        low = bisect.bisect_left(times, origin + first * width)
        high = bisect.bisect_left(times, origin + (last + 1) * width)
        inside = ordered[low:high]
        if len(inside) < MIN_BURST_ERRORS:
            continue
        dominant = Counter(p.template for p in inside).most_common(1)[0][0]
        bursts.append(
            Burst(
                start=iso_of(inside[0].time),
                end=iso_of(inside[-1].time),
                seconds=round(max(inside[-1].time - inside[0].time, 1.0), 3),
                count=len(inside),
                first_line=number_of(min(p.line for p in inside)),
                template=template_text(dominant)[:_TEXT_CHARS],
            )
        )
    strongest = sorted(bursts, key=lambda b: -b.count)[:MAX_BURSTS]
    return sorted(strongest, key=lambda b: b.start)


def _runs(hot: Sequence[int]) -> list[tuple[int, int]]:
    """(first, last) windows of each run of hot windows, bridging one-window gaps."""
    runs: list[tuple[int, int]] = []
    for window in hot:
        if runs and window - runs[-1][1] <= 2:
            runs[-1] = (runs[-1][0], window)
        else:
            runs.append((window, window))
    return runs


def event(line: int, at: str | None, kind: str, text: str) -> TimelineEvent:
    return TimelineEvent(line=line, at=at, kind=kind, text=" ".join(text.split())[:_TEXT_CHARS])


def lifecycle_events(
    firsts: Sequence[tuple[int, int, str]],
    *,
    make: Callable[[int, str, str], TimelineEvent],
) -> list[TimelineEvent]:
    """Timeline entries for the first line of each lifecycle-looking template.

    `firsts` holds (first line index, occurrences, template text), in line order.
    """
    per_kind: Counter[str] = Counter()
    found = []
    for index, count, template in firsts:
        kind = lifecycle_kind(template)
        if kind is None or per_kind[kind] >= _MAX_PER_KIND[kind]:
            continue
        per_kind[kind] += 1
        suffix = f" (x{count})" if count > 1 else ""
        found.append(make(index, kind, template + suffix))
    return found


def build_timeline(candidates: Sequence[TimelineEvent]) -> list[TimelineEvent]:
    """At most MAX_TIMELINE events in line order, keeping the most important ones, one
    per line (the more important kind wins)."""
    best: dict[int, TimelineEvent] = {}
    for candidate in candidates:
        known = best.get(candidate.line)
        if known is None or _PRIORITY[candidate.kind] < _PRIORITY[known.kind]:
            best[candidate.line] = candidate
    kept = sorted(best.values(), key=lambda e: (_PRIORITY[e.kind], e.line))[:MAX_TIMELINE]
    return sorted(kept, key=lambda e: e.line)
