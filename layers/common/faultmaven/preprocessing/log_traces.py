"""Stack traces in logs: Python tracebacks, Java exceptions, Go panics.

A trace spans many lines but is one event. Besides the de-duplicated traces, extraction
returns level overrides so that the trace counts as exactly one error line: the log line
that reported it, or the exception/panic line itself when nothing did (an uncaught
crash written to stderr); every other line of the trace becomes a continuation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from faultmaven.preprocessing.frames import PY_FRAME
from faultmaven.preprocessing.log_header import Level
from faultmaven.preprocessing.log_lines import Kind
from faultmaven.preprocessing.log_models import StackTrace, TraceKind

MAX_FRAMES = 8
SIGNATURE_FRAMES = 3
MAX_TRACES = 50
_MESSAGE_CHARS = 300

_JAVA_RUN = frozenset({Kind.JAVA_FRAME, Kind.JAVA_MORE, Kind.JAVA_CAUSE, Kind.INDENTED})
_JAVA_EXCEPTION = re.compile(
    r"""(?:Exception\ in\ thread\ "[^"]*"\ )?
    (?P<type>(?:[a-zA-Z_$][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Throwable|Fault|Failure))
    (?::\s?(?P<message>.*))?""",
    re.VERBOSE,
)
_JAVA_FRAME = re.compile(r"\s+at\s+(?P<where>[^\s(]+)(?:\((?P<source>[^)]*)\))?")
_PY_EXCEPTION = re.compile(r"(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?")
_GO_PANIC = re.compile(
    r"(?:.*?\bpanic(?: serving \S+)?:|(?P<fatal>fatal error:))\s*(?P<message>.*)"
)
_GO_FUNC = re.compile(r"(?:created by )?[\w./*()\[\]{}$-]+")
_GO_IN_GOROUTINE = re.compile(r" in goroutine \d+$")
_GO_FILE = re.compile(r"\t(?P<file>\S+?):(?P<line>\d+)")
_NUMBERS = re.compile(r"\d+")
_GENERATED = re.compile(r"\$\$\w+\$\d+|/0x[0-9a-f]+|0x[0-9a-f]+|\d+")


@dataclass
class _Trace:
    kind: TraceKind
    exception_type: str
    message: str
    frames: list[str]
    names: list[str]  # frame identities without line numbers, for the signature
    start: int  # first line of the trace (header or Traceback line)
    end: int  # last line of the trace
    event: int  # the line that states the exception (Java header, Python last line...)
    caused_by: list[str] = field(default_factory=list)
    severity: Level = Level.ERROR

    def signature(self) -> str:
        head = f"{self.exception_type}"
        if self.kind == "go":
            head += f": {_NUMBERS.sub('<*>', self.message)[:80]}"
        sig = head + " @ " + " < ".join(self.names[:SIGNATURE_FRAMES] or ["?"])
        if self.caused_by:
            sig += f" <- {self.caused_by[-1]}"
        return sig


@dataclass
class TraceResult:
    traces: list[StackTrace]
    overrides: dict[int, Level]  # line index -> level to use instead of the shape's


@dataclass
class _Context:
    lines: Sequence[str]
    kind_of: Callable[[int], Kind]
    time_of: Callable[[int], float | None]
    level_of: Callable[[int], Level]

    def blank(self, i: int) -> bool:
        return not self.lines[i].strip()


def extract_traces(
    lines: Sequence[str],
    anchors: Sequence[int],
    *,
    kind_of: Callable[[int], Kind],
    time_of: Callable[[int], float | None],
    level_of: Callable[[int], Level],
    number_of: Callable[[int], int],
    iso_of: Callable[[float], str],
) -> TraceResult:
    """Parse the traces that start at or around `anchors` (indices of Java frames,
    Traceback lines, goroutine headers and panic lines, in order)."""
    ctx = _Context(lines, kind_of, time_of, level_of)
    found: list[_Trace] = []
    done = -1
    for anchor in anchors:
        if anchor <= done:
            continue
        trace = _parse_at(ctx, anchor, found)
        if trace is None:
            continue
        found.append(trace)
        done = trace.end
    overrides: dict[int, Level] = {}
    for trace in found:
        _mark(ctx, trace, overrides)
    return TraceResult(_deduplicate(ctx, found, number_of, iso_of), overrides)


def _parse_at(ctx: _Context, anchor: int, found: list[_Trace]) -> _Trace | None:
    kind = ctx.kind_of(anchor)
    if kind is Kind.JAVA_FRAME:
        return _java(ctx, anchor)
    if kind is Kind.PY_HEAD:
        return _python(ctx, anchor, found)
    if kind in (Kind.GO_PANIC, Kind.GO_GOROUTINE):
        return _go(ctx, anchor)
    return None


def _java(ctx: _Context, first_frame: int) -> _Trace:
    start = first_frame
    header = ""
    if first_frame > 0 and not ctx.blank(first_frame - 1):
        start = first_frame - 1
        header = ctx.lines[start]
    found = _JAVA_EXCEPTION.search(header)
    exception_type = found.group("type") if found else "(exception)"
    message = (found.group("message") or "") if found else header.strip()
    frames: list[str] = []
    names: list[str] = []
    causes: list[str] = []
    j = first_frame
    while j < len(ctx.lines) and ctx.kind_of(j) in _JAVA_RUN:
        line = ctx.lines[j]
        if ctx.kind_of(j) is Kind.JAVA_CAUSE:
            cause = _JAVA_EXCEPTION.search(line.split(":", 1)[1])  # "Caused by: x.Y: msg"
            if cause:
                causes.append(cause.group("type"))
        elif not causes and (frame := _JAVA_FRAME.match(line)):
            where, source = frame.group("where"), frame.group("source") or ""
            if len(frames) < MAX_FRAMES:
                frames.append(f"{where}({source})" if source else where)
            names.append(_GENERATED.sub("*", where))
        j += 1
    return _Trace("java", exception_type, message, frames, names, start, j - 1, start, causes)


def _python(ctx: _Context, head: int, found: list[_Trace]) -> _Trace:
    outer_first: list[tuple[str, str]] = []  # (frame text, identity), outermost first
    j = head + 1
    while j < len(ctx.lines) and ctx.kind_of(j) in (Kind.PY_FRAME, Kind.INDENTED):
        frame = PY_FRAME.match(ctx.lines[j])
        if frame:
            path, number, func = frame.group("file", "line", "func")
            base = path.rsplit("/", 1)[-1]
            func = func or "?"
            outer_first.append((f"{func} ({path}:{number})", f"{base}:{func}"))
        j += 1
    exception_type, message, end = "(truncated traceback)", "", j - 1
    if j < len(ctx.lines) and ctx.kind_of(j) is Kind.PLAIN and ctx.time_of(j) is None:
        parsed = _PY_EXCEPTION.fullmatch(ctx.lines[j].strip())
        if parsed:
            exception_type, message, end = parsed.group("type"), parsed.group("message") or "", j
    inner_first = outer_first[::-1]
    trace = _Trace(
        "python",
        exception_type,
        message,
        [text for text, _ in inner_first[:MAX_FRAMES]],
        [name for _, name in inner_first],
        head,
        end,
        end,
    )
    previous = found[-1] if found else None
    if previous is not None and previous.kind == "python" and _chained(ctx, previous.end, head):
        trace.caused_by = [*previous.caused_by, previous.exception_type]
        trace.start = previous.start
        found.pop()  # the chain is one event, reported under its last exception
    return trace


def _chained(ctx: _Context, previous_end: int, head: int) -> bool:
    between = range(previous_end + 1, head)
    return len(between) <= 4 and any(ctx.kind_of(i) is Kind.PY_CHAIN for i in between)


def _go(ctx: _Context, anchor: int) -> _Trace | None:
    panic_line, goroutine = _go_panic_and_goroutine(ctx, anchor)
    if panic_line is None and goroutine is None:
        return None
    message, severity, exception_type = "", Level.FATAL, "goroutine dump"
    if panic_line is not None:
        parsed = _GO_PANIC.match(ctx.lines[panic_line].strip())
        message = parsed.group("message") if parsed else ctx.lines[panic_line].strip()
        message = message.removesuffix(" [recovered]")
        exception_type = "fatal error" if parsed and parsed.group("fatal") else "panic"
        if message.startswith("runtime error: "):
            exception_type, message = "runtime error", message.removeprefix("runtime error: ")
    frames: list[str] = []
    names: list[str] = []
    end = anchor
    if goroutine is not None:
        end = _go_frames(ctx, goroutine + 1, frames, names)
        end = _skip_other_goroutines(ctx, end)
    start = anchor if panic_line is None else panic_line
    return _Trace("go", exception_type, message, frames, names, start, end, start, [], severity)


def _go_panic_and_goroutine(ctx: _Context, anchor: int) -> tuple[int | None, int | None]:
    """The panic line and the first goroutine header of one Go crash (either may be
    missing: a bare goroutine dump, or a panic message without a dump)."""
    lines = ctx.lines
    if ctx.kind_of(anchor) is Kind.GO_PANIC:
        for j in range(anchor + 1, min(anchor + 8, len(lines))):
            if ctx.kind_of(j) is Kind.GO_GOROUTINE:
                return anchor, j
        return anchor, None
    for j in range(anchor - 1, max(anchor - 8, -1), -1):
        if "panic" in lines[j] or lines[j].startswith("fatal error:"):
            return j, anchor
    return None, anchor


def _go_frames(ctx: _Context, j: int, frames: list[str], names: list[str]) -> int:
    """Read `func(args)` / `\\tfile.go:N +0x..` pairs into `frames` and `names` (runtime
    frames dropped when there are others); return the last line consumed."""
    lines = ctx.lines
    pairs: list[tuple[str, str]] = []
    func = None
    last = j - 1
    while j < len(lines) and not ctx.blank(j):
        line = lines[j]
        location = _GO_FILE.match(line)
        if location and func is not None:
            where = f"{location.group('file')}:{location.group('line')}"
            pairs.append((f"{func} ({where})", func.removeprefix("created by ")))
            func = None
        elif _go_function_line(ctx, j):
            func = _go_function(line.strip())
        else:
            break
        last = j
        j += 1
    kept = [pair for pair in pairs if not _is_go_runtime(pair[1])] or pairs
    frames.extend(text for text, _ in kept[:MAX_FRAMES])
    names.extend(name for _, name in kept)
    return last


def _go_function_line(ctx: _Context, j: int) -> bool:
    """A Go frame's function line: unindented, no timestamp, followed by its file line."""
    line = ctx.lines[j]
    return (
        not line.startswith((" ", "\t"))
        and ctx.time_of(j) is None
        and _GO_FUNC.match(line) is not None
        and j + 1 < len(ctx.lines)
        and _GO_FILE.match(ctx.lines[j + 1]) is not None
    )


def _go_function(line: str) -> str:
    """`main.(*Server).handle(0xc0001, {0x2, 0x3})` -> `main.(*Server).handle`."""
    line = _GO_IN_GOROUTINE.sub("", line)
    if not line.endswith(")"):
        return line
    depth = 0
    for i in range(len(line) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(line[i], 0)
        if depth == 0:
            return line[:i]
    return line


def _is_go_runtime(name: str) -> bool:
    return name.startswith("runtime.") or name == "panic"


def _skip_other_goroutines(ctx: _Context, end: int) -> int:
    """A fatal error dumps every goroutine: one trace, so swallow the other blocks."""
    j = end + 1
    while j + 1 < len(ctx.lines) and ctx.blank(j) and ctx.kind_of(j + 1) is Kind.GO_GOROUTINE:
        j += 2
        while j < len(ctx.lines) and not ctx.blank(j):
            j += 1
        end = j - 1
    return end


def _mark(ctx: _Context, trace: _Trace, overrides: dict[int, Level]) -> None:
    """Make the trace one event: see the module docstring."""
    reported_by_log_line = (
        trace.start > 0
        and ctx.time_of(trace.start) is None
        and ctx.time_of(trace.start - 1) is not None
        and ctx.level_of(trace.start - 1) >= Level.WARN
    )
    header_is_log_line = ctx.time_of(trace.start) is not None
    for i in range(trace.start, trace.end + 1):
        overrides[i] = Level.CONTINUATION
    if header_is_log_line:
        overrides.pop(trace.start)
    elif not reported_by_log_line:
        overrides[trace.event] = trace.severity


def _first_seen(ctx: _Context, trace: _Trace) -> float | None:
    for i in (trace.start, trace.start - 1):
        if i >= 0 and (seen := ctx.time_of(i)) is not None:
            return seen
    return None


def _deduplicate(
    ctx: _Context,
    found: list[_Trace],
    number_of: Callable[[int], int],
    iso_of: Callable[[float], str],
) -> list[StackTrace]:
    by_signature: dict[str, StackTrace] = {}
    for trace in found:
        signature = trace.signature()
        known = by_signature.get(signature)
        if known is not None:
            known.count += 1
            continue
        seen = _first_seen(ctx, trace)
        by_signature[signature] = StackTrace(
            kind=trace.kind,
            exception_type=trace.exception_type,
            message=trace.message[:_MESSAGE_CHARS],
            signature=signature,
            first_line=number_of(trace.start),
            first_seen=None if seen is None else iso_of(seen),
            frames=trace.frames[:MAX_FRAMES],
            caused_by=trace.caused_by,
        )
    ranked = sorted(by_signature.values(), key=lambda t: (-t.count, t.first_line))
    return ranked[:MAX_TRACES]
