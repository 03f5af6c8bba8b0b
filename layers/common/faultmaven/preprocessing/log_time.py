"""Timestamps in log lines: the common formats, parsed to epoch seconds (UTC).

Users never say what produced a log, so every format is tried on a line the first time
its shape is seen; after that the analyzer reuses the winning format for every line of
the same shape (see `TimestampReader`), which is what keeps parsing at about a
microsecond a line. Naive timestamps are read as UTC: only their order and spacing
matter for the analysis, and the output prints them back without a zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_MONTH_RX = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY_RX = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# Where a timestamp may start: logs put it first, after a file name (OpenStack),
# a client address (access logs) or a syslog priority, never far in.
_SEARCH_WINDOW = 64
# Epoch seconds outside 1973..2096 are ids or counters, not times.
_EPOCH_MIN, _EPOCH_MAX = 1e8, 4e9


@dataclass
class _Cache:
    """Memo of the expensive part of a conversion: lines within one second share it."""

    seconds: dict[str, float | None] = field(default_factory=dict)
    days: dict[tuple[int, int, int], float | None] = field(default_factory=dict)


Converter = Callable[[re.Match[str], _Cache], float | None]


@dataclass(frozen=True)
class TimeFormat:
    name: str
    pattern: re.Pattern[str]
    convert: Converter
    window: int = _SEARCH_WINDOW


def _midnight(cache: _Cache, year: int, month: int, day: int) -> float | None:
    key = (year, month, day)
    if key not in cache.days:
        try:
            cache.days[key] = datetime(year, month, day, tzinfo=UTC).timestamp()
        except ValueError:
            cache.days[key] = None
    return cache.days[key]


def _clock(
    cache: _Cache, year: int, month: int, day: int, hour: int, minute: int, second: int
) -> float | None:
    midnight = _midnight(cache, year, month, day)
    if midnight is None or hour > 23 or minute > 59 or second > 60:
        return None
    return midnight + hour * 3600 + minute * 60 + second


def _zone_offset(zone: str) -> int:
    """Seconds east of UTC for `Z`, `+0100`, `+01:00` or `-05`."""
    if zone == "Z":
        return 0
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    offset = hours * 3600 + minutes * 60
    return -offset if zone[0] == "-" else offset


def _current_year() -> int:
    """Formats without a year (syslog, Android, klog) are read as this year's."""
    return datetime.now(UTC).year


KeyParser = Callable[[str, _Cache], float | None]


def _converter(parse_key: KeyParser, *, fraction: bool = True, zone: bool = False) -> Converter:
    """A converter for patterns whose groups are (seconds key, [fraction], [zone]).

    The key (the timestamp up to the second) is parsed once and memoised: this is the
    per-line hot path, hence no helper calls for the common cases.
    """

    def convert(m: re.Match[str], cache: _Cache) -> float | None:
        key = m.group(1)
        try:
            base = cache.seconds[key]
        except KeyError:
            base = cache.seconds[key] = parse_key(key, cache)
        if base is None:
            return None
        if fraction and (digits := m.group(2)):
            base += float("0." + digits)
        if zone and (offset := m.group(3)):
            base -= _zone_offset(offset)
        return base

    return convert


def _iso_key(s: str, cache: _Cache) -> float | None:  # 2026-11-22T10:01:02
    return _clock(
        cache, int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19])
    )


def _apache_key(s: str, cache: _Cache) -> float | None:  # 22/Nov/2026:10:01:02
    month = _MONTHS.get(s[3:6])
    if month is None:
        return None
    return _clock(
        cache, int(s[7:11]), month, int(s[0:2]), int(s[12:14]), int(s[15:17]), int(s[18:20])
    )


def _syslog_key(s: str, cache: _Cache) -> float | None:  # Nov 22 10:01:02 / Nov  2 10:01:02
    day, clock = s[3:].split()
    return _clock(
        cache,
        _current_year(),
        _MONTHS[s[:3]],
        int(day),
        int(clock[0:2]),
        int(clock[3:5]),
        int(clock[6:8]),
    )


def _hdfs_key(s: str, cache: _Cache) -> float | None:  # 081109 203615 (yymmdd HHMMSS)
    return _clock(
        cache,
        2000 + int(s[0:2]),
        int(s[2:4]),
        int(s[4:6]),
        int(s[7:9]),
        int(s[9:11]),
        int(s[11:13]),
    )


def _month_day_key(s: str, cache: _Cache) -> float | None:
    """Android (11-22 10:01:02) and Proxifier (11.22 10:01:02): no year."""
    return _clock(
        cache,
        _current_year(),
        int(s[0:2]),
        int(s[3:5]),
        int(s[6:8]),
        int(s[9:11]),
        int(s[12:14]),
    )


def _klog_key(s: str, cache: _Cache) -> float | None:  # 1122 10:01:02
    return _clock(
        cache, _current_year(), int(s[0:2]), int(s[2:4]), int(s[5:7]), int(s[8:10]), int(s[11:13])
    )


def _yymmdd_key(s: str, cache: _Cache) -> float | None:  # Spark: 17/06/09 20:10:40
    return _clock(
        cache,
        2000 + int(s[0:2]),
        int(s[3:5]),
        int(s[6:8]),
        int(s[9:11]),
        int(s[12:14]),
        int(s[15:17]),
    )


def _ctime(m: re.Match[str], cache: _Cache) -> float | None:
    """Apache error logs: `Sun Dec 04 04:47:44 2005` (the year comes after the clock)."""
    month_name, day, clock, digits, year = m.group(1, 2, 3, 4, 5)
    base = _clock(
        cache,
        int(year),
        _MONTHS[month_name],
        int(day),
        int(clock[0:2]),
        int(clock[3:5]),
        int(clock[6:8]),
    )
    return None if base is None else base + (float("0." + digits) if digits else 0.0)


def epoch_value(raw: str) -> float | None:
    """A number in a JSON or logfmt time field: seconds, millis, micros or nanos."""
    try:
        value = float(raw)
    except ValueError:
        return None
    for scale in (1.0, 1e3, 1e6, 1e9):
        seconds = value / scale
        if seconds < _EPOCH_MAX:
            return seconds if seconds > _EPOCH_MIN else None
    return None


_ISO = re.compile(
    r"(\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(?: ?(Z|[+-]\d\d(?::?\d\d)?)\b)?"
)


def _field(m: re.Match[str], cache: _Cache) -> float | None:
    """A structured log's time field: an epoch number or an ISO string."""
    raw = m.group(1)
    if raw[:1].isdigit() and "-" not in raw and "/" not in raw:
        return epoch_value(raw)
    iso = _ISO.match(raw)
    return _iso(iso, cache) if iso else None


_iso = _converter(_iso_key, zone=True)


FORMATS: tuple[TimeFormat, ...] = (
    TimeFormat("iso", _ISO, _iso),
    TimeFormat(
        "apache",
        re.compile(r"\[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d)(?:\.(\d+))?(?: ([+-]\d{4}))?\]"),
        _converter(_apache_key, zone=True),
    ),
    TimeFormat(
        "ctime",
        re.compile(rf"{_DAY_RX} ({_MONTH_RX}) ([ \d]?\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? (\d{{4}})\b"),
        _ctime,
    ),
    TimeFormat(
        "syslog",
        re.compile(rf"(?<![\w-])({_MONTH_RX} [ \d]?\d \d\d:\d\d:\d\d)(?:\.(\d+))?(?![\d:])"),
        _converter(_syslog_key),
    ),
    TimeFormat("hdfs", re.compile(r"^(\d{6} \d{6})\b"), _converter(_hdfs_key, fraction=False)),
    TimeFormat(
        "month_day",
        re.compile(r"(?<![\d./-])(\d\d[-.]\d\d \d\d:\d\d:\d\d)(?:\.(\d{3,6}))?(?![\d:])"),
        _converter(_month_day_key),
    ),
    TimeFormat(
        "klog", re.compile(r"^[IWEF](\d{4} \d\d:\d\d:\d\d)\.(\d+)\b"), _converter(_klog_key)
    ),
    TimeFormat(
        "yy/mm/dd",
        re.compile(r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d)(?![\d:])"),
        _converter(_yymmdd_key, fraction=False),
    ),
    TimeFormat(
        "field",
        re.compile(
            r"""(?<![\w.])["']?(?:@?timestamp|time|ts|t|date|datetime|asctime|eventTime)"""
            r"""["']?\s*[:=]\s*["']?(\d[\d.:T+/ Z-]*[\dZ])"""
        ),
        _field,
        window=4096,
    ),
)


def find_format(line: str) -> tuple[int, int] | None:
    """(index in FORMATS, start offset) of the timestamp that starts earliest in `line`."""
    return TimestampReader().find(line)


class TimestampReader:
    """Reads timestamps line after line, memoising per format.

    `read(line, hint)` tries the format at index `hint` first (the one found for an
    earlier line of the same shape) and falls back to trying them all.
    """

    def __init__(self) -> None:
        self._plans = [(fmt.pattern.search, fmt.window, fmt.convert, _Cache()) for fmt in FORMATS]

    def find(self, line: str, hint: int | None = None) -> tuple[int, int] | None:
        """(format index, start offset) of the earliest timestamp in `line`. A `hint`
        format that matches at the very start wins at once."""
        if hint is not None:
            search, window, convert, cache = self._plans[hint]
            m = search(line, 0, window)
            if m is not None and m.start() == 0 and convert(m, cache) is not None:
                return hint, 0
        best: tuple[int, int] | None = None
        for index, (search, window, convert, cache) in enumerate(self._plans):
            m = search(line, 0, window)
            if m is None or (best is not None and m.start() >= best[1]):
                continue
            if convert(m, cache) is not None:
                best = (index, m.start())
                if m.start() == 0:
                    break
        return best

    def find_at_start(self, line: str, hint: int | None) -> int | None:
        """`hint` if that format matches at the start of `line`: the cheap check."""
        if hint is None:
            return None
        search, window, convert, cache = self._plans[hint]
        m = search(line, 0, window)
        return hint if m is not None and convert(m, cache) is not None else None

    def read(self, line: str, hint: int | None) -> float | None:
        if hint is not None:
            search, window, convert, cache = self._plans[hint]
            m = search(line, 0, window)
            if m is not None and (value := convert(m, cache)) is not None:
                return value
        found = self.find(line)
        if found is None:
            return None
        search, window, convert, cache = self._plans[found[0]]
        m = search(line, 0, window)
        return None if m is None else convert(m, cache)


def parse_timestamp(line: str) -> float | None:
    """Epoch seconds of the first timestamp in `line`, or None."""
    return TimestampReader().read(line, None)


def iso(seconds: float) -> str:
    """ISO 8601 without zone, with milliseconds only when the log had them."""
    moment = datetime.fromtimestamp(seconds, UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def clock(seconds: float, *, with_date: bool) -> str:
    """Short human time for insights: `10:02:13`, or `2026-11-22 10:02:13` across days."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
