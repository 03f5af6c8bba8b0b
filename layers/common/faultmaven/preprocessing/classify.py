"""Evidence classification: which of the eight DataTypes an uploaded file holds.

This is the first step of preprocessing, so it sees only the file name, the MIME type the
client claimed and the first `SAMPLE_BYTES` of the (already gunzipped) content. Names and
MIME types are cheap but often wrong (a log saved as `output.txt`, a kubeconfig called
`config`), so each source of evidence casts weighted votes and the content votes are much
heavier when the content is unambiguous: a PNG signature, an OTLP `resourceSpans` key or a
Prometheus `# TYPE` line outweighs any extension.

Votes are summed per type and turned into confidences with a tempered softmax, so a strong
format fingerprint gives ~0.95 while a lone extension gives ~0.3: weak evidence stays
visibly weak. Everything is bounded (at most `MAX_LINES` lines, clipped to `MAX_LINE_CHARS`,
feed anchored per-line regexes; JSON is walked with a node budget) so that a 64 KiB sample
classifies in about 2 ms, and nothing in here raises on hostile input.
"""

from __future__ import annotations

import csv
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultmaven.preprocessing.artifacts import decode_text, sniff_encoding
from faultmaven.preprocessing.frames import PY_FRAME, PY_FRAME_LEAD
from faultmaven.preprocessing.models import Alternative, Classification, DataType

SAMPLE_BYTES = 64 * 1024
MAX_LINES = 200
MAX_LINE_CHARS = 256
# Source lines are short; a longer line is not code, and checking only a prefix bounds the
# backtracking of the many end-anchored code patterns.
MAX_CODE_CHARS = 160
MAX_WORDS_PER_LINE = 64
MAX_TOKENS = 32
MAX_ALTERNATIVES = 3
MAX_SIGNALS = 6
MIN_ALTERNATIVE_CONFIDENCE = 0.01
JSON_KEY_SCAN_CHARS = 32 * 1024
MAX_CSV_ROWS = 40
JSON_NODE_BUDGET = 5000
# Votes are not independent (a timestamp and a level on the same line are largely the same
# evidence twice), so their sum overstates the log-odds; dividing by a temperature before
# the softmax keeps a file that merely looks like a log at ~0.9 rather than 0.9999.
TEMPERATURE = 1.5

LOGS = DataType.LOGS_AND_ERRORS
TRACE = DataType.TRACE_DATA
PROFILE = DataType.PROFILING_DATA
METRICS = DataType.METRICS_AND_PERFORMANCE
CONFIG = DataType.STRUCTURED_CONFIG
CODE = DataType.SOURCE_CODE
TEXT = DataType.UNSTRUCTURED_TEXT
VISUAL = DataType.VISUAL_EVIDENCE

EMPTY_CONFIDENCE = 0.1
# Binary content only keeps the name votes of profiles (a pprof protobuf we could not sniff
# is still most likely a profile); images are trusted by signature alone, and every other
# type is text by nature.
BINARY_NAME_TYPES = frozenset({PROFILE})


@dataclass(frozen=True)
class Vote:
    """One piece of evidence: `weight` (log-odds-like) for `data_type`, and why."""

    data_type: DataType
    weight: float
    signal: str


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def classify(
    filename: str,
    content_type: str | None,
    sample: bytes,
    *,
    override: DataType | None = None,
) -> Classification:
    """Classify an upload from its name, claimed MIME type and first bytes.

    With `override` the user's choice wins (confidence 1.0) and the automatic verdict is
    kept as the first alternative, so the UI can still show what we would have guessed.
    """
    try:
        automatic = _classify_automatically(filename or "", content_type or "", bytes(sample))
    except Exception as exc:  # the classifier only advises: a bug here must not fail an upload
        automatic = Classification(
            data_type=TEXT,
            confidence=0.1,
            signals=[f"classifier error ({type(exc).__name__}); defaulted to text"],
        )
    if override is None:
        return automatic
    return _apply_override(automatic, override)


def _apply_override(automatic: Classification, override: DataType) -> Classification:
    first = Alternative(data_type=automatic.data_type, confidence=automatic.confidence)
    rest = [a for a in automatic.alternatives if a.data_type not in (override, first.data_type)]
    return Classification(
        data_type=override,
        confidence=1.0,
        alternatives=[first, *rest][:MAX_ALTERNATIVES],
        signals=[
            f"set by user to {override.value}",
            f"automatic: {automatic.data_type.value} ({automatic.confidence:.2f})",
            *automatic.signals,
        ][:MAX_SIGNALS],
        overridden=True,
    )


def _classify_automatically(filename: str, content_type: str, sample: bytes) -> Classification:
    data = sample[:SAMPLE_BYTES]
    notes: list[str] = []
    data = _inflate_if_gzip(data, notes)
    name_votes = [*_name_votes(filename), *_mime_votes(content_type)]
    if not data.strip():
        return _empty_result(name_votes, notes)
    magic = _magic_votes(data)
    if magic:
        return _decide([*name_votes, *magic], notes)
    text = _decode_text(data)
    if text is None:
        notes.append("binary content")
        kept = [v for v in name_votes if v.data_type in BINARY_NAME_TYPES]
        return _decide([*kept, *_binary_votes(data, filename)], notes)
    return _decide([*name_votes, *_text_votes(text)], notes)


def _empty_result(name_votes: Sequence[Vote], notes: Sequence[str]) -> Classification:
    """Nothing to read: unstructured text, barely; what the name suggests (an empty
    `app.log` is most likely an empty log) survives only as alternatives."""
    suggested: dict[DataType, Vote] = {}
    for vote in sorted(name_votes, key=lambda v: -v.weight):
        if vote.data_type != TEXT:
            suggested.setdefault(vote.data_type, vote)
    kept = list(suggested.values())[:MAX_ALTERNATIVES]
    return Classification(
        data_type=TEXT,
        confidence=EMPTY_CONFIDENCE,
        alternatives=[
            Alternative(data_type=v.data_type, confidence=EMPTY_CONFIDENCE / 2) for v in kept
        ],
        signals=["empty sample", *notes, *(f"name suggests {v.data_type.value}" for v in kept[:2])],
    )


# --------------------------------------------------------------------------------------
# Name and MIME type
# --------------------------------------------------------------------------------------

ExtensionVotes = dict[str, tuple[tuple[DataType, float], ...]]


def _each(extensions: str, data_type: DataType, weight: float) -> ExtensionVotes:
    """The same single vote for each space-separated extension."""
    return dict.fromkeys(extensions.split(), ((data_type, weight),))


_EXTENSION_VOTES: ExtensionVotes = {
    **_each(
        "py pyw go java kt kts scala groovy js mjs cjs jsx ts tsx rb rs c h cc cpp cxx hpp hh "
        "cs sh bash zsh ksh fish ps1 psm1 php pl pm lua swift m r sql ex exs erl hs clj dart vb",
        CODE,
        1.8,
    ),
    **_each(
        "yaml yml toml ini cfg conf cnf properties env service socket timer mount target path "
        "tf tfvars hcl plist nix",
        CONFIG,
        1.5,
    ),
    **_each("md markdown rst adoc asciidoc org textile", TEXT, 1.5),
    **_each("png jpg jpeg gif webp bmp svg tif tiff ico heic avif", VISUAL, 2.0),
    **_each("pprof prof folded collapsed cpuprofile heapprofile jfr speedscope", PROFILE, 2.0),
    **_each("html htm eml msg pdf", TEXT, 0.8),
    **_each("dockerfile containerfile mk mak cmake bazel bzl gradle", CODE, 2.0),
    "xml": ((CONFIG, 1.0),),
    "log": ((LOGS, 1.5),),
    "err": ((LOGS, 1.0),),
    "out": ((LOGS, 0.6),),
    "txt": ((TEXT, 0.4),),
    "text": ((TEXT, 0.4),),
    "json": ((CONFIG, 0.5), (TRACE, 0.2), (METRICS, 0.2), (LOGS, 0.2)),
    "jsonl": ((LOGS, 0.8), (TRACE, 0.3)),
    "ndjson": ((LOGS, 0.8), (TRACE, 0.3)),
    "csv": ((METRICS, 0.8), (LOGS, 0.2)),
    "tsv": ((METRICS, 0.8), (LOGS, 0.2)),
    "prom": ((METRICS, 2.0),),
    "jtl": ((METRICS, 2.0),),
    "pb": ((PROFILE, 1.2),),
}
# Well-known file names, whatever their extension says (CMakeLists.txt is code, not text):
# the convention is stronger evidence than any suffix. Matched on the whole base name.
_FILE_NAME_VOTES: ExtensionVotes = {
    **_each(
        "cmakelists.txt build.gradle settings.gradle build.gradle.kts build.bazel meson.build"
        " workspace.bazel sconstruct sconscript .bashrc .bash_profile .zshrc .profile .zprofile",
        CODE,
        2.5,
    ),
    **_each(
        "pipfile go.mod go.sum cargo.lock gemfile.lock podfile.lock requirements.txt .npmrc"
        " .gitignore .dockerignore .editorconfig .gitconfig .gitattributes crontab fstab hosts"
        " sshd_config ssh_config caddyfile procfile kubeconfig",
        CONFIG,
        2.0,
    ),
}
# Build and container recipes are programs (instructions run in order), so source code.
# Their variants keep the name first or last: Dockerfile.prod, Dockerfile-dev,
# api.Dockerfile, Makefile.linux, GNUmakefile.
_RECIPE_STEMS = (
    "dockerfile|containerfile|makefile|gnumakefile|jenkinsfile|vagrantfile|gemfile"
    "|rakefile|podfile|brewfile|justfile|snakefile|earthfile|tiltfile|fastfile|berksfile"
)
_RECIPE_NAME = re.compile(rf"(?:{_RECIPE_STEMS})(?:[._-][\w.-]*)?|[\w.-]+[._-](?:{_RECIPE_STEMS})")
_RECIPE_WEIGHT = 2.5
# Other conventional names without a telling extension.
_BASENAME_VOTES: dict[str, tuple[DataType, float]] = {
    "messages": (LOGS, 0.8),
    "syslog": (LOGS, 0.8),
    "dmesg": (LOGS, 0.8),
    "readme": (TEXT, 0.5),
    "changelog": (TEXT, 0.5),
    "notes": (TEXT, 0.5),
    "todo": (TEXT, 0.5),
}
_COMPRESSION_SUFFIXES = frozenset({"gz", "gzip", "bz2", "xz", "zst", "z", "zip"})
_ROTATION_SUFFIX = re.compile(r"[\d_:\-T]+|old|bak|backup|orig")


def _basename(filename: str) -> str:
    """The lower-case last path component, whether the client sent `/` or `\\` paths."""
    return re.split(r"[\\/]", filename.strip())[-1].lower()


def _extensions(base: str) -> tuple[str, list[str]]:
    """The stem and the meaningful suffixes of a base name, last first.

    Compression and log-rotation suffixes (`app.log.1.gz`, `nova.log.2017-05-16`) are
    dropped so that the suffix that names the format comes first.
    """
    parts = base.split(".")
    stem, suffixes = parts[0], parts[1:]
    while suffixes and (
        suffixes[-1] in _COMPRESSION_SUFFIXES or _ROTATION_SUFFIX.fullmatch(suffixes[-1])
    ):
        suffixes.pop()
    return (stem or base), list(reversed(suffixes))


def _name_votes(filename: str) -> list[Vote]:
    base = _basename(filename)
    if not base:
        return []
    if re.search(r"\.pb\.gz$|\.pprof(\.gz)?$", base):
        return [Vote(PROFILE, 2.5, "pprof file name")]
    if base == ".env" or base.startswith(".env.") or base.endswith(".env"):
        return [Vote(CONFIG, 1.5, "dotenv file name")]
    if base.endswith(".tfvars.json"):
        return [Vote(CONFIG, 1.5, "terraform .tfvars.json name")]
    stem, suffixes = _extensions(base)
    # The name itself, or without its compression/rotation suffixes (crontab.bak).
    known = _FILE_NAME_VOTES.get(base) or _FILE_NAME_VOTES.get(
        ".".join([stem, *reversed(suffixes)])
    )
    if known:
        return [Vote(t, w, f"file named {base}") for t, w in known]
    if _RECIPE_NAME.fullmatch(base) and not (suffixes and suffixes[0] in _EXTENSION_VOTES):
        return [Vote(CODE, _RECIPE_WEIGHT, "build/container recipe name")]
    if suffixes and suffixes[0] in _EXTENSION_VOTES:
        ext = suffixes[0]
        return [Vote(t, w, f"extension .{ext}") for t, w in _EXTENSION_VOTES[ext]]
    if "log" in suffixes:
        return [Vote(LOGS, 1.0, "'.log' in file name")]
    if not suffixes and stem in _BASENAME_VOTES:
        data_type, weight = _BASENAME_VOTES[stem]
        return [Vote(data_type, weight, f"file named {stem}")]
    return []


_MIME_VOTES: dict[str, tuple[DataType, float]] = {
    "application/json": (CONFIG, 0.3),
    "application/x-ndjson": (LOGS, 0.5),
    "application/jsonl": (LOGS, 0.5),
    "text/csv": (METRICS, 0.5),
    "text/tab-separated-values": (METRICS, 0.5),
    "text/markdown": (TEXT, 1.0),
    "text/x-markdown": (TEXT, 1.0),
    "text/x-rst": (TEXT, 1.0),
    "text/html": (TEXT, 0.6),
    "message/rfc822": (TEXT, 1.0),
    "application/pdf": (TEXT, 0.6),
    "text/plain": (TEXT, 0.2),
    "text/x-log": (LOGS, 0.8),
    "application/yaml": (CONFIG, 0.8),
    "application/x-yaml": (CONFIG, 0.8),
    "text/yaml": (CONFIG, 0.8),
    "text/x-yaml": (CONFIG, 0.8),
    "application/toml": (CONFIG, 0.8),
    "application/xml": (CONFIG, 0.6),
    "text/xml": (CONFIG, 0.6),
    "application/openmetrics-text": (METRICS, 1.5),
    "application/x-protobuf": (PROFILE, 0.5),
    "application/vnd.google.protobuf": (PROFILE, 0.5),
    "application/javascript": (CODE, 1.2),
    "application/typescript": (CODE, 1.2),
    "application/x-sh": (CODE, 1.2),
    "application/x-shellscript": (CODE, 1.2),
    "application/sql": (CODE, 1.2),
}


def _mime_votes(content_type: str) -> list[Vote]:
    raw = content_type.strip().lower()
    mime = raw.split(";")[0].strip()
    if not mime:
        return []
    if mime == "text/plain" and "version=0.0.4" in raw:
        return [Vote(METRICS, 1.5, "Prometheus exposition MIME type")]
    if mime.startswith("image/"):
        return [Vote(VISUAL, 1.5, f"MIME type {mime}")]
    if mime in _MIME_VOTES:
        data_type, weight = _MIME_VOTES[mime]
        return [Vote(data_type, weight, f"MIME type {mime}")]
    if mime.startswith("text/x-") and mime not in ("text/x-log",):
        return [Vote(CODE, 1.0, f"MIME type {mime}")]
    return []


# --------------------------------------------------------------------------------------
# Bytes: compression, image signatures, binary formats, decoding
# --------------------------------------------------------------------------------------


def _inflate_if_gzip(data: bytes, notes: list[str]) -> bytes:
    """Callers are meant to gunzip first; if they did not, inflate what the sample holds."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        inflated = zlib.decompressobj(wbits=31).decompress(data, SAMPLE_BYTES)
    except zlib.error:
        notes.append("gzip header but data does not inflate")
        return data
    if not inflated:
        notes.append("gzip header but nothing inflates")
        return data
    notes.append("gzip-compressed sample (inflated)")
    return inflated


def _magic_votes(data: bytes) -> list[Vote]:
    """Image signatures are unambiguous, so they carry the heaviest weight of all."""
    kind = _image_kind(data)
    return [Vote(VISUAL, 10.0, f"{kind} image signature")] if kind else []


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"avif", b"mif1"):
        return "HEIF/AVIF"
    if _is_bmp(data):
        return "BMP"
    return None


def _is_bmp(data: bytes) -> bool:
    """`BM` alone is too weak (text can start with it): also check the header layout."""
    if len(data) < 26 or data[:2] != b"BM" or data[6:10] != b"\x00\x00\x00\x00":
        return False
    return int.from_bytes(data[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)


_PPROF_STRINGS = (
    b"samples",
    b"count",
    b"cpu",
    b"nanoseconds",
    b"alloc_objects",
    b"alloc_space",
    b"inuse_objects",
    b"inuse_space",
    b"contentions",
    b"delay",
    b"bytes",
    b"goroutine",
    b"wall",
)


def _binary_votes(data: bytes, filename: str) -> list[Vote]:
    if data.startswith(b"FLR\x00"):
        return [Vote(PROFILE, 8.0, "Java Flight Recorder signature")]
    if data.startswith(b"%PDF-"):
        return [Vote(TEXT, 3.0, "PDF document")]
    # pprof: a protobuf Profile starts with field 1 (sample_type, tag 0x0a) and its
    # string table names the sample types.
    found = [s.decode() for s in _PPROF_STRINGS if s in data]
    if data[:1] == b"\x0a" and len(found) >= 2:
        return [Vote(PROFILE, 8.0, f"pprof protobuf ({', '.join(found[:3])})")]
    votes = [Vote(TEXT, 0.5, "binary with no known signature")]
    if any(v.data_type == PROFILE for v in _name_votes(filename)):
        votes.append(Vote(PROFILE, 1.5, "binary content under a profile name"))
    return votes


def _decode_text(data: bytes) -> str | None:
    """The sample as text, or None when it is binary: the pipeline's own rule
    (artifacts.sniff_encoding), so what is classified as text is analysed as text."""
    encoding = sniff_encoding(data)
    return None if encoding is None else decode_text(data, encoding)


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def _text_votes(text: str) -> list[Vote]:
    if "\x1b" in text:
        text = _ANSI_ESCAPE.sub("", text)  # coloured terminal output
    stripped = text.lstrip()
    if _looks_like_svg(stripped):
        return [Vote(VISUAL, 8.0, "SVG image markup")]
    votes = [Vote(TEXT, 0.3, "readable text")]
    if stripped[:1] in ("{", "["):
        json_votes = _json_votes(stripped)
        if json_votes:
            return votes + json_votes
    lines = _head_lines(text)
    if stripped.startswith("<"):
        votes += _markup_votes(stripped, lines)
    stats = _measure(lines)
    table = _csv_table(lines)
    votes += _fingerprint_votes(stats)
    votes += _csv_votes(table) if table else _log_votes(stats)
    votes += _metric_votes(stats)
    votes += _profile_votes(stats)
    votes += _config_votes(stats)
    votes += _code_votes(stats)
    votes += _prose_votes(stats)
    return votes


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _head_lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n", MAX_LINES)[:MAX_LINES]]


_XML_PROLOG = re.compile(r"(?:<\?[^>]*>|<!DOCTYPE[^>]*>|<!--[^<]*-->|\s)*")


def _looks_like_svg(stripped: str) -> bool:
    """An `<svg>` root element, after at most an XML declaration, doctype and comments."""
    start = stripped.find("<svg", 0, 2048)
    return start >= 0 and bool(_XML_PROLOG.fullmatch(stripped, 0, start))


def _markup_votes(stripped: str, lines: Sequence[str]) -> list[Vote]:
    head = stripped[:512].lower()
    if head.startswith(("<!doctype html", "<html")):
        return [Vote(TEXT, 4.0, "HTML document")]
    markup = sum(1 for line in lines if line.strip().startswith("<"))
    content = sum(1 for line in lines if line.strip())
    if content and markup / content >= 0.5 and re.match(r"<(?:\?xml|[A-Za-z])", stripped):
        return [Vote(CONFIG, 5.0, "XML document")]
    return []


# -- JSON --------------------------------------------------------------------------------


@dataclass
class _JsonShape:
    keys: set[str]
    records: list[dict[str, Any]]
    parsed: bool
    is_object: bool


def _json_votes(stripped: str) -> list[Vote]:
    shape = _json_shape(stripped)
    if shape is None:
        return []
    votes = _json_fingerprints(shape)
    if votes:
        return votes
    if shape.parsed and shape.is_object:
        return [Vote(CONFIG, 4.0, "JSON object with no telemetry shape")]
    if shape.parsed:
        return [Vote(CONFIG, 1.5, "JSON array with no telemetry shape")]
    return [Vote(CONFIG, 2.0, "JSON-like text (truncated)")]


def _json_shape(stripped: str) -> _JsonShape | None:
    """Parse the sample as one JSON document, else as JSON lines, else scan its keys.

    A 64 KiB sample of a bigger document is truncated and will not parse; its keys
    still tell what it is.
    """
    try:
        document = json.loads(stripped)
    except (ValueError, RecursionError):  # RecursionError: `[[[[...` nested past the limit
        document = None
    else:
        return _JsonShape(
            _collect_keys(document), _records_of(document), True, isinstance(document, dict)
        )
    records = _json_lines(stripped)
    if records:
        keys: set[str] = set()
        for record in records:
            keys |= _collect_keys(record)
        return _JsonShape(keys, records, True, False)
    keys = set(re.findall(r'"([A-Za-z_@$][\w.@$-]{0,40})"\s*:', stripped[:JSON_KEY_SCAN_CHARS]))
    return _JsonShape(keys, [], False, stripped.startswith("{")) if len(keys) >= 3 else None


def _json_lines(stripped: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    lines = [line for line in stripped.split("\n", 50)[:50] if line.strip()]
    for line in lines:
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            records.append(value)
    # The last line of a sample may be cut short; all but one must parse.
    return records if len(lines) >= 2 and len(records) >= len(lines) - 1 else []


def _collect_keys(document: Any) -> set[str]:
    keys: set[str] = set()
    stack = [document]
    budget = JSON_NODE_BUDGET
    while stack and budget > 0:
        node = stack.pop()
        budget -= 1
        if isinstance(node, dict):
            keys.update(str(k) for k in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node[:200])
    return keys


def _records_of(document: Any) -> list[dict[str, Any]]:
    """The list of objects a document is made of, if any: the document itself when it is
    an array, else the first array-of-objects value of a top-level key (`{"events": [...]}`)."""
    candidates: Iterable[Any] = [document]
    if isinstance(document, dict):
        candidates = [document, *document.values()]
    for candidate in candidates:
        if isinstance(candidate, list) and candidate and isinstance(candidate[0], dict):
            return [r for r in candidate[:50] if isinstance(r, dict)]
    return []


_MSG_KEYS = frozenset(
    {"msg", "message", "log", "@m", "@mt", "event", "text", "body", "textpayload"}
)
_LEVEL_KEYS = frozenset({"lvl", "@l", "levelname", "priority"})
_LEVEL_KEY_PARTS = ("level", "severity")
_TIME_KEYS = frozenset({"ts", "t", "@t", "asctime"})
_TIME_KEY_PARTS = ("time", "date")


def _is_level_key(key: str) -> bool:
    return key in _LEVEL_KEYS or any(part in key for part in _LEVEL_KEY_PARTS)


def _is_time_key(key: str) -> bool:
    return key in _TIME_KEYS or any(part in key for part in _TIME_KEY_PARTS)


def _is_log_record(record: dict[str, Any]) -> bool:
    """Structured loggers disagree on names (`msg`, `MESSAGE`, `@timestamp`,
    `__REALTIME_TIMESTAMP`, `PRIORITY`), so match families of names, not exact keys."""
    keys = [str(k).lower() for k in record]
    has_message = any(k in _MSG_KEYS for k in keys)
    return has_message and any(_is_level_key(k) or _is_time_key(k) for k in keys)


def _json_fingerprints(shape: _JsonShape) -> list[Vote]:
    """Telemetry JSON formats, recognised by the keys their specifications mandate."""
    keys = shape.keys
    for required, data_type, signal in _JSON_FORMATS:
        if all(any(k in keys for k in alternatives.split("|")) for alternatives in required):
            return [Vote(data_type, 8.0, signal)]
    if shape.records:
        share = sum(_is_log_record(r) for r in shape.records) / len(shape.records)
        if share >= 0.6:
            return [Vote(LOGS, 7.0, f"JSON log records ({share:.0%} with time/level/message)")]
    lowered = {k.lower() for k in keys}
    if not shape.parsed and lowered & _MSG_KEYS and any(_is_level_key(k) for k in lowered):
        return [Vote(LOGS, 4.0, "JSON with log fields (level, message)")]
    return []


# Each entry: every group must have at least one of its '|'-separated keys present.
_JSON_FORMATS: tuple[tuple[tuple[str, ...], DataType, str], ...] = (
    (("resourceSpans|scopeSpans|instrumentationLibrarySpans",), TRACE, "OTLP trace JSON"),
    (("traceID", "spanID", "operationName"), TRACE, "Jaeger trace JSON"),
    (
        ("traceId", "id", "timestamp", "duration", "localEndpoint|annotations|parentId"),
        TRACE,
        "Zipkin span JSON",
    ),
    (("Segments", "Document|Traces"), TRACE, "AWS X-Ray trace"),
    (("trace_id", "start_time", "end_time", "subsegments|parent_id"), TRACE, "AWS X-Ray segment"),
    (
        ("trace_id", "span_id", "parent_id", "duration", "start|start_time"),
        TRACE,
        "Datadog APM spans",
    ),
    (("resourceLogs|logRecords",), LOGS, "OTLP logs JSON"),
    (("logStreamName|logGroupName", "message"), LOGS, "CloudWatch log events"),
    (("resourceMetrics|dataPoints",), METRICS, "OTLP metrics JSON"),
    (("entries", "startedDateTime", "timings"), TRACE, "HAR network trace"),
    (("cells", "nbformat"), CODE, "Jupyter notebook"),
    (("nodes", "callFrame"), PROFILE, "V8 .cpuprofile"),
    (("timeDeltas", "samples"), PROFILE, "V8 .cpuprofile"),
    (("traceEvents",), PROFILE, "Chrome trace-event profile"),
    (("profiles", "shared", "frames"), PROFILE, "speedscope profile"),
    (("MetricDataResults|Datapoints",), METRICS, "CloudWatch metric data"),
    (("resultType", "result"), METRICS, "Prometheus query API result"),
    (("metrics", "http_req_duration|http_reqs|iterations|vus"), METRICS, "k6 summary"),
    (("series", "pointlist"), METRICS, "Datadog metric query"),
    (("series", "columns", "values"), METRICS, "InfluxDB query result"),
)


# -- line statistics ---------------------------------------------------------------------

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# A timestamp at the start of the line (after at most three brackets/quotes/spaces).
_TS_START = re.compile(
    r"[\[\s\"'(<]{0,3}(?:"
    r"\d{4}[-/.]\d{2}[-/.]\d{2}[T _]\d{1,2}:\d{2}"  # ISO 8601, 2026/11/22 10:01
    r"|\d{8}[T ]\d{6}"  # 20261122T100102
    r"|\d{2}/\d{2}/\d{2,4}[ ,T]+\d{1,2}:\d{2}:\d{2}"  # 17/06/09 20:10:40 (Spark), US dates
    r"|" + _WEEKDAY + r",? (?:\d{1,2} " + _MONTH + r" \d{4}|" + _MONTH + r" [ \d]\d)"
    r" \d{2}:\d{2}:\d{2}"  # ctime (Apache error log), RFC 2822
    r"|" + _MONTH + r" [ \d]\d,? (?:\d{4} )?\d{2}:\d{2}:\d{2}"  # syslog
    r"|\d{1,2}[-/ ]" + _MONTH + r"[-/ ]\d{4}[: ]\d{2}:\d{2}:\d{2}"  # 22/Nov/2026:10:01:02
    r"|\d{6}[ -]\d{6}\b"  # HDFS 081109 203615
    r"|\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}"  # Android logcat
    r"|[IWEFD]\d{4} \d{2}:\d{2}:\d{2}\.\d{3,}"  # klog/glog
    r"|\d{10}(?:\d{3})?(?:\.\d+)?\b"  # epoch seconds or milliseconds
    r"|\[\s*\d+\.\d{3,}\]"  # dmesg
    r"|\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\b"  # time of day with seconds
    r")"
)
# Timestamps that prefixed lines carry further in (compose prefixes, logfmt, access logs).
_TS_ANYWHERE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}"
    r"|\d{1,2}[/ ]" + _MONTH + r"[/ ]\d{4}[: ]\d{2}:\d{2}:\d{2}"  # access log, Redis
)
_LEVEL = re.compile(
    r"\b(?:FATAL|CRITICAL|CRIT|ERROR|ERR|SEVERE|WARN|WARNING|NOTICE|INFO|DEBUG|TRACE|PANIC)\b"
    r"|\b(?:level|lvl|severity|loglevel)[=:]\s?\"?[a-zA-Z]"
    r"|[\[:](?:error|warn|warning|info|debug|notice|crit|alert|emerg|fatal)\]"
    r"|, (?:Info|Error|Warning|Debug)\b"
    r"|\s[VDIWEF]\s[\w.$/-]+\s?:"
)
_STACK = re.compile(
    r"\s+at [\w$.<>/@-]+ ?\("  # Java/JS frame
    rf"|{PY_FRAME_LEAD}\d"  # Python frame
    r"|Traceback \(most recent call last\)"
    r"|\s*Caused by: \S"
    r"|\s*\.\.\. \d+ (?:more|common frames omitted)"
    r"|(?:[a-z_][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)\b"  # java.lang.FooException
    r"|[A-Z]\w*(?:Exception|Error): "  # ZeroDivisionError: ...
    r"|goroutine \d+ \[\w"
    r"|\s+\S+\.go:\d+ \+0x"
    r"|panic: "
    r"|#\d+ (?:/|\{main\})"  # PHP
)
# A level as the first thing on the line: `ERROR:root:`, `INFO[0000]`, `[WARN]`, Ruby's
# `E, [2026-...]`, logcat's brief `E/Tag( 123):`.
_LEAD_LEVEL = re.compile(
    r"[\[\s]{0,2}(?:FATAL|FATA|CRITICAL|CRIT|ERROR|ERRO|ERR|SEVERE|WARNING|WARN|NOTICE|INFO"
    r"|DEBUG|DEBU|TRACE|TRAC|PANIC|PANI)\b|[EWIDF], \[\d{4}-|[VDIWEF]/[\w.$-]+\(\s*\d+\):"
)
# InfluxDB line protocol and StatsD (Graphite plaintext matches _PROM_SAMPLE).
_METRIC_LINE = re.compile(
    r"[A-Za-z_][\w.\-]*(?:,[\w.\-]+=[^,\s]+)* [\w.\-]+=[^,\s]+(?:,[\w.\-]+=[^,\s]+)*"
    r"(?: \d{9,19})?\s*$"
    r"|[\w.\-]+:[-+]?\d+(?:\.\d+)?\|(?:c|g|ms|h|s|d|m)(?:\|@[\d.]+)?(?:\|#\S*)?\s*$"
)
_DIRECTIVE = re.compile(r"[A-Za-z][\w.\-]*(?:\s+[^\s]+){1,5}\s*;?\s*$")
_CODE = re.compile(
    r"\s*(?:"
    r"(?:async\s+)?def\s+\w+\s*\("
    r"|class\s+\w+"
    r"|(?:from\s+[\w.]+\s+)?import\s+[\w.*{\"'(]"
    r"|import\s*\("
    r"|package\s+[\w.]+;?\s*$"
    r"|func\s+(?:\([^)]*\)\s*)?\w+\s*[\[(]"
    r"|(?:(?:public|private|protected|internal|static|final|abstract|override|export|default"
    r"|async|pub(?:\([\w:]+\))?|unsafe|extern|inline|virtual|explicit|readonly)\s+)+[\w<>\[\]]"
    r"|(?:function|fn)\s*\w*\s*[(<]"
    r"|(?:const|let|var|val|auto)\s+(?:mut\s+)?[\w{}\[\], ]+(?::\s*[^=]+)?="
    r"|(?:struct|enum|trait|impl|interface|union|namespace|module|type)\s+\w+.*[{=(]?\s*$"
    r"|#\s*(?:include|define|ifn?def|endif|pragma|undef)\b"
    r"|(?:if|for|while|switch|catch|foreach|elif|elsif|unless|until|case)\b.*(?:[:{]|\bthen|\bdo|\bin)\s*$"
    r"|(?:else|try|finally|do|loop|begin|rescue|ensure)\b\s*[:{]?\s*$"
    r"|(?:return|yield|raise|throw|await|break|continue|defer|require|using|use)\b"
    r"|(?:end|fi|done|esac|then|\}\s*else.*|\};?|\)\s*[;,]?|\]\s*[;,]?)\s*$"
    r"|@\w+(?:\(.*\))?\s*$"
    r"|(?:self|this)\.\w+"
    r"|[\w.\[\]'\"]+(?:\s*,\s*[\w.]+)*\s*(?:[-+*/%|&^]|\?\?|<<|>>)?=\s*[\w.]+\(.*"  # x = call(
    r"|[\w:<>*&\[\]]+\s+[*&]?\w+(?:\[\w*\])?\s*=\s*[^=\s].*;\s*$"  # typed declaration;
    r"|\w+(?:->|::|\.)\w+.*;\s*$"  # member access statement;
    r"|[\w.]+\(.*\)\s*[;{]?\s*$"  # call statement
    r"|\w+\s*\(\)\s*\{"  # shell function
    r"|(?:echo|printf|export|local|set\s+-\w|source|exit|cd|mkdir|rm|cp|mv|gzip|tar|curl)\b"
    r"|(?:SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH|BEGIN|COMMIT|GRANT|FROM|WHERE"
    r"|AND|JOIN|GROUP BY|ORDER BY|VALUES|RETURNS|LANGUAGE|FOR EACH)\b"
    r")"
)
_COMMENT = re.compile(r"\s*(?:#(?![!#]|include|define)|//|/\*|\*|--\s|;|<!--|%|rem\s)")
_YAML_KV = re.compile(r"\s*(?:-\s+)?(?:[\w.\-/$@]+|\"[^\"]+\"|'[^']+'):(?:\s+(\S.*))?$")
_YAML_LIST = re.compile(r"\s*-\s+\S")
_INI_SECTION = re.compile(r"\s*\[\[?[\w.\-: \"/]+\]\]?\s*$")
_KV_EQ = re.compile(r"\s*[\w.\-\"]+\s*=\s*\S")
_ENV = re.compile(r"(?:export\s+)?[A-Z][A-Z0-9_]*=\S*")
_PROM_SAMPLE = re.compile(
    r"[a-zA-Z_:][\w:]*(?:\{[^}]*\})?\s+[-+]?(?:\d[\d.eE+-]*|NaN|Inf)(?:\s+-?\d+)?\s*$"
)
_PROM_META = re.compile(r"# (?:HELP|TYPE|UNIT) [a-zA-Z_:][\w:]*|# EOF\s*$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:%|[a-zA-Zµ]{1,3}(?:/s)?)?")
_PERF_FRAME = re.compile(r"\s+[0-9a-f]{4,16} \S.* \(\S+\)\s*$")
_MD_HEADING = re.compile(r"#{1,6} +[A-Z0-9*`\"']")
_MD_MARK = re.compile(
    r"\|.*\|\s*$|>\s|([=\-~^\"'`#*+])\1{2,}\s*$|\.\. [\w-]+::|\*\*\S|\[[^\]]+\]\([^)]+\)"
)
_BULLET = re.compile(r"\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS = _word_set(
    "the a an and or but to of in on at for with from by as is are was were be been being "
    "it its this that these those we our you your they their he she i me my us them not no "
    "so if then than when while which who what why how there here have has had do does did "
    "will would should could can may might must about into over after before because"
)


@dataclass
class _Stats:
    """Line-shape counts over the first `MAX_LINES` lines (fenced blocks excluded)."""

    content: int = 0
    comments: int = 0
    fenced: int = 0
    fences: int = 0
    ts_text: int = 0
    ts_numeric: int = 0
    lead_level: int = 0
    levels: int = 0
    stack: int = 0
    code: int = 0
    yaml: int = 0
    ini_sections: int = 0
    kv_eq: int = 0
    env: int = 0
    prom: int = 0
    prom_meta: int = 0
    metric_lines: int = 0
    directives: int = 0
    folded: int = 0
    perf_frames: int = 0
    numeric_rows: int = 0
    headings: int = 0
    md_marks: int = 0
    prose: int = 0
    words: int = 0
    stopwords: int = 0
    shebang: str = ""
    fingerprints: Counter[str] = field(default_factory=Counter)

    @property
    def effective(self) -> int:
        """Lines that say something: content lines that are not comments."""
        return max(1, self.content - self.comments)

    def share(self, count: int) -> float:
        return count / max(1, self.content)


def _measure(lines: Sequence[str]) -> _Stats:
    stats = _Stats()
    in_fence = after_py_frame = False
    for raw in lines:
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            stats.fences += 1
            continue
        if in_fence:
            stats.fenced += 1
            continue
        if not stats.content and stripped.startswith("#!"):
            stats.shebang = stripped[2:].strip().split("/")[-1][:40]
        stats.content += 1
        after_py_frame = _observe(stats, raw, after_py_frame)
    return stats


def _observe(stats: _Stats, raw: str, after_py_frame: bool) -> bool:
    """Update the counts for one line; returns whether it was a Python stack frame (whose
    next line is a quoted source line that must not count as code)."""
    if _is_folded_stack(raw):  # the sample count ends the line, however long it is
        stats.folded += 1
        return False
    line = raw[:MAX_LINE_CHARS]
    fingerprint = _FINGERPRINT.match(line)
    if fingerprint and fingerprint.lastgroup:
        stats.fingerprints[fingerprint.lastgroup] += 1
    words = _WORD.findall(line)[:MAX_WORDS_PER_LINE]
    stopwords = sum(1 for w in words if w.lower() in _STOPWORDS)
    stats.words += len(words)
    stats.stopwords += stopwords
    if _LEVEL.search(line):
        stats.levels += 1
    if _STACK.match(line):
        stats.stack += 1
        return bool(PY_FRAME.match(line))
    if after_py_frame:
        return False
    if _observe_timestamp(stats, line):
        return False
    if _LEAD_LEVEL.match(line):
        stats.lead_level += 1
        return False
    _observe_shape(stats, line, len(words), stopwords)
    return False


def _observe_timestamp(stats: _Stats, line: str) -> bool:
    match = _TS_START.match(line) or _TS_ANYWHERE.search(line, 0, 120)
    if not match:
        return False
    rest = [t for t in re.split(r"[\s,;|]+", line[match.end() :], maxsplit=MAX_TOKENS) if t]
    if _numeric_share(rest) >= 0.6:
        stats.ts_numeric += 1
    else:
        stats.ts_text += 1
    return True


def _observe_shape(stats: _Stats, line: str, words: int, stopwords: int) -> None:
    """Counts for lines without a timestamp: telemetry rows, code, config, prose."""
    stripped = line.strip()
    if _PROM_META.match(stripped):
        stats.prom_meta += 1
        return
    if _PROM_SAMPLE.match(stripped):
        stats.prom += 1
    elif _METRIC_LINE.match(stripped):
        stats.metric_lines += 1
        return
    if _PERF_FRAME.match(line):
        stats.perf_frames += 1
        return
    if _MD_HEADING.match(stripped):
        stats.headings += 1
    if _COMMENT.match(line):
        stats.comments += 1
        return
    if _MD_MARK.search(line):
        stats.md_marks += 1
    if _is_numeric_row(stripped):
        stats.numeric_rows += 1
        return
    is_code = len(stripped) <= MAX_CODE_CHARS and bool(_CODE.match(line, 0, MAX_CODE_CHARS))
    stats.code += is_code
    is_config = _observe_config(stats, line, stripped)
    if is_code or is_config:
        return
    if _is_prose(stripped, words):
        stats.prose += 1
    elif not stopwords and _is_directive(stripped):
        stats.directives += 1


def _observe_config(stats: _Stats, line: str, stripped: str) -> bool:
    if _INI_SECTION.match(line):
        stats.ini_sections += 1
        return True
    if _ENV.fullmatch(stripped):
        stats.env += 1
        return True
    if _KV_EQ.match(line) and not stripped.endswith((";", "{", "(", ")")):
        stats.kv_eq += 1
        return True
    yaml = _YAML_KV.match(line)
    if yaml:
        value = yaml.group(1) or ""
        if not value.endswith((";", "{", ",", "(")) and len(value.split()) <= 8:
            stats.yaml += 1
            return True
    elif _YAML_LIST.match(line) and len(stripped.split()) <= 4:
        stats.yaml += 1
        return True
    return False


def _numeric_share(tokens: Sequence[str]) -> float:
    tokens = tokens[:MAX_TOKENS]
    return sum(1 for t in tokens if _NUMBER.fullmatch(t)) / len(tokens) if tokens else 0.0


def _is_numeric_row(stripped: str) -> bool:
    """vmstat/iostat/df rows: three or more tokens, mostly numbers (units allowed)."""
    tokens = stripped.split(maxsplit=MAX_TOKENS)
    return len(tokens) >= 3 and _numeric_share(tokens) >= 0.6


def _is_folded_stack(line: str) -> bool:
    """`frame;frame;frame 123`: the collapsed-stack format of flame graph tools."""
    if line[:1].isspace() or ";" not in line:
        return False
    stack, _, count = line.rpartition(" ")
    return count.isdigit() and ";" in stack


def _is_directive(stripped: str) -> bool:
    """`Keyword value...` lines of sshd_config, httpd.conf, haproxy.cfg, nginx.conf: a few
    tokens, no list bullet (the caller has checked there are no English function words)."""
    if _BULLET.match(stripped) or stripped.endswith((".", ":", "?", "!")):
        return False
    return bool(_DIRECTIVE.fullmatch(stripped))


def _is_prose(stripped: str, words: int) -> bool:
    """Six or more tokens, mostly words: a sentence rather than a record or a statement."""
    tokens = len(stripped.split()) - (1 if _BULLET.match(stripped) else 0)
    return tokens >= 6 and words >= 0.7 * tokens


# -- fingerprints: one combined regex, matched once per line ------------------------------

# name -> (pattern, data type, weight, signal, minimum number of matching lines)
_FINGERPRINTS: dict[str, tuple[str, DataType, float, str, int]] = {
    "pprof_top": (
        r"\s*flat\s+flat%\s+sum%\s+cum\s+cum%",
        PROFILE,
        8.0,
        "go tool pprof -top table",
        1,
    ),
    "pprof_header": (
        r"(?:Duration: [\d.]+\w*, )?Total samples = |-{6,}\+-{20,}$",
        PROFILE,
        6.0,
        "go tool pprof text report",
        1,
    ),
    "perf_report": (
        r"# (?:Overhead|Children)\s+(?:Self\s+)?Command",
        PROFILE,
        8.0,
        "perf report output",
        1,
    ),
    "perf_sample": (
        r"\S.*\s\d+\s+\[\d{3}\]\s+\d+\.\d+:\s+(?:\d+\s+)?[\w:-]+:",
        PROFILE,
        4.0,
        "perf script sample headers",
        2,
    ),
    "pyspy_thread": (r"Thread 0x[0-9A-Fa-f]+ \([\w+]+\): \"", PROFILE, 8.0, "py-spy dump", 1),
    "pstats": (
        r"\s*ncalls\s+tottime\s+percall\s+cumtime",
        PROFILE,
        8.0,
        "cProfile/pstats table",
        1,
    ),
    "v8_ticks": (
        r"\s*ticks\s+(?:total\s+nonlib|parent)\s+name",
        PROFILE,
        8.0,
        "V8 --prof tick profile",
        1,
    ),
    "thread_dump": (
        r"Full thread dump |\s+java\.lang\.Thread\.State: ",
        PROFILE,
        7.0,
        "JVM thread dump",
        2,
    ),
    "async_profiler": (
        r"--- \d+ (?:ns|samples|bytes|calls) \(",
        PROFILE,
        7.0,
        "async-profiler flat output",
        2,
    ),
    "goroutine_profile": (r"goroutine profile: total \d+", PROFILE, 7.0, "Go goroutine profile", 1),
    "callgrind": (r"(?:events: \w|c?f[ln]=\(\d+\))", PROFILE, 7.0, "callgrind profile", 3),
    "jfr_print": (r"jdk\.\w+ \{\s*$", PROFILE, 7.0, "JFR event dump", 1),
    "perf_stat": (r"\s*Performance counter stats for ", PROFILE, 7.0, "perf stat counters", 1),
    "vmstat": (r"procs -+memory-+|\s*r\s+b\s+swpd\s+free", METRICS, 8.0, "vmstat output", 1),
    "iostat": (r"avg-cpu:\s+%user|Device\s+(?:r/s|tps)\s", METRICS, 8.0, "iostat output", 1),
    "sar": (r".*%user\s+%nice\s+%system\s+%iowait", METRICS, 7.0, "sar/mpstat CPU table", 1),
    "wrk": (
        r"\s*Thread Stats\s+Avg\s+Stdev|Requests/sec:\s+[\d.]+",
        METRICS,
        8.0,
        "wrk load-test summary",
        1,
    ),
    "ab": (
        r"Requests per second:\s+[\d.]+|Percentage of the requests served",
        METRICS,
        8.0,
        "ApacheBench summary",
        1,
    ),
    "k6_text": (r"\s*[✓✗]?\s*http_req_duration\.*:\s+avg=", METRICS, 8.0, "k6 summary", 1),
    "top": (
        r"top - \d{2}:\d{2}:\d{2} up |\s*PID\s+USER\s+PR\s+NI\s",
        METRICS,
        7.0,
        "top snapshot",
        1,
    ),
    "otel_debug": (
        r"\s*(?:Trace ID|Parent ID)\s+: [0-9a-f]*$|Span #\d+$|ResourceSpans #\d+",
        TRACE,
        8.0,
        "OpenTelemetry debug-exporter spans",
        2,
    ),
    "k8s": (r"(?:apiVersion|kind):\s*[\w./]+\s*$", CONFIG, 2.0, "Kubernetes apiVersion/kind", 2),
    "systemd": (
        r"\[(?:Unit|Service|Install|Socket|Timer|Mount|Path)\]\s*$",
        CONFIG,
        3.0,
        "systemd unit sections",
        1,
    ),
    "nginx_block": (
        r"\s*(?:server|location|upstream|http|events|map|stream)\b[^;{]*\{\s*$",
        CONFIG,
        2.5,
        "nginx-style blocks",
        2,
    ),
    "nginx_directive": (
        r"\s*(?:listen|server_name|proxy_pass|root|worker_processes"
        r"|worker_connections|access_log|error_log|include)\s[^;]*;",
        CONFIG,
        2.5,
        "nginx directives",
        2,
    ),
    "haproxy": (
        r"(?:global|defaults|frontend\s+\S+|backend\s+\S+|listen\s+\S+)\s*$",
        CONFIG,
        2.5,
        "HAProxy sections",
        2,
    ),
    "haproxy_directive": (
        r"\s+(?:bind|balance|server\s+\S+\s+\S+:\d+|option|timeout\s+\w+"
        r"|maxconn|use_backend|default_backend)\b",
        CONFIG,
        2.5,
        "HAProxy directives",
        3,
    ),
    "compose": (r"services:\s*$", CONFIG, 2.0, "docker-compose services", 1),
    "dockerfile": (
        r"(?:FROM\s+\S+|(?:RUN|COPY|CMD|ENTRYPOINT|WORKDIR|EXPOSE)\s)",
        CODE,
        2.5,
        "Dockerfile instructions",
        3,
    ),
    "terraform": (
        r"(?:resource|variable|module|provider|data|output)\s+\"[\w-]+\"",
        CONFIG,
        4.0,
        "Terraform/HCL blocks",
        2,
    ),
    "crontab": (
        r"(?:(?:[\d*/,-]+|[A-Za-z]{3})\s+){5}\S|@(?:reboot|daily|hourly|weekly)\s+/",
        CONFIG,
        5.0,
        "crontab schedule lines",
        2,
    ),
    "makefile": (r"\.PHONY\s*:", CODE, 4.0, "Makefile targets", 1),
    "email": (r"(?:From|To|Subject|Date|Cc|Reply-To): \S", TEXT, 1.5, "e-mail headers", 3),
    "k8s_events": (
        r"LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE",
        LOGS,
        7.0,
        "kubectl get events table",
        1,
    ),
    "pytest": (
        r"=+ (?:test session starts|FAILURES|ERRORS|short test summary info) =+$",
        LOGS,
        6.0,
        "pytest session output",
        1,
    ),
    "event_viewer": (
        r"(?:Log Name|Event ID|Task Category|Keywords):\s+\S",
        LOGS,
        7.0,
        "Windows Event Viewer record",
        2,
    ),
    "go_panic": (r"goroutine \d+ \[running\]:|panic: ", LOGS, 3.0, "Go panic", 1),
}
_FINGERPRINT = re.compile(
    "|".join(f"(?P<{name}>{spec[0]})" for name, spec in _FINGERPRINTS.items())
)


def _fingerprint_votes(stats: _Stats) -> list[Vote]:
    votes = []
    for name, count in stats.fingerprints.items():
        _, data_type, weight, signal, minimum = _FINGERPRINTS[name]
        if count >= minimum:
            votes.append(Vote(data_type, weight, signal))
    return votes


# -- votes from line statistics -----------------------------------------------------------


def _log_votes(stats: _Stats) -> list[Vote]:
    votes = []
    ts = stats.share(stats.ts_text)
    if ts >= 0.1:
        votes.append(Vote(LOGS, 6.0 * ts, f"{ts:.0%} of lines start with a timestamp"))
    lead = stats.share(stats.lead_level)
    if lead >= 0.1:
        votes.append(Vote(LOGS, 5.0 * lead, f"{lead:.0%} of lines start with a log level"))
    levels = stats.share(stats.levels)
    if levels >= 0.1:
        votes.append(Vote(LOGS, min(2.0, 3.0 * levels), f"log levels on {levels:.0%} of lines"))
    if stats.stack >= 2:
        weight = 2.0 + 3.0 * min(1.0, stats.share(stats.stack) * 2)
        votes.append(Vote(LOGS, weight, f"{stats.stack} stack-trace lines"))
    return votes


def _metric_votes(stats: _Stats) -> list[Vote]:
    votes = []
    prom = stats.share(stats.prom + stats.prom_meta)
    if stats.prom_meta and prom >= 0.6:
        votes.append(Vote(METRICS, 8.0 * prom, "Prometheus exposition format (# HELP/# TYPE)"))
    elif prom >= 0.8:
        votes.append(Vote(METRICS, 5.0 * prom, "metric_name{labels} value lines"))
    lines = stats.share(stats.metric_lines)
    if lines >= 0.5:
        votes.append(Vote(METRICS, 7.0 * lines, "InfluxDB line protocol / StatsD lines"))
    rows = stats.share(stats.numeric_rows + stats.ts_numeric)
    if rows >= 0.3:
        votes.append(Vote(METRICS, 5.0 * rows, f"{rows:.0%} of lines are rows of numbers"))
    return votes


def _profile_votes(stats: _Stats) -> list[Vote]:
    votes = []
    folded = stats.share(stats.folded)
    if folded >= 0.5:
        votes.append(Vote(PROFILE, 8.0 * folded, "collapsed/folded stack samples"))
    frames = stats.share(stats.perf_frames)
    if frames >= 0.4:
        votes.append(Vote(PROFILE, 6.0 * frames, "perf script stack frames"))
    return votes


def _config_votes(stats: _Stats) -> list[Vote]:
    votes = []
    n = stats.effective
    yaml = stats.yaml / n
    if yaml >= 0.5:
        votes.append(Vote(CONFIG, 5.0 * yaml, f"YAML keys on {yaml:.0%} of lines"))
    ini = (stats.ini_sections + stats.kv_eq) / n
    if stats.ini_sections and ini >= 0.5:
        votes.append(Vote(CONFIG, 5.5 * ini, "[section] and key = value lines"))
    elif stats.kv_eq / n >= 0.6:
        votes.append(Vote(CONFIG, 4.0 * stats.kv_eq / n, "key = value lines"))
    env = stats.env / n
    if env >= 0.6:
        votes.append(Vote(CONFIG, 5.0 * env, "KEY=value environment lines"))
    directives = stats.directives / n
    if directives >= 0.6:
        votes.append(Vote(CONFIG, 4.0 * directives, "keyword-value directive lines"))
    return votes


def _code_votes(stats: _Stats) -> list[Vote]:
    votes = []
    code = stats.code / stats.effective
    if code >= 0.15:
        votes.append(Vote(CODE, 7.0 * code, f"code syntax on {code:.0%} of lines"))
    if stats.shebang:
        votes.append(Vote(CODE, 2.5, f"#! {stats.shebang}"))
    return votes


def _prose_votes(stats: _Stats) -> list[Vote]:
    votes = []
    prose = stats.share(stats.prose)
    if prose >= 0.2:
        votes.append(Vote(TEXT, 5.0 * prose, f"prose on {prose:.0%} of lines"))
    stop = stats.stopwords / max(1, stats.words)
    if stats.prose and stats.words >= 30 and stop >= 0.15:
        votes.append(Vote(TEXT, min(3.0, 15.0 * (stop - 0.15)), f"{stop:.0%} common English words"))
    markdown = min(3.0, 0.5 * stats.headings + 0.3 * stats.md_marks + 1.0 * stats.fences)
    if markdown >= 1.0 and stats.prose:
        votes.append(Vote(TEXT, markdown, "markdown/reStructuredText markup"))
    return votes


# -- CSV ---------------------------------------------------------------------------------

_TIME_HEADER = re.compile(r"@?(?:time(?:_?stamp)?|date(?:_?time)?|ts|t|period|_time)", re.I)
_TIME_VALUE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\d{10}(?:\d{3})?(?:\.\d+)?$")


@dataclass(frozen=True)
class _Table:
    delimiter: str
    header: list[str]
    rows: list[list[str]]


def _csv_table(lines: Sequence[str]) -> _Table | None:
    """The sample as a delimited table of >= 3 columns, if its rows agree on a width."""
    sample = [line[:MAX_LINE_CHARS] for line in lines[:MAX_CSV_ROWS] if line.strip()]
    if len(sample) < 4:
        return None
    best: _Table | None = None
    for delimiter in (",", "\t", ";", "|"):
        if sum(delimiter in line for line in sample) < 0.8 * len(sample):
            continue
        try:
            rows = list(csv.reader(sample, delimiter=delimiter))
        except csv.Error:
            continue
        widths = Counter(len(row) for row in rows)
        width, count = widths.most_common(1)[0]
        if width >= 3 and count >= 0.8 * len(rows) and (best is None or width > len(best.header)):
            body = [row for row in rows[1:] if len(row) == width]
            best = _Table(delimiter, rows[0], body)
    return best


def _csv_votes(table: _Table) -> list[Vote]:
    header = [cell.strip().strip('"') for cell in table.header]
    if {"timeStamp", "elapsed"} <= set(header):
        return [Vote(METRICS, 8.0, "JMeter results (JTL)")]
    cells = [cell.strip() for row in table.rows for cell in row[:MAX_TOKENS] if cell.strip()]
    if not cells:
        return []
    time_column = any(_TIME_HEADER.fullmatch(cell) for cell in header[:3]) or all(
        _TIME_VALUE.match(row[0].strip()) for row in table.rows[:20] if row
    )
    numeric = sum(1 for cell in cells if _NUMBER.fullmatch(cell)) / len(cells)
    wordy = [cell for cell in cells if len(cell) >= 30 and not _NUMBER.fullmatch(cell)]
    leveled = sum(1 for cell in wordy if _LEVEL.search(cell))
    votes = []
    if numeric >= 0.5:
        label = "CSV time series" if time_column else "CSV of numbers"
        votes.append(Vote(METRICS, 4.0 + 3.0 * numeric + (1.5 if time_column else 0.0), label))
    if time_column and leveled >= 0.3 * len(table.rows):
        votes.append(Vote(LOGS, 7.0, "CSV export of log lines (time + message with levels)"))
    return votes


# --------------------------------------------------------------------------------------
# Decision
# --------------------------------------------------------------------------------------


def _decide(votes: Sequence[Vote], notes: Sequence[str]) -> Classification:
    """Sum the votes per type, softmax them into confidences, explain the winner."""
    scores = dict.fromkeys(DataType, 0.0)
    for vote in votes:
        scores[vote.data_type] += vote.weight
    confidences = _softmax(scores)
    ranked = sorted(DataType, key=lambda t: (-confidences[t], _TIE_ORDER.index(t)))
    best = ranked[0]
    # Only types that some evidence pointed at: ties at zero evidence are not alternatives.
    voted = {vote.data_type for vote in votes if vote.weight > 0}
    alternatives = [
        Alternative(data_type=t, confidence=round(confidences[t], 4))
        for t in ranked[1:]
        if t in voted and confidences[t] >= MIN_ALTERNATIVE_CONFIDENCE
    ][:MAX_ALTERNATIVES]
    return Classification(
        data_type=best,
        confidence=round(confidences[best], 4),
        alternatives=alternatives,
        signals=list(_explain(best, votes, notes)),
    )


# On exact ties (no evidence at all) prefer the least committal reading.
_TIE_ORDER = (TEXT, LOGS, CONFIG, CODE, METRICS, TRACE, PROFILE, VISUAL)


def _softmax(scores: dict[DataType, float]) -> dict[DataType, float]:
    top = max(scores.values())
    exps = {t: math.exp((s - top) / TEMPERATURE) for t, s in scores.items()}
    total = sum(exps.values())
    return {t: e / total for t, e in exps.items()}


def _explain(best: DataType, votes: Sequence[Vote], notes: Sequence[str]) -> Iterator[str]:
    supporting = sorted((v for v in votes if v.data_type == best), key=lambda v: -v.weight)
    seen: set[str] = set()
    emitted = 0
    for vote in supporting:
        if vote.signal not in seen and emitted < MAX_SIGNALS - len(notes):
            seen.add(vote.signal)
            emitted += 1
            yield vote.signal
    yield from notes
    if not supporting and not notes:
        yield "no distinctive signal"
