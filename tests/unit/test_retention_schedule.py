"""Reading the EventBridge scheduled event (which cadence, cut at which instant), the
cadences themselves and the retention settings' bounds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from faultmaven.core.settings import SettingsError, load_settings
from faultmaven.retention.models import CADENCES, RetentionJob, Schedule
from faultmaven.retention.scheduled import schedule_of, scheduled_time
from tests.conftest import ROOT

ARN = "arn:aws:events:us-east-1:123456789012:rule/"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (ROOT / "events" / "eventbridge" / f"retention_{name}.json").read_text()
    )
    return loaded


def test_the_sample_events_name_their_cadence() -> None:
    assert schedule_of(sample("hourly")) is Schedule.HOURLY
    assert schedule_of(sample("daily")) is Schedule.DAILY
    assert scheduled_time(sample("daily")) == datetime(2026, 11, 22, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FaultMaven-retention-hourly", Schedule.HOURLY),
        ("faultmaven-staging-retention-daily", Schedule.DAILY),
        ("custom-bus/FaultMaven-retention-daily", Schedule.DAILY),
    ],
)
def test_any_stack_name_before_the_suffix(rule: str, expected: Schedule) -> None:
    assert schedule_of({"resources": [ARN + rule]}) is expected


@pytest.mark.parametrize(
    "resources",
    [
        [ARN + "FaultMaven-retention-weekly"],
        [ARN + "FaultMaven-retention-daily-backup"],
        [ARN + "retention-daily"],  # no stack name: not a rule the stack made
        ["FaultMaven-retention-daily"],  # not an ARN
        [ARN + "FaultMaven-retention-daily", ARN + "FaultMaven-retention-hourly"],
        [ARN + "FaultMaven-retention-daily", ARN + "FaultMaven-nightly"],
        [],
        "arn:aws:events:us-east-1:123456789012:rule/FaultMaven-retention-daily",
        None,
    ],
)
def test_anything_else_is_refused(resources: Any) -> None:
    with pytest.raises(ValueError, match=r"rule|resources|ARN|both"):
        schedule_of({"resources": resources})


def test_the_time_is_the_events_and_the_clock_only_without_one() -> None:
    clock = datetime(2030, 1, 1, tzinfo=UTC)
    assert scheduled_time({"time": "2026-11-22T03:00:00Z"}, lambda: clock) == datetime(
        2026, 11, 22, 3, tzinfo=UTC
    )
    assert scheduled_time({"time": "2026-11-22T05:00:00+02:00"}) == datetime(
        2026, 11, 22, 3, tzinfo=UTC
    )
    assert scheduled_time({}, lambda: clock) == clock
    for bad in ("yesterday", "2026-11-22T03:00:00", 1764000000):
        with pytest.raises(ValueError, match="time"):
            scheduled_time({"time": bad})


def test_the_cadences_split_the_jobs_and_all_runs_every_one() -> None:
    hourly, daily = set(CADENCES[Schedule.HOURLY]), set(CADENCES[Schedule.DAILY])
    assert hourly == {RetentionJob.SESSION_INDEXES, RetentionJob.FINISHED_JOBS}
    assert not hourly & daily
    assert set(CADENCES[Schedule.ALL]) == set(RetentionJob) == hourly | daily
    order = CADENCES[Schedule.DAILY]
    # Working memory before artifacts: deleting evidence takes its chunks along.
    assert order.index(RetentionJob.CASE_MEMORY) < order.index(RetentionJob.ARTIFACTS)


def test_retention_settings_have_defaults_and_bounds() -> None:
    settings = load_settings()
    assert (
        settings.retention_case_archive_days,
        settings.retention_artifact_days,
        settings.retention_case_memory_days,
        settings.retention_audit_days,
        settings.retention_batch_size,
    ) == (90, 90, 7, 365, 500)
    for name, bad in (
        ("retention_case_archive_days", 0),
        ("retention_artifact_days", 3651),
        ("retention_case_memory_days", 0),
        ("retention_audit_days", 29),
        ("retention_batch_size", 0),
    ):
        with pytest.raises(SettingsError, match=f"FAULTMAVEN_{name.upper()}"):
            load_settings(**{name: bad})


def test_retention_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTMAVEN_RETENTION_AUDIT_DAYS", "730")
    assert load_settings().retention_audit_days == 730
