"""Extraction for every data type: the log analyzer for logs, a generic description
(size, lines, head and tail, and the lines that signal trouble wherever they are) for the
rest until their dedicated analyzers arrive.

`extract(data_type, data)` is the step's whole contract: the artifact is decoded by the one
text/binary rule (artifacts.sniff_encoding), the FULL text is redacted, and every analyzer
sees only the redacted text. Analyzers mask, template, clip and quote what they read; a
secret cut or masked that way no longer matches any detector, so redacting their output
instead would let most of it through (a GitHub token templated as `ghp_abc...<*>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from faultmaven.preprocessing.artifacts import decode_text, sniff_encoding
from faultmaven.preprocessing.models import DataType

MAX_EXTRACTION_BYTES = 8192
MAX_SUMMARY_CHARS = 500
SAMPLE_LINES = 15
SAMPLE_LINE_CHARS = 300
NOTABLE_LINES = 40
NOTABLE_INSIGHTS = 6
# Words that mark a line worth reading in any text evidence (a `kubectl describe`, an
# `openssl` dump, a config, a report): what failed, what was refused or exhausted.
_NOTABLE = re.compile(
    r"\b(?:error|errors|err|fail(?:ed|ure|ing|s)?|fatal|panic|exception|oomkilled|oom|"
    r"killed|evicted|backoff|crashloop\w*|unhealthy|not ready|denied|refused|forbidden|"
    r"unauthori[sz]ed|expired|exceeded|exhausted|timeout|timed out|unreachable|"
    r"no space|full|throttl\w*|reject\w*|invalid|mismatch|warn(?:ing)?|critical|"
    r"lag|deadlock|unavailable|limit)\b",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
# In a notable line (a file's middle, stored verbatim), a long token with digits in it is
# an id, a hash or a credential the detectors may not know (a low-entropy one): it is
# masked, keeping the words and short values ("512Mi", "OOMKilled", a count) that say
# what went wrong. Dates and times are kept.
_LONG_TOKEN = re.compile(r"(?<![\w+/=-])(?=[\w+/=-]*\d)[\w+/=-]{12,}(?![\w+/=-])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _masked(line: str) -> str:
    return _LONG_TOKEN.sub(lambda m: m.group(0) if _DATE.match(m.group(0)) else "<token>", line)


@dataclass
class Extraction:
    """What Extract hands to Redact: raw text that may still contain secrets."""

    kind: str
    summary: str
    extraction: str
    insights: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    redaction_counts: dict[str, int] = field(default_factory=dict)
    """What redaction took out of the whole artifact (kind -> count): the findings
    describe the uploaded file, not only the excerpt that is stored."""


def extract(data_type: DataType, data: bytes) -> Extraction:
    """Redact the artifact's full text, then run the analyzer for `data_type` on it."""
    from faultmaven.preprocessing.redact import redact

    encoding = None if data_type is DataType.VISUAL_EVIDENCE else sniff_encoding(data)
    if encoding is None:
        return extract_generic(data_type, None, len(data))
    redaction = redact(decode_text(data, encoding))
    if data_type is DataType.LOGS_AND_ERRORS:
        extraction = extract_logs(redaction.text)
    else:
        extraction = extract_generic(data_type, redaction.text, len(data))
    extraction.redaction_counts = dict(redaction.counts)
    return extraction


def _cut_at_space(text: str) -> str:
    """Drop the last, possibly partial word: a word cut in half reads as a different
    word (and the text is redacted again after every cut, where half a secret would match
    no pattern)."""
    head, _, _ = text.rpartition(" ")
    return head if head else ""


def cap_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[: limit - 3].decode("utf-8", errors="ignore")
    head, newline, _ = cut.rpartition("\n")
    return (head if newline else _cut_at_space(cut)) + "..."


def cap_chars(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return _cut_at_space(text[: limit - 1]).rstrip() + "…"


def _clip(line: str) -> str:
    if len(line) <= SAMPLE_LINE_CHARS:
        return line
    return _cut_at_space(line[:SAMPLE_LINE_CHARS]) + " …[line truncated]"


def extract_logs(text: str) -> Extraction:
    from faultmaven.preprocessing.logs import analyze_log

    analysis = analyze_log(text)
    return Extraction(
        kind="logs",
        summary=cap_chars(analysis.summary, MAX_SUMMARY_CHARS),
        extraction=cap_bytes(analysis.to_extraction(), MAX_EXTRACTION_BYTES),
        insights=list(analysis.insights),
        stats={"lines": analysis.line_count},
    )


def extract_generic(data_type: DataType, text: str | None, size: int) -> Extraction:
    """Size, line count, and the first and last lines: enough for a person or the agent
    to see what the file is."""
    label = data_type.value.replace("_", " ")
    if text is None:
        summary = f"{label.capitalize()}: {size} bytes of binary content, not analysed as text."
        return Extraction(kind="binary", summary=summary, extraction=summary, stats={"bytes": size})
    # Counted and sampled without splitting the whole text: a 25 MiB file of short
    # lines would otherwise become millions of strings.
    line_count = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    first = text[: 64 * 1024].split("\n")[:SAMPLE_LINES]
    last = (
        text[-64 * 1024 :].rstrip("\n").split("\n")[-SAMPLE_LINES:]
        if line_count > SAMPLE_LINES
        else []
    )
    head = [_clip(line) for line in first]
    tail = [_clip(line) for line in last[-max(0, line_count - SAMPLE_LINES) :]] if last else []
    longest = max((len(line) for line in (*first, *last)), default=0)
    summary = (
        f"{label.capitalize()}: {line_count} lines, {size} bytes"
        + (f", longest line {longest} characters" if longest > SAMPLE_LINE_CHARS else "")
        + ". Starts with: "
        + " / ".join(line.strip() for line in head[:3] if line.strip())
    )
    notable = _notable_lines(text, skip=(0, 0))
    if notable:
        summary += f". {len(notable)} lines signal trouble, first: {notable[0][1].strip()}"
    body = [f"type: {data_type.value}", f"bytes: {size}", f"lines: {line_count}"]
    if notable:
        # First, so the 8 KB cap never cuts them: they are why the file was uploaded.
        body += ["", f"notable lines ({len(notable)}):"]
        body += [f"{number}: {line}" for number, line in notable]
    body += ["", "head:", *head]
    if tail:
        body += ["", f"tail (last {len(tail)} lines):", *tail]
    return Extraction(
        kind="generic",
        summary=cap_chars(summary, MAX_SUMMARY_CHARS),
        extraction=cap_bytes("\n".join(body), MAX_EXTRACTION_BYTES),
        insights=[
            cap_chars(f"line {number}: {line.strip()}", 300)
            for number, line in notable[:NOTABLE_INSIGHTS]
        ],
        stats={"bytes": size, "lines": line_count, "notable_lines": len(notable)},
    )


def _notable_lines(text: str, *, skip: tuple[int, int]) -> list[tuple[int, str]]:
    """Up to 40 lines (1-based numbers) that name a failure, except those in `skip`'s
    head and tail ranges (0, 0: none skipped); a line that differs from an earlier one
    only in its numbers is left out. Scans at most the first 4 MiB."""
    head_end, tail_start = skip
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text[: 4 * 1024 * 1024].split("\n"), start=1):
        if number <= head_end or (tail_start and number > tail_start):
            continue
        if not _NOTABLE.search(line):
            continue
        shape = _DIGITS.sub("#", line.strip().lower())
        if shape in seen:
            continue
        seen.add(shape)
        found.append((number, _clip(_masked(line.rstrip()))))
        if len(found) >= NOTABLE_LINES:
            break
    return found


def chunk_text(text: str, *, size: int = 1200, overlap: int = 150) -> list[str]:
    """Split on line boundaries into pieces of about `size` characters that overlap, so
    a fact straddling a boundary is whole in at least one chunk."""
    if not text.strip():
        return []
    chunks: list[str] = []
    lines = text.split("\n")
    current: list[str] = []
    length = 0
    for line in lines:
        line = line[:size]
        if current and length + len(line) + 1 > size:
            chunks.append("\n".join(current))
            carry: list[str] = []
            carried = 0
            for previous in reversed(current):
                if carried + len(previous) + 1 > overlap:
                    break
                carry.insert(0, previous)
                carried += len(previous) + 1
            current, length = carry, carried
        current.append(line)
        length += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks
