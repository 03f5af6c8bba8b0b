"""The header of a log line (timestamp, pid, thread, level, logger) and its level.

Templates must come from the message alone, so the header is stripped before mining;
the level is read on the way. Works on masked text (numbers already <*>), once per line
shape. No format is configured: the header is recognised by what its tokens look like.
"""

from __future__ import annotations

import re
from enum import IntEnum

MASK = "<*>"


class Level(IntEnum):
    """Severity, ordered. CONTINUATION marks lines that belong to the event above them
    (stack frames, traceback bodies, blank lines): they are never counted as events."""

    CONTINUATION = -1
    NONE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4
    FATAL = 5


_LEVEL_WORDS = {
    "emerg": Level.FATAL,
    "emergency": Level.FATAL,
    "alert": Level.FATAL,
    "crit": Level.FATAL,
    "critical": Level.FATAL,
    "fatal": Level.FATAL,
    "panic": Level.FATAL,
    "severe": Level.ERROR,
    "err": Level.ERROR,
    "error": Level.ERROR,
    "warn": Level.WARN,
    "warning": Level.WARN,
    "notice": Level.INFO,
    "info": Level.INFO,
    "information": Level.INFO,
    "debug": Level.DEBUG,
    "trace": Level.DEBUG,
    "verbose": Level.DEBUG,
    "fine": Level.DEBUG,
    "finer": Level.DEBUG,
    "finest": Level.DEBUG,
}
_LETTER_LEVELS = {
    "V": Level.DEBUG,
    "D": Level.DEBUG,
    "I": Level.INFO,
    "W": Level.WARN,
    "E": Level.ERROR,
    "F": Level.FATAL,
    "A": Level.FATAL,
}
_WORDS = "|".join(sorted(_LEVEL_WORDS, key=len, reverse=True))
# A level token in the header: `INFO`, `[error]`, `<Warning>`, `[core:error]`, `ERROR:`.
_LEVEL_TOKEN = re.compile(rf"[\[<(]?(?:[\w-]+:)?((?i:{_WORDS}))[\]>)]?[:,]?")
# A level anywhere near the start: upper case, bracketed, or as a key/value field.
_LEVEL_ANYWHERE = re.compile(
    rf"""(?<![\w-])({"|".join(w.upper() for w in _LEVEL_WORDS)})(?![\w-])
    | [\[<](?:[\w-]+:)?((?i:{_WORDS}))[\]>]
    | (?i:\b(?:level|lvl|severity|loglevel|levelname))["']?\s*[=:]\s*["']?((?i:{_WORDS}))\b
    """,
    re.VERBOSE,
)
_ERRORISH = re.compile(
    r"""(?i:\b(?:exception|traceback|panic|fatal|failed|failure|refused|error|denied
    |segfault|segmentation\ fault|out\ of\ memory|oom-?kill\w*)\b)
    | \w(?:Exception|Error)\b""",
    re.VERBOSE,
)
_TS_BODY = (
    r"(?:<\*>|[-\[\]().,:;/+|#*=~<>]"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun"
    r"|AM|PM|UTC|GMT)(?![A-Za-z]))+"
)
_TS_TOKEN = re.compile(_TS_BODY)
_TS_RUN = re.compile(rf"(?:{_TS_BODY}(?:\s+|$))+")  # the leading run of such tokens at once
# A logger, component or syslog tag right after the timestamp/level:
# `dfs.DataNode$PacketResponder:`, `c.f.OrderService`, `chrome.exe`, `sshd(pam_unix)[<*>]:`,
# `WindowManager:`, `controller.go:<*>]`.
_LOGGER = re.compile(
    r"""(?:[A-Za-z_][\w$-]*(?:[.$/][\w$<>*-]+)+
    | [\w.-]+(?:\([^)\s]*\))?\[<\*>\]
    | [A-Z][a-z]+[A-Z][\w$]*
    )[\]:]?""",
    re.VERBOSE,
)
_PID_TAG = re.compile(r"[\w.()/-]+\[<\*>\]:")
_EXCEPTION_NAME = re.compile(r"[\w$.]*(?:Exception|Error|Throwable)\b:?")
_JSON_MESSAGE = re.compile(r'"(?:msg|message|log|event|text)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_JSON_ERROR = re.compile(r'"(?:error|err|exception|exc_info)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_JSON_LEVEL = re.compile(
    r'"(?:level|severity|lvl|loglevel|levelname|log\.level)"\s*:\s*"?([A-Za-z]+)'
)


def json_message(masked: str) -> tuple[str | None, Level]:
    """A JSON-lines record: its message (plus error field), the content to mine, and its
    level field. The message is None when the record has no message field."""
    found = _JSON_LEVEL.search(masked)
    level = _LEVEL_WORDS.get(found.group(1).lower(), Level.NONE) if found else Level.NONE
    message = _JSON_MESSAGE.search(masked)
    if message is None:
        return None, level
    content = message.group(1)
    error = _JSON_ERROR.search(masked)
    if error is not None:
        content = f"{content} error: {error.group(1)}"
    return content, level


def is_errorish(masked: str) -> bool:
    """Words that make an unleveled line an error: exception, failed, refused, panic..."""
    return _ERRORISH.search(masked) is not None


def strip_timestamp_run(masked: str) -> str:
    """The line without its leading run of timestamp-like tokens."""
    run = _TS_RUN.match(masked)
    return masked[run.end() :] if run is not None and run.end() < len(masked) else masked


def level_anywhere(masked: str) -> Level:
    """A level near the start of the line: upper case, bracketed, or a key=value."""
    found = _LEVEL_ANYWHERE.search(masked, 0, 200)
    if found is None:
        return Level.NONE
    word = next(group for group in found.groups() if group)
    return _LEVEL_WORDS.get(word.lower(), Level.NONE)


def strip_header(masked: str, *, time_name: str | None = None, lead: int = 0) -> tuple[str, Level]:
    """Drop the line's header (timestamp, pid, thread, level, logger) and return the
    message with the level found on the way.

    Templates must come from the message alone: the header's varying parts (thread
    names, pids) and per-component prefixes would otherwise split one event into
    several templates or route it to a different branch of Drain's prefix tree.
    """
    rest = masked.strip()
    if lead:
        parts = rest.split(None, lead)
        rest = parts[lead] if len(parts) > lead else rest
    run = _TS_RUN.match(rest)
    if run is not None and run.end() > 0:
        rest, lead = rest[run.end() :], lead + 1
    syslog = time_name == "syslog"
    letters = time_name == "month_day"  # Android's threadtime: "... 1702 2395 D Tag: msg"
    level = Level.NONE
    stripped = lead > 0  # a header token was seen: later tokens may be level/logger
    named = False  # a logger/component/tag was dropped already
    while rest:
        parts = rest.split(None, 1)
        token, tail = parts[0], (parts[1] if len(parts) > 1 else "")
        if _TS_TOKEN.fullmatch(token):
            rest, stripped = tail, True
            continue
        if token[0] in "[(" and not _balanced(token):
            group, tail = _bracket_group(rest)
            if group is not None:
                level = level or _bracket_level(group)
                rest, stripped = tail, True
                continue
        if level is Level.NONE:
            found = _header_level(token, stripped=stripped, letters=letters)
            if found is not None:
                level, rest, stripped = found, tail, True
                if len(token) == 1:  # Android: "D Tag: message" -> drop the tag too
                    rest = _drop_tag(rest)
                continue
        if token[0] in "[(" and _balanced(token):
            level = level or _bracket_level(token)
            rest, stripped = tail, True
            continue
        if stripped and not named:
            if syslog:
                rest, named = _drop_host_and_tag(rest), True
                continue
            if _LOGGER.fullmatch(token) and not _EXCEPTION_NAME.fullmatch(token) and tail:
                rest, named = tail, True
                continue
            host_and_tag = tail.split(None, 1)
            if len(host_and_tag) == 2 and _PID_TAG.fullmatch(host_and_tag[0]):
                rest, named = host_and_tag[1], True  # RFC 3339 syslog: host tag[pid]: msg
                continue
        break
    return (rest or masked.strip()), level


def _balanced(token: str) -> bool:
    return token.count("[") + token.count("(") <= token.count("]") + token.count(")")


def _bracket_group(rest: str) -> tuple[str | None, str]:
    """`[req-<*> <*> - - -] tail` -> ("[req-<*> <*> - - -]", "tail"), for groups with spaces."""
    opener = rest[0]
    closer = "]" if opener == "[" else ")"
    end = rest.find(closer, 0, 100)
    if end < 0:
        return None, rest
    return rest[: end + 1], rest[end + 1 :].lstrip(" :")


def _bracket_level(group: str) -> Level:
    found = _LEVEL_TOKEN.fullmatch(group)
    return _LEVEL_WORDS.get(found.group(1).lower(), Level.NONE) if found else Level.NONE


def _header_level(token: str, *, stripped: bool, letters: bool) -> Level | None:
    """The level a header token names, if it is one. Lower-case or capitalised words
    count only after a timestamp (`2016-09-28 04:30:30, Info`), so that a message
    starting with "Error reading..." keeps its first word."""
    if len(token) == 1:
        return _LETTER_LEVELS.get(token) if stripped and letters else None
    if len(token) == 4 and token[0] in "IWEF" and token[1:] == MASK:  # klog: I<*>
        return _LETTER_LEVELS[token[0]]
    found = _LEVEL_TOKEN.fullmatch(token)
    if found is None:
        return None
    word = found.group(1)
    if not (stripped or word.isupper() or token[0] in "[<("):
        return None
    return _LEVEL_WORDS[word.lower()]


def _drop_tag(rest: str) -> str:
    """Android's tag runs up to the first colon: `WindowManager: ...`, `chatty  : ...`."""
    colon = rest.find(":", 0, 60)
    return rest[colon + 1 :].lstrip() if colon > 0 else rest


def _drop_host_and_tag(rest: str) -> str:
    """Syslog: `host tag[pid]: message` (or `tag: message`) -> `message`."""
    parts = rest.split(None, 2)
    if len(parts) == 3 and parts[1].endswith(":"):
        return parts[2]
    if len(parts) >= 2 and parts[0].endswith(":"):
        return rest.split(None, 1)[1]
    return rest
