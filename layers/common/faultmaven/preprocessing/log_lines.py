"""Lines of a log: splitting, cheap masking, and what each *shape* of line is.

Speed comes from one observation: once numbers, paths and ids are masked, a 100k-line
log has only a few hundred or thousand distinct lines ("shapes"). Masking is done with
one regex over the whole text (C speed), the masked lines are deduplicated, and the
expensive work (timestamp format, level, header stripping, stack-trace role) runs once
per shape, not once per line. Every shape keeps the index of its first raw line, which
serves as its example.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

from faultmaven.preprocessing.frames import PY_FRAME_LEAD
from faultmaven.preprocessing.log_header import (
    MASK,
    Level,
    is_errorish,
    json_message,
    level_anywhere,
    strip_header,
    strip_timestamp_run,
)
from faultmaven.preprocessing.log_time import FORMATS, TimestampReader

MAX_LINE_CHARS = 4096  # longer lines are cut for analysis: a 9 MB line must not stall Drain
MAX_LINES = 400_000  # beyond this, the middle of the log is skipped (head and tail kept)
# Logs where nearly every line is unique: only the most frequent shapes get the full
# (about 15 us) description, the long tail a rough one.
MAX_DESCRIBED_SHAPES = 20_000
HEAD_LINES = 50_000

# Stage 1, over the whole text: any run that starts with a digit or a slash (numbers,
# IPs, times, sizes, paths, hex ids that start with a digit) becomes <*>.
_STAGE1 = re.compile(r"[\d/][\w.:/~+-]*")
_FOLD = str.maketrans("123456789", "000000000")
# Stage 2, once per shape: what stage 1 leaves half-masked or misses.
_SCHEMES = (
    r"(?:https?|wss?|s?ftp|file|hdfs|s3a?|gs|jdbc:\w+|tcp|udp|spark|akka(?:\.tcp)?|redis|amqp|grpc)"
)
_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_HTTP_METHODS = "(?:GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS|CONNECT|TRACE)"
_STAGE2 = re.compile(
    rf"""
    \b{_SCHEMES}:<\*>                           # URLs: stage 1 turned //... into <*>
    | \b[A-Za-z][\w-]*(?:\.[\w-]+)+:<\*>        # host.name:port
    | (?<=[^\w\n])[a-fA-F]{{1,8}}<\*>           # hex ids starting with a letter: a<*>
    | \b[A-Za-z]:\\[^\s"']*                     # Windows paths
    | \b[\w.+-]+@[\w-]+(?:\.[\w-]+)+            # e-mail addresses
    | (?<![^\s=:(\[{{,])"(?!{_HTTP_METHODS}\ )[^"\s]*[\ \t][^"\n]*"(?=[\s,;)\]}}]|$)
                                                # quoted text with spaces, not a request line
    | \b{_DAY}\ +{_MONTH}\ +<\*>(?:\ +<\*>)*      # dates inside messages: Fri Jun <*> <*> <*>
    | (?:<\*>){{2,}}                             # runs of masks
    """,
    re.VERBOSE,
)


class Kind(IntEnum):
    """The role of a line shape in multi-line events (stack traces)."""

    PLAIN = 0
    BLANK = 1
    INDENTED = 2
    JAVA_FRAME = 3
    JAVA_MORE = 4
    JAVA_CAUSE = 5
    PY_HEAD = 6
    PY_FRAME = 7
    PY_CHAIN = 8
    GO_GOROUTINE = 9
    GO_PANIC = 10


CONTINUATION_KINDS = frozenset(
    {
        Kind.BLANK,
        Kind.INDENTED,
        Kind.JAVA_FRAME,
        Kind.JAVA_MORE,
        Kind.JAVA_CAUSE,
        Kind.PY_HEAD,
        Kind.PY_FRAME,
        Kind.PY_CHAIN,
        Kind.GO_GOROUTINE,
    }
)
_KIND = re.compile(
    r"""(?P<JAVA_FRAME>\s+at\ [\w$.<>*/\[\]-]+\()
    | (?P<JAVA_MORE>\s*\.\.\.\ <\*>\ (?:more|common\ frames\ omitted))
    | (?P<JAVA_CAUSE>\s*(?:Caused\ by|Suppressed):\ )
    | (?P<PY_HEAD>Traceback\ \(most\ recent\ call\ last\):)
    | (?P<PY_FRAME>"""
    + PY_FRAME_LEAD
    + r""")
    | (?P<PY_CHAIN>During\ handling\ of\ the\ above|The\ above\ exception\ was\ the\ direct\ cause)
    | (?P<GO_GOROUTINE>goroutine\ <\*>\ \[[^\]]*\]:)
    | (?P<GO_PANIC>(?:panic|fatal\ error):\ )
    """,
    re.VERBOSE,
)


@dataclass
class LineSet:
    """The lines that are analysed, and how they map back to the input's line numbers."""

    lines: list[str]
    total: int
    truncated: int = 0
    skipped: int = 0  # input lines dropped from the middle of a huge log

    def number(self, index: int) -> int:
        """1-based line number in the input of analysed line `index`."""
        if self.skipped and index >= HEAD_LINES:
            return index + 1 + self.skipped
        return index + 1


def split_lines(text: str) -> LineSet:
    """Lines with any line ending (\\n, \\r\\n, \\r), cut to MAX_LINE_CHARS, capped in number."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    total = len(lines)
    skipped = 0
    if total > MAX_LINES:
        skipped = total - MAX_LINES
        lines = lines[:HEAD_LINES] + lines[HEAD_LINES + skipped :]
    truncated = 0
    if lines and max(map(len, lines)) > MAX_LINE_CHARS:
        truncated = sum(1 for line in lines if len(line) > MAX_LINE_CHARS)
        lines = [line[:MAX_LINE_CHARS] for line in lines]
    return LineSet(lines=lines, total=total, truncated=truncated, skipped=skipped)


@dataclass
class Shape:
    """What is known about every line that masks to the same text."""

    example: int  # index of the first line with this shape
    kind: Kind
    level: Level
    content: str  # the message without timestamp/level/logger header, fully masked
    time_format: int | None  # index in log_time.FORMATS, None when the line has no time


@dataclass
class Shapes:
    """Lines grouped by masked text: `ids[i]` is the shape of line `i`."""

    ids: list[int]
    shapes: list[Shape] = field(default_factory=list)


def shape_lines(lines: list[str]) -> Shapes:
    """Group lines by masked text.

    Lines are first deduplicated with their digits folded to 0 (a C-speed translate):
    lines that differ only in digit values mask identically, so the regex then runs on
    the distinct folded lines only, typically a third of the text.
    """
    fold_ids, folded = _dedupe("\n".join(lines).translate(_FOLD).split("\n") if lines else [])
    masked = _STAGE1.sub(MASK, "\n".join(folded)).split("\n") if folded else []
    shape_of_fold, index = _dedupe(masked)
    ids = [shape_of_fold[f] for f in fold_ids]
    examples: list[int] = []
    for i, shape_id in enumerate(ids):
        if shape_id == len(examples):
            examples.append(i)
    keys = list(index)
    full = _most_frequent(ids, len(keys), MAX_DESCRIBED_SHAPES)
    more = _mask_more_all([keys[d] for d in full])
    reader = TimestampReader()
    shapes: list[Shape | None] = [None] * len(keys)
    hint: int | None = None
    for d, key_more in zip(full, more, strict=True):
        shape = describe(keys[d], key_more, lines[examples[d]], examples[d], reader, hint)
        hint = hint if shape.time_format is None else shape.time_format
        shapes[d] = shape
    described = [
        shape or describe_cheaply(keys[d], lines[examples[d]], examples[d], reader, hint)
        for d, shape in enumerate(shapes)
    ]
    return Shapes(ids=ids, shapes=described)


def _most_frequent(ids: list[int], count: int, limit: int) -> list[int]:
    """The `limit` most frequent shape ids (all of them, in order, when few)."""
    if count <= limit:
        return list(range(count))
    lines_per_shape = Counter(ids)
    return sorted(sorted(range(count), key=lambda d: -lines_per_shape[d])[:limit])


def _mask_more_all(keys: list[str]) -> list[str]:
    """Stage 2 over many shapes in one regex call (no pattern crosses a newline)."""
    return _STAGE2.sub(MASK, "\n".join(keys)).split("\n") if keys else []


def _dedupe(keys: list[str]) -> tuple[list[int], dict[str, int]]:
    """Id of each key (in order of first appearance) and the distinct keys."""
    index: dict[str, int] = {}
    return [index.setdefault(key, len(index)) for key in keys], index


def describe(
    masked: str,
    masked_more: str,
    raw: str,
    example: int,
    reader: TimestampReader,
    hint: int | None = None,
) -> Shape:
    """Everything the analysis needs about one shape, from its masked text (stage 1 and
    stage 2) and its first raw line (needed only for the timestamp format). `hint` is the
    time format of the previous shape: most shapes of a log share one."""
    found = reader.find(raw, hint)
    time_format = None if found is None else found[0]
    kind = _kind(masked, has_time=time_format is not None)
    if kind in CONTINUATION_KINDS:
        return Shape(example, kind, Level.CONTINUATION, "", time_format)
    if masked.lstrip().startswith("{"):
        message, level = json_message(masked)
        content = mask_more(masked if message is None else message) or MASK
    else:
        time_name = None if time_format is None else FORMATS[time_format].name
        # Tokens before the timestamp (a file name, a client address) are header too.
        lead = len(raw[: found[1]].split()) if found else 0
        content, level = strip_header(masked_more, time_name=time_name, lead=lead)
        if level is Level.NONE:
            level = level_anywhere(masked)
    if level is Level.NONE and is_errorish(masked):
        level = Level.ERROR
    return Shape(example, kind, level, content, time_format)


def describe_cheaply(
    masked: str, raw: str, example: int, reader: TimestampReader, hint: int | None
) -> Shape:
    """A rough description for the long tail of a log where nearly every line is unique:
    only the usual time format is tried and only the leading timestamp is stripped."""
    found = reader.find_at_start(raw, hint)
    kind = _kind(masked, has_time=found is not None)
    if kind in CONTINUATION_KINDS:
        return Shape(example, kind, Level.CONTINUATION, "", found)
    level = level_anywhere(masked)
    if level is Level.NONE and is_errorish(masked):
        level = Level.ERROR
    return Shape(example, kind, level, strip_timestamp_run(masked), found)


def mask_more(masked: str) -> str:
    """Stage-2 masking of one shape (letter-led hex ids, host:port, Windows paths...)."""
    return _STAGE2.sub(MASK, masked)


def _kind(masked: str, *, has_time: bool) -> Kind:
    if not masked.strip():
        return Kind.BLANK
    found = _KIND.match(masked)
    if found is not None and found.lastgroup is not None:
        return Kind[found.lastgroup]
    if masked[0] in " \t" and not has_time:
        return Kind.INDENTED
    return Kind.PLAIN
