"""Log analysis: timestamps, levels, templates, stack traces, clusters, bursts, the
timeline, and the size limits of the summary and the extraction.

Fixture logs live in tests/data/logs (regenerate them with tests/data/logs/generate.py).
"""

from __future__ import annotations

import csv
import json
import logging
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faultmaven.preprocessing import log_lines
from faultmaven.preprocessing.evaluation import grouping_accuracy
from faultmaven.preprocessing.log_models import MAX_EXTRACTION_BYTES, MAX_SUMMARY_CHARS
from faultmaven.preprocessing.log_templates import new_miner
from faultmaven.preprocessing.log_time import iso, parse_timestamp
from faultmaven.preprocessing.logs import (
    ErrorCluster,
    LogAnalysis,
    StackTrace,
    TemplateStat,
    TimelineEvent,
    analyze_log,
    line_templates,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "logs"
LABELED = sorted(p.name.removesuffix("_structured.csv") for p in DATA.glob("*_structured.csv"))
FIXTURES = (
    "python_traces.log",
    "java_traces.log",
    "go_panics.log",
    "crlf.log",
    "invalid_utf8.log",
    "mixed_timestamps.log",
    "no_timestamps.log",
    "json_lines.log",
)
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def read(name: str) -> str:
    """As the pipeline hands logs over: decoded with errors="replace", line endings kept."""
    return (DATA / name).read_bytes().decode("utf-8", errors="replace")


def line_number(text: str, needle: str, occurrence: int = 1) -> int:
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[occurrence - 1]


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d}"


def trace(analysis: LogAnalysis, exception_type: str) -> StackTrace:
    return next(t for t in analysis.stack_traces if t.exception_type == exception_type)


# --- timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2026-11-22T10:01:02Z INFO x", "2026-11-22T10:01:02"),
        ("2026-11-22T10:01:02.250+01:00 INFO x", "2026-11-22T09:01:02.250"),
        ("2026-11-22 10:01:02,123 ERROR [main] x", "2026-11-22T10:01:02.123"),
        ("2026/11/22 10:01:02 [error] 1#1: x", "2026-11-22T10:01:02"),
        ("2016-09-28 04:30:30, Info                  CBS    x", "2016-09-28T04:30:30"),
        ('10.0.0.1 - - [22/Nov/2026:10:01:02 +0100] "GET / HTTP/1.1" 200', "2026-11-22T09:01:02"),
        ("[Sun Dec 04 04:47:44 2005] [error] x", "2005-12-04T04:47:44"),
        ("081109 203615 148 INFO dfs.DataNode: x", "2008-11-09T20:36:15"),
        ("17/06/09 20:10:40 INFO executor.Executor: x", "2017-06-09T20:10:40"),
        ("nova-api.log.1 2017-05-16 00:00:00.008 25746 INFO x", "2017-05-16T00:00:00.008"),
        ('{"ts": 1795341662, "msg": "x"}', "2026-11-22T10:01:02"),
        ('{"ts": 1795341662123, "msg": "x"}', "2026-11-22T10:01:02.123"),
        ('{"time": "2026-11-22T10:01:02Z", "msg": "x"}', "2026-11-22T10:01:02"),
        ("level=info ts=2026-11-22T10:01:02Z msg=x", "2026-11-22T10:01:02"),
    ],
)
def test_common_timestamp_formats_are_parsed(line: str, expected: str) -> None:
    parsed = parse_timestamp(line)
    assert parsed is not None
    assert iso(parsed) == expected


@pytest.mark.parametrize(
    ("line", "expected_suffix"),
    [
        ("Nov 22 10:01:02 web01 sshd[1]: x", "-11-22T10:01:02"),  # syslog: this year
        ("Nov  2 10:01:02 web01 sshd[1]: x", "-11-02T10:01:02"),
        ("11-22 10:01:02.123  1702  2395 E Tag: x", "-11-22T10:01:02.123"),  # Android
        ("[11.22 10:01:02] chrome.exe - x", "-11-22T10:01:02"),  # Proxifier
        ("E1122 10:01:02.123456    1 main.go:1] x", "-11-22T10:01:02.123"),  # klog
    ],
)
def test_year_less_formats_get_the_current_year(line: str, expected_suffix: str) -> None:
    parsed = parse_timestamp(line)
    assert parsed is not None
    assert iso(parsed) == f"{datetime.now(UTC).year}{expected_suffix}"


@pytest.mark.parametrize(
    "line",
    ["no time here", "\tat com.acme.Foo.bar(Foo.java:12)", "id 123456 789012", "99:99:99 x", ""],
)
def test_lines_without_a_timestamp_have_none(line: str) -> None:
    assert parse_timestamp(line) is None


# --- levels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-11-22 10:00:00,000 ERROR [main] app - x", "ERROR"),
        ("2026-11-22 10:00:00 [error] 1#1: x", "ERROR"),
        ("[Sun Dec 04 04:47:44 2005] [error] x", "ERROR"),
        ("2026-11-22 10:00:00 SEVERE: x", "ERROR"),
        ("2026-11-22 10:00:00 CRITICAL app: x", "FATAL"),
        ("2026-11-22 10:00:00 FATAL x", "FATAL"),
        ("2026-11-22 10:00:00 PANIC x", "FATAL"),
        ("11-22 10:00:00.000  1702  2395 E Tag: x", "ERROR"),
        ("11-22 10:00:00.000  1702  2395 W Tag: x", "WARN"),
        ("11-22 10:00:00.000  1702  2395 I Tag: x", "INFO"),
        ("11-22 10:00:00.000  1702  2395 D Tag: x", "DEBUG"),
        ("E1122 10:00:00.000000    1 main.go:1] x", "ERROR"),
        ("W1122 10:00:00.000000    1 main.go:1] x", "WARN"),
        ("2026-11-22 10:00:00 WARNING app: x", "WARN"),
        ("2016-09-28 04:30:30, Warning               CBS    x", "WARN"),
        ("2016-09-28 04:30:30, Info                  CBS    x", "INFO"),
        ("2026-11-22 10:00:00 TRACE x", "DEBUG"),
        ('{"level": "warn", "msg": "x"}', "WARN"),
        ('{"severity": "ERROR", "message": "x"}', "ERROR"),
        ("level=error msg=x", "ERROR"),
        ("ERROR:root:something broke", "ERROR"),
        ("Nov 22 10:00:00 host app[1]: connection refused by peer", "ERROR"),  # error-ish
        ("java.lang.IllegalStateException: boom", "ERROR"),
        ("worker failed to start", "ERROR"),
    ],
)
def test_levels_are_detected(line: str, level: str) -> None:
    assert analyze_log(line).level_counts == {level: 1}


def test_lines_without_level_or_error_words_have_no_level() -> None:
    assert analyze_log("Nov 22 10:00:00 host cron[1]: job done").level_counts == {}


# --- templates -------------------------------------------------------------------------


def labeled(system: str) -> tuple[str, list[str]]:
    with (DATA / f"{system}_structured.csv").open(encoding="utf-8") as rows:
        truth = [row["EventId"] for row in csv.DictReader(rows)]
    return read(f"{system}.log"), truth


def test_grouping_accuracy_metric() -> None:
    assert grouping_accuracy(["a", "a", "b"], ["x", "x", "y"]) == 1.0
    assert grouping_accuracy(["a", "a", "a"], ["x", "x", "y"]) == 0.0  # over-merged
    assert grouping_accuracy(["a", "b", "c"], ["x", "x", "y"]) == pytest.approx(1 / 3)


def test_labeled_data_covers_enough_systems() -> None:
    assert len(LABELED) >= 8
    for system in LABELED:
        text, truth = labeled(system)
        assert len(text.splitlines()) == len(truth) >= 200


@pytest.mark.parametrize("system", LABELED)
def test_grouping_accuracy_per_system(system: str) -> None:
    text, truth = labeled(system)
    assert grouping_accuracy(line_templates(text), truth) >= 0.9


def test_grouping_accuracy_overall() -> None:
    correct = total = 0.0
    for system in LABELED:
        text, truth = labeled(system)
        correct += grouping_accuracy(line_templates(text), truth) * len(truth)
        total += len(truth)
    assert correct / total >= 0.95


def test_templates_come_from_the_message_not_the_header() -> None:
    lines = [
        f"2026-11-22 10:00:0{i},{i}00 INFO [worker-{i}] com.acme.jobs.Runner - "
        f"Job {1000 + i} finished for user{i} in {i * 7} ms"
        for i in range(5)
    ]
    templates = set(line_templates("\n".join(lines)))
    assert templates == {"Job <*> finished for user<*> in <*> ms"}


def test_a_small_vocabulary_is_part_of_the_template() -> None:
    states = ["Started", "Paused", "Resumed", "Stopped"]
    lines = [
        f"2017-05-16 00:00:{i:02d}.000 2931 INFO nova.compute.manager [req-{i}] "
        f"[instance: {i:08x}-aaaa-bbbb-cccc-dddddddddddd] VM {states[i % 4]} (Lifecycle Event)"
        for i in range(40)
    ]
    templates = set(line_templates("\n".join(lines)))
    assert templates == {f"VM {state} (Lifecycle Event)" for state in states}


def test_drain_is_configured_in_code_and_quiet() -> None:
    miner = new_miner()
    assert miner.persistence_handler is None
    assert miner.config.masking_instructions == []
    assert logging.getLogger("drain3").getEffectiveLevel() >= logging.WARNING


# --- stack traces ----------------------------------------------------------------------


def test_python_tracebacks_are_extracted_and_deduplicated() -> None:
    text = read("python_traces.log")
    analysis = analyze_log(text)

    division = trace(analysis, "ZeroDivisionError")
    assert division.kind == "python"
    assert division.count == 6
    assert division.message == "division by zero"
    assert division.first_line == line_number(text, "Traceback")
    assert division.first_seen == "2026-11-22T10:00:01.250"
    assert division.frames == [
        "compute (/srv/app/pricing.py:17)",
        "handle (/srv/app/worker.py:61)",
        "run (/srv/app/worker.py:88)",
    ]

    chained = trace(analysis, "app.errors.DatabaseUnavailable")
    assert chained.count == 2  # db-1 and db-2: same code path, different message
    assert chained.caused_by == ["ConnectionRefusedError"]

    crash = trace(analysis, "KeyError")
    assert crash.count == 1
    assert crash.message == "'database'"
    assert len(analysis.stack_traces) == 3


def test_a_traceback_is_one_error_event() -> None:
    analysis = analyze_log(read("python_traces.log"))
    # 6 "job failed" + 2 "cannot reach database" log lines, + 1 uncaught KeyError crash;
    # frames, code lines and the exception lines of logged tracebacks do not count.
    assert analysis.level_counts["ERROR"] == 9
    assert {c.template for c in analysis.clusters} == {
        "worker: job <*> failed",
        "worker: cannot reach database",
        "KeyError: 'database'",
    }


def test_java_exceptions_are_extracted_and_deduplicated() -> None:
    text = read("java_traces.log")
    analysis = analyze_log(text)

    access = trace(analysis, "org.springframework.web.client.ResourceAccessException")
    assert access.kind == "java"
    assert access.count == 5
    assert access.caused_by == ["java.net.ConnectException"]
    assert access.first_line == line_number(text, "ResourceAccessException")
    assert (
        access.frames[0]
        == "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:785)"
    )
    assert len(access.frames) <= 8
    assert "Caused by" not in " ".join(access.frames)

    npe = trace(analysis, "java.lang.NullPointerException")
    assert npe.count == 1
    assert npe.frames[0] == "com.acme.orders.CartSweeper.sweep(CartSweeper.java:58)"
    assert analysis.level_counts["ERROR"] == 6  # 5 logged failures + the uncaught NPE


def test_java_frames_with_generated_names_do_not_split_a_trace() -> None:
    traces = [
        "2026-11-22 10:00:00,000 ERROR [main] app - call failed\n"
        "java.lang.IllegalStateException: boom\n"
        f"\tat com.acme.Service$$Lambda${i}/0x00000008{i:04x}.run(Unknown Source)\n"
        f"\tat jdk.internal.reflect.GeneratedMethodAccessor{i}.invoke(Unknown Source)\n"
        "\tat com.acme.Service.call(Service.java:10)\n"
        "\t... 12 more"
        for i in range(50)
    ]
    analysis = analyze_log("\n".join(traces))
    assert len(analysis.stack_traces) == 1
    assert analysis.stack_traces[0].count == 50


def test_go_panics_are_extracted_and_deduplicated() -> None:
    text = read("go_panics.log")
    analysis = analyze_log(text)

    nil = trace(analysis, "runtime error")
    assert nil.kind == "go"
    assert nil.count == 3
    assert nil.message == "invalid memory address or nil pointer dereference"
    assert nil.first_line == line_number(text, "panic: runtime error")
    assert nil.frames[0] == "main.(*Server).handleOrder (/app/server.go:118)"
    assert nil.first_seen == "2026-11-22T10:20:05"

    config = trace(analysis, "panic")
    assert config.message == "config: missing DATABASE_URL"
    assert config.frames == ["main.mustConfig (/app/config.go:21)", "main.main (/app/main.go:14)"]
    assert analysis.level_counts == {"FATAL": 4}
    assert any(event.kind == "crash" for event in analysis.timeline)


# --- clusters, first occurrence, bursts, timeline ----------------------------------------


def incident_log() -> str:
    """An hour of a service: background errors, a WARN before a storm of connection
    errors at 10:30, an OOM kill and a restart."""
    lines = []
    for minute in range(60):
        for second in range(0, 60, 10):
            moment = T0 + timedelta(minutes=minute, seconds=second)
            lines.append(f"{stamp(moment)} INFO  [main] app.Worker - processed batch {minute}")
        moment = T0 + timedelta(minutes=minute, seconds=30, milliseconds=500)
        lines.append(f"{stamp(moment)} ERROR [main] app.Db - query failed: timeout after 30 s")
    moment = T0 + timedelta(minutes=29, seconds=5)
    lines.append(f"{stamp(moment)} WARN  [main] app.Pool - pool nearly exhausted: 19/20")
    for i in range(300):
        moment = T0 + timedelta(minutes=30, milliseconds=200 * i)
        lines.append(
            f"{stamp(moment)} ERROR [http-{i % 8}] app.Api - Connection refused to "
            f"10.0.0.{i % 5}:5432"
        )
    moment = T0 + timedelta(minutes=45)
    lines.append(f"{stamp(moment)} FATAL [main] app.Main - Out of memory: Killed process 4242")
    moment = T0 + timedelta(minutes=46)
    lines.append(f"{stamp(moment)} INFO  [main] app.Main - Restarting service orders")
    return "\n".join(sorted(lines)) + "\n"


def test_clusters_are_ranked_by_severity_then_count() -> None:
    analysis = analyze_log(incident_log())
    ranked = [(c.level, c.template, c.count) for c in analysis.clusters]
    assert ranked == [
        ("FATAL", "Out of memory: Killed process <*>", 1),
        ("ERROR", "Connection refused to <*>", 300),
        ("ERROR", "query failed: timeout after <*> s", 60),
        ("WARN", "pool nearly exhausted: <*>", 1),
    ]


def test_cluster_first_and_last_occurrence() -> None:
    text = incident_log()
    refused = next(c for c in analyze_log(text).clusters if c.template.startswith("Connection"))
    assert refused.first_line == line_number(text, "Connection refused")
    assert refused.first_seen == "2026-11-22T10:30:00"
    assert refused.last_line == line_number(text, "Connection refused", 300)
    assert refused.last_seen == "2026-11-22T10:30:59.800"
    assert refused.example.endswith("Connection refused to 10.0.0.0:5432")


def test_a_storm_of_errors_is_a_burst() -> None:
    analysis = analyze_log(incident_log())
    assert len(analysis.bursts) == 1
    burst = analysis.bursts[0]
    assert burst.start.startswith("2026-11-22T10:30:0")
    assert burst.end.startswith("2026-11-22T10:30:59")
    assert 300 <= burst.count <= 302  # plus the background error of that minute, if inside
    assert burst.template == "Connection refused to <*>"
    assert (
        "burst of 301 errors in 60 s at 10:30:00, mostly 'Connection refused to <*>'"
        in analysis.insights
    )


def test_a_steady_error_rate_is_no_burst() -> None:
    lines = [f"{stamp(T0 + timedelta(seconds=7 * i))} ERROR job {i} failed" for i in range(2000)]
    assert analyze_log("\n".join(lines)).bursts == []


def test_a_log_that_is_one_storm_still_shows_the_burst() -> None:
    analysis = analyze_log(read("json_lines.log"))
    assert [(b.count, b.start) for b in analysis.bursts] == [(40, "2026-11-22T11:04:00")]


def test_timeline_of_key_events() -> None:
    analysis = analyze_log(incident_log())
    kinds = [(event.kind, event.at) for event in analysis.timeline]
    assert kinds == [
        ("first_error", "2026-11-22T10:00:30.500"),
        ("first_warn", "2026-11-22T10:29:05"),
        ("burst", "2026-11-22T10:30:00"),  # also the first "Connection refused": one entry
        ("first_fatal", "2026-11-22T10:45:00"),
        ("restart", "2026-11-22T10:46:00"),
    ]
    assert [e.line for e in analysis.timeline] == sorted(e.line for e in analysis.timeline)


def test_timeline_is_capped() -> None:
    lines = []
    for i in range(60):
        moment = T0 + timedelta(minutes=i)
        lines.append(f"{stamp(moment)} ERROR [main] app - failure kind{'abcdefghij'[i % 10]}{i}")
        lines.append(f"{stamp(moment)} INFO [main] app - Restarting service number {i}")
    assert len(analyze_log("\n".join(lines)).timeline) <= 20


def test_insights_tell_the_story() -> None:
    insights = analyze_log(incident_log()).insights
    assert insights[0] == (
        "361 ERROR/FATAL lines (1 FATAL), 50% of events; 83% from one template: "
        "'Connection refused to <*>'"
    )
    assert "errors began at 10:00:30 (line 5), 30 s after the log starts" in insights
    assert "out-of-memory at 10:45:00: 'Out of memory: Killed process <*>'" in insights
    assert "errors continue until the end of the log (last at 10:59:30)" in insights


def test_errors_after_a_warning_are_dated_from_it() -> None:
    lines = [
        f"{stamp(T0)} WARN app - disk 91% full",
        f"{stamp(T0 + timedelta(minutes=4, seconds=2))} ERROR app - write failed",
        f"{stamp(T0 + timedelta(minutes=9))} INFO app - retry scheduled",
    ]
    insights = analyze_log("\n".join(lines)).insights
    assert "errors began at 10:04:02 (line 2), 4 min after the first WARN" in insights


# --- size limits -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [*FIXTURES, *(f"{system}.log" for system in LABELED)])
def test_summary_and_extraction_fit_their_limits(name: str) -> None:
    analysis = analyze_log(read(name))
    assert 0 < len(analysis.summary) <= MAX_SUMMARY_CHARS
    extraction = analysis.to_extraction()
    assert len(extraction.encode("utf-8")) <= MAX_EXTRACTION_BYTES
    assert json.loads(extraction)["summary"] == analysis.summary


def test_summary_is_deterministic() -> None:
    text = incident_log()
    assert analyze_log(text).summary == analyze_log(text).summary
    assert analyze_log(text).summary.startswith(
        "723 lines from 2026-11-22T10:00:00 to 2026-11-22T10:59:50; 1 FATAL, 360 ERROR, 1 WARN, "
        "361 INFO; 6 templates. 361 ERROR/FATAL lines (1 FATAL), 50% of events; 83% from one "
        "template: 'Connection refused to <*>'."
    )


def test_extraction_degrades_gracefully_when_too_big() -> None:
    long = "x" * 400
    analysis = LogAnalysis(
        line_count=1,
        analyzed_line_count=1,
        clusters=[
            ErrorCluster(
                template=f"{long} {i}",
                count=1,
                level="ERROR",
                first_line=i,
                last_line=i,
                example=long,
            )
            for i in range(200)
        ],
        top_templates=[TemplateStat(template=f"{long} {i}", count=1) for i in range(200)],
        timeline=[TimelineEvent(line=i, kind="first_error", text=long) for i in range(200)],
        insights=[long] * 50,
        summary="s" * MAX_SUMMARY_CHARS,
    )
    extraction = json.loads(analysis.to_extraction())
    assert len(analysis.to_extraction().encode()) <= MAX_EXTRACTION_BYTES
    assert extraction["summary"] == analysis.summary
    assert extraction["clusters"]  # trimmed, not dropped


@pytest.mark.timeout(60)
def test_pathological_log_of_100k_distinct_error_templates() -> None:
    r = random.Random(7)

    def word() -> str:
        return "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(3, 9)))

    text = "\n".join(
        f"2026-11-22 10:{i // 60 % 60:02d}:{i % 60:02d} ERROR {word()} {word()} {word()} {word()}"
        for i in range(100_000)
    )
    analysis = analyze_log(text)
    assert analysis.level_counts == {"ERROR": 100_000}
    assert len(analysis.to_extraction().encode("utf-8")) <= MAX_EXTRACTION_BYTES
    assert len(analysis.summary) <= MAX_SUMMARY_CHARS


@pytest.mark.timeout(60)
def test_a_single_9_mb_line_is_cut_for_analysis() -> None:
    r = random.Random(9)
    body = "".join(r.choice(string.ascii_letters + " 0123456789/:") for _ in range(9_000_000))
    analysis = analyze_log(f"2026-11-22 10:00:00 ERROR {body}")
    assert analysis.line_count == 1
    assert analysis.truncated_line_count == 1
    assert len(analysis.clusters[0].example) <= 300
    assert any("cut for analysis" in insight for insight in analysis.insights)
    assert len(analysis.to_extraction().encode("utf-8")) <= MAX_EXTRACTION_BYTES


def test_huge_line_counts_keep_head_and_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_lines, "MAX_LINES", 100)
    monkeypatch.setattr(log_lines, "HEAD_LINES", 10)
    lines = [f"2026-11-22 10:00:00 INFO step {i}" for i in range(1000)]
    lines[999] = "2026-11-22 10:00:01 ERROR the end"
    analysis = analyze_log("\n".join(lines))
    assert analysis.line_count == 1000
    assert analysis.analyzed_line_count == 100
    assert analysis.clusters[0].first_line == 1000
    assert any("900 lines in the middle" in insight for insight in analysis.insights)


# --- awkward input ---------------------------------------------------------------------


def test_empty_input() -> None:
    analysis = analyze_log("")
    assert analysis.line_count == 0
    assert analysis.clusters == []
    assert analysis.summary == "0 lines; 0 templates."
    assert json.loads(analysis.to_extraction())["line_count"] == 0


def test_blank_lines_only() -> None:
    analysis = analyze_log("\n\n  \n\t\n")
    assert analysis.line_count == 4
    assert analysis.event_count == 0
    assert analysis.template_count == 0


@pytest.mark.parametrize("ending", ["\r\n", "\r", "\n"])
def test_line_endings(ending: str) -> None:
    text = read("crlf.log").replace("\r\n", "\n").replace("\n", ending)
    analysis = analyze_log(text)
    assert analysis.line_count == 5
    assert analysis.level_counts == {"ERROR": 2, "WARN": 1, "INFO": 2}
    assert analysis.clusters[0].template == "app - write failed: No space left on device"
    assert not any("\r" in c.template or "\r" in c.example for c in analysis.clusters)


def test_crlf_fixture_as_delivered() -> None:
    text = read("crlf.log")
    assert "\r\n" in text
    analysis = analyze_log(text)
    assert analysis.time_range.first == "2026-11-22T08:00:00.001"
    assert analysis.clusters[0].count == 2


def test_invalid_utf8_replaced_characters() -> None:
    analysis = analyze_log(read("invalid_utf8.log"))
    assert analysis.level_counts == {"ERROR": 1, "INFO": 6}
    assert "\ufffd" in analysis.clusters[0].example
    assert analysis.to_extraction().encode("utf-8")


def test_no_timestamps_at_all() -> None:
    analysis = analyze_log(read("no_timestamps.log"))
    assert analysis.parsed_timestamp_count == 0
    assert analysis.time_range.first is None
    assert analysis.bursts == []
    assert analysis.clusters[0].first_seen is None
    assert analysis.clusters[0].template == "batch <*> failed: connection refused to <*>"
    assert "errors began at line 11" in analysis.insights
    assert "no timestamps recognised: no timing information" in analysis.insights


def test_mixed_and_missing_timestamps() -> None:
    analysis = analyze_log(read("mixed_timestamps.log"))
    assert analysis.line_count == 10
    assert analysis.parsed_timestamp_count == 7
    assert analysis.level_counts["ERROR"] == 3
    refused = next(c for c in analysis.clusters if "refused" in c.template)
    assert refused.first_seen == "2026-11-22T10:00:15.250"
    no_time = next(c for c in analysis.clusters if "no time" in c.template)
    assert no_time.first_seen is None


def test_json_lines() -> None:
    analysis = analyze_log(read("json_lines.log"))
    assert analysis.level_counts == {"ERROR": 40, "WARN": 38, "INFO": 222}
    assert analysis.parsed_timestamp_count == 300
    assert [t.template for t in analysis.top_templates] == [
        "GET <*> served in <*> ms",
        "payment <*> declined by gateway error: upstream <*>",
        "cache miss ratio <*>%",
    ]


@pytest.mark.parametrize("indent", ["  ", "\t", ""])
def test_python_frames_are_read_whatever_their_indentation(indent: str) -> None:
    """One PY_FRAME (preprocessing/frames.py) for the classifier and the analyzer: a
    traceback whose indentation a log shipper stripped still has its frames."""
    text = "\n".join(
        [
            "2026-11-22T10:00:00Z INFO worker started",
            "2026-11-22T10:00:05Z ERROR job failed",
            "Traceback (most recent call last):",
            f'{indent}File "/app/jobs.py", line 88, in run',
            f"{indent}  self.step()",
            f'{indent}File "/app/db.py", line 42, in acquire',
            f"{indent}  raise PoolTimeout(self.size)",
            "PoolTimeout: pool of 50 exhausted",
        ]
    )
    (trace,) = analyze_log(text).stack_traces
    assert (trace.kind, trace.exception_type) == ("python", "PoolTimeout")
    assert trace.frames == ["acquire (/app/db.py:42)", "run (/app/jobs.py:88)"]
