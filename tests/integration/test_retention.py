"""The retention jobs over real PostgreSQL, Redis and the moto server: each job removes or
archives exactly what is past its period; a dry run changes nothing and reports the same
counts as the real run; a second run finds nothing; the Lambda runs the cadence its rule
names, cut at the event's time; the CLI prints the report.

Data is made through the API and the services; only timestamps are moved into the past
with SQL, and session expiry is what Redis does: the session key disappears.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from faultmaven.container import Container
from faultmaven.core.clock import utcnow
from faultmaven.evidence.service import work_prefix
from faultmaven.jobs.store import JobStore, job_key
from faultmaven.local.aws import LambdaContext
from faultmaven.local.cli import app as cli
from faultmaven.retention.models import JobReport, RetentionJob, Schedule
from faultmaven.retention.service import RetentionService
from tests.conftest import ROOT
from tests.helpers import Api, User
from tests.integration.evidence_helpers import request_upload, upload

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)
J = RetentionJob

# How to reach each status from active through the API.
PATHS: dict[str, list[str]] = {
    "active": [],
    "investigating": ["investigating"],
    "stalled": ["investigating", "stalled"],
    "resolved": ["resolved"],
    "validated": ["resolved", "validated"],
    "documenting": ["resolved", "documenting"],
    "archived_after_resolving": ["resolved", "archived"],
    "archived": ["archived"],
}


# -- helpers (also used by test_retention_properties.py) ---------------------------------
def move(api: Api, user: User, case_id: str, *statuses: str) -> None:
    for status in statuses:
        response = api.call(
            "POST", f"/cases/{case_id}/status", user, json={"status": status, "reason": "test"}
        )
        assert response.status_code == 200, response.text


def case_in(api: Api, user: User, path: str) -> str:
    case_id: str = api.case(user)["case_id"]
    move(api, user, case_id, *PATHS[path])
    return case_id


def pending_evidence(api: Api, user: User, case_id: str, filename: str = "app.log") -> str:
    """An evidence row whose upload was asked for: its job exists, its object does not."""
    accepted = request_upload(api, user, case_id, filename, 100)
    assert accepted.status_code == 202, accepted.text
    evidence_id: str = accepted.json()["evidence_id"]
    return evidence_id


def execute(container: Container, sql: str, **params: Any) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(text(sql), params)


def column(container: Container, sql: str, **params: Any) -> list[Any]:
    with container.database.engine.connect() as connection:
        return list(connection.execute(text(sql), params).scalars())


def set_case_times(container: Container, case_id: str, **times: datetime | None) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in times)
    sql = f"UPDATE cases SET {assignments} WHERE case_id = :case_id"  # noqa: S608 - names are ours
    execute(container, sql, case_id=case_id, **times)


def in_batches_of(container: Container, batch_size: int) -> RetentionService:
    """The container's retention service, with another batch size."""
    return RetentionService(
        container.database,
        cases=container.cases,
        evidence=container.evidence,
        sessions=container.sessions,
        jobs=container.jobs,
        policy=replace(container.retention.policy, batch_size=batch_size),
    )


def statuses(container: Container, case_ids: list[str]) -> dict[str, str]:
    with container.database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT case_id, status FROM cases WHERE case_id = ANY(:ids)"), {"ids": case_ids}
        )
        return {str(row[0]): str(row[1]) for row in rows}


def run(
    container: Container | RetentionService, schedule: Schedule, now: datetime, **options: Any
) -> dict[RetentionJob, JobReport]:
    service = container.retention if isinstance(container, Container) else container
    report = service.run(schedule, now=now, **options)
    return {job.job: job for job in report.jobs}


def counts(report: JobReport) -> tuple[int, int, int]:
    return report.examined, report.deleted, report.archived


def dry_real_again(
    container: Container, schedule: Schedule, now: datetime, job: RetentionJob, state: Any
) -> tuple[JobReport, JobReport]:
    """Dry run (nothing changes), real run (same counts), second run (nothing to do)."""
    before = state()
    dry = run(container, schedule, now, dry_run=True)[job]
    assert dry.dry_run
    assert state() == before, "a dry run changed something"
    real = run(container, schedule, now)[job]
    assert not real.dry_run
    assert counts(dry) == counts(real)
    assert dry.details == real.details
    again = run(container, schedule, now)[job]
    assert (again.deleted, again.archived) == (0, 0)
    return dry, real


# -- hourly: Redis ----------------------------------------------------------------------
def test_session_indexes_drop_the_sessions_that_expired(api: Api, container: Container) -> None:
    user, other = api.user(), api.user()
    kept = api.call("POST", "/sessions", user, json={"client_id": "laptop"}).json()
    gone = api.call("POST", "/sessions", user, json={"client_id": "phone"}).json()
    gone_plain = api.call("POST", "/sessions", user).json()
    others = api.call("POST", "/sessions", other, json={"client_id": "phone"}).json()
    container.kv.delete(f"session:{gone['session_id']}", f"session:{gone_plain['session_id']}")

    def state() -> tuple[set[str], set[str], str | None, str | None, str | None]:
        kv = container.kv
        return (
            kv.set_members(f"user_sessions:{user.user_id}"),
            kv.set_members(f"user_sessions:{other.user_id}"),
            kv.get(f"session_client:{user.user_id}:laptop"),
            kv.get(f"session_client:{user.user_id}:phone"),
            kv.get(f"session_client:{other.user_id}:phone"),
        )

    dry, _ = dry_real_again(container, Schedule.HOURLY, utcnow(), J.SESSION_INDEXES, state)
    # 4 index entries and 3 client pointers looked at; 2 entries and 1 pointer stale.
    assert counts(dry) == (7, 3, 0)
    assert dry.details == {"user_index_entries": 2, "client_pointers": 1}
    assert state() == (
        {kept["session_id"]},
        {others["session_id"]},
        kept["session_id"],
        None,
        others["session_id"],
    )
    listing = api.call("GET", "/sessions", user).json()
    assert [s["session_id"] for s in listing["items"]] == [kept["session_id"]]


def test_a_sweep_stopped_by_its_time_budget_reports_what_it_removed(
    api: Api, container: Container
) -> None:
    users = [api.user() for _ in range(12)]
    for user in users:
        session = api.call("POST", "/sessions", user).json()
        container.kv.delete(f"session:{session['session_id']}")

    def stale() -> int:
        return sum(len(container.kv.set_members(f"user_sessions:{u.user_id}")) for u in users)

    before = stale()
    assert before == len(users)
    small = in_batches_of(container, 1)
    # Stop as soon as something was removed: how many scan steps that takes depends on
    # whatever else is in the keyspace (rate-limit and revocation-cache keys).
    report = run(small, Schedule.HOURLY, utcnow(), stop_when=lambda: stale() < before)
    sweep = report[J.SESSION_INDEXES]
    assert not sweep.complete  # stopped part-way through the keyspace walk
    removed = before - stale()
    assert 0 < removed < len(users)
    assert sweep.deleted == sweep.details["user_index_entries"] == removed


def test_a_client_pointer_rewritten_meanwhile_is_kept(api: Api, container: Container) -> None:
    """The sweep deletes a pointer only while it still names the expired session."""
    user = api.user()
    old = api.call("POST", "/sessions", user, json={"client_id": "phone"}).json()
    key = f"session_client:{user.user_id}:phone"
    assert container.kv.delete_if_value(key, "ses_someone_else") is False
    assert container.kv.get(key) == old["session_id"]
    assert container.kv.delete_if_value(key, old["session_id"]) is True
    assert container.kv.get(key) is None


def test_finished_jobs_that_lost_their_expiry_are_removed(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    now = utcnow()
    ttl = container.settings.job_ttl_seconds
    cutoff = now - timedelta(seconds=ttl)
    store = JobStore(container.kv, ttl)

    def job(status: str, updated_at: datetime) -> str:
        created = container.jobs.create(case_id=case_id, evidence_id="evd_" + "0" * 32)
        if status == "running":
            container.jobs.progress(created.job_id, stage="extract", progress=40)
        elif status != "queued":
            container.jobs.finish(created.job_id, error="boom" if status == "failed" else None)
        current = store.get(created.job_id)
        assert current is not None
        store.save(current.model_copy(update={"updated_at": updated_at}))
        container.kv.client.persist(job_key(created.job_id))  # expiry lost
        return created.job_id

    expected_gone = {job("completed", cutoff - SECOND), job("failed", cutoff)}
    kept = {
        job("completed", cutoff + SECOND),
        job("running", cutoff - DAY),
        job("queued", cutoff - DAY),
    }

    def state() -> set[str]:
        return {j for j in expected_gone | kept if container.kv.get(job_key(j)) is not None}

    dry, _ = dry_real_again(container, Schedule.HOURLY, now, J.FINISHED_JOBS, state)
    assert counts(dry) == (5, 2, 0)
    assert dry.cutoff == cutoff
    assert state() == kept


def test_jobs_that_keep_their_expiry_leave_nothing_to_do(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    pending_evidence(api, owner, case_id)
    report = run(container, Schedule.HOURLY, utcnow())[J.FINISHED_JOBS]
    assert counts(report) == (1, 0, 0)


# -- daily: PostgreSQL and S3 -------------------------------------------------------------
def test_resolved_cases_are_archived_with_a_recorded_transition(
    api: Api, container: Container
) -> None:
    owner = api.user()
    now = utcnow()
    cutoff = now - timedelta(days=container.settings.retention_case_archive_days)
    due = {
        case_in(api, owner, "resolved"): cutoff - SECOND,
        case_in(api, owner, "validated"): cutoff,
        case_in(api, owner, "documenting"): cutoff - 30 * DAY,
    }
    not_due = {
        case_in(api, owner, "resolved"): cutoff + MICROSECOND,
        case_in(api, owner, "investigating"): cutoff - DAY,
        case_in(api, owner, "stalled"): cutoff - DAY,
        case_in(api, owner, "active"): cutoff - DAY,
        case_in(api, owner, "archived"): cutoff - DAY,
    }
    deleted = case_in(api, owner, "resolved")
    assert api.call("DELETE", f"/cases/{deleted}", owner).status_code == 204
    not_due[deleted] = cutoff - DAY
    for case_id, when in {**due, **not_due}.items():
        set_case_times(container, case_id, status_changed_at=when)
    every = [*due, *not_due]
    before = statuses(container, every)

    dry, _ = dry_real_again(
        container, Schedule.DAILY, now, J.RESOLVED_CASES, lambda: statuses(container, every)
    )
    assert counts(dry) == (3, 0, 3)
    assert statuses(container, every) == {
        **before,
        **dict.fromkeys(due, "archived"),
    }
    for case_id, previous in ((c, before[c]) for c in due):
        history = api.call("GET", f"/cases/{case_id}/status/history", owner).json()["items"]
        last = history[-1]
        assert (last["from_status"], last["to_status"], last["changed_by"]) == (
            previous,
            "archived",
            None,
        )
        assert "retention" in last["reason"]
        trail = api.call("GET", f"/cases/{case_id}/audit", owner).json()["items"]
        assert (trail[-1]["action"], trail[-1]["actor_id"]) == ("case.status_changed", None)
        assert trail[-1]["details"]["to"] == "archived"
        case = api.call("GET", f"/cases/{case_id}", owner).json()
        assert case["closed_at"] is not None
        # Archived means read-only, as for a case archived by hand.
        message = api.call(
            "POST", f"/cases/{case_id}/messages", owner, json={"content": "late note"}
        )
        assert message.status_code == 409


def test_working_memory_goes_a_while_after_the_case_closes(api: Api, container: Container) -> None:
    owner = api.user()
    now = utcnow()
    cutoff = now - timedelta(days=container.settings.retention_case_memory_days)
    chunk_ids: dict[str, list[str]] = {}

    def case_with_chunks(path: str, *, chunk_times: list[datetime]) -> tuple[str, str]:
        case_id = api.case(owner)["case_id"]
        evidence_id = pending_evidence(api, owner, case_id)
        container.evidence.replace_chunks(evidence_id, [f"piece {i}" for i in chunk_times])
        ids = column(
            container,
            "SELECT chunk_id FROM evidence_chunks WHERE evidence_id = :e ORDER BY ordinal",
            e=evidence_id,
        )
        for chunk_id, when in zip(ids, chunk_times, strict=True):
            execute(
                container,
                "UPDATE evidence_chunks SET created_at = :t WHERE chunk_id = :c",
                t=when,
                c=chunk_id,
            )
            # Its vector in the case's working memory (same id), indexed as it was stored.
            execute(
                container,
                "UPDATE vector_chunks SET indexed_at = :t WHERE chunk_id = :c",
                t=when,
                c=chunk_id,
            )
        chunk_ids[case_id] = ids
        move(api, owner, case_id, *PATHS[path])
        return case_id, evidence_id

    old = cutoff - DAY
    # Exactly at the cutoff counts as past it (for the closure and for the chunk).
    resolved_long_ago, evidence_kept = case_with_chunks("resolved", chunk_times=[old, cutoff])
    set_case_times(container, resolved_long_ago, resolved_at=cutoff)
    # Closed long ago, but one chunk came later (evidence added to the resolved case).
    late_chunk, _ = case_with_chunks("documenting", chunk_times=[old, cutoff + MICROSECOND])
    set_case_times(container, late_chunk, resolved_at=cutoff - 2 * DAY)
    archived_unresolved, _ = case_with_chunks("archived", chunk_times=[old])
    set_case_times(container, archived_unresolved, closed_at=cutoff - SECOND)
    resolved_recently, _ = case_with_chunks("resolved", chunk_times=[old])
    set_case_times(container, resolved_recently, resolved_at=cutoff + MICROSECOND)
    reopened, _ = case_with_chunks("resolved", chunk_times=[old])
    move(api, owner, reopened, "investigating")
    # Even with a resolution time long past left on the row, an open case keeps it all.
    set_case_times(container, reopened, resolved_at=cutoff - DAY)
    still_open, _ = case_with_chunks("active", chunk_times=[old])

    def state() -> tuple[set[str], set[str]]:
        return (
            set(column(container, "SELECT chunk_id FROM evidence_chunks")),
            set(column(container, "SELECT chunk_id FROM vector_chunks")),
        )

    assert state()[0] == state()[1]  # every stored chunk is searchable
    dry, _ = dry_real_again(container, Schedule.DAILY, now, J.CASE_MEMORY, state)
    assert counts(dry) == (6, 4, 0)  # six cases holding chunks; four chunks past it
    assert dry.details == {"cases": 3}
    kept = {
        chunk_ids[late_chunk][1],
        *chunk_ids[resolved_recently],
        *chunk_ids[reopened],
        *chunk_ids[still_open],
    }
    # The vectors went with their chunks, and the late chunk's too: vectors go up to
    # VECTOR_LAG early, so that one indexed a moment after its chunk never stays behind.
    assert state() == (kept, kept - {chunk_ids[late_chunk][1]})
    # The evidence itself, with its summary and insights, stays.
    assert api.call("GET", f"/evidence/{evidence_kept}", owner).status_code == 200


def test_artifacts_past_retention_go_with_their_rows_chunks_and_jobs(
    api: Api, container: Container
) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    body = b"2026-11-22T10:00:00Z ERROR payment gateway timeout after 30s\n" * 40
    old = upload(api, owner, case_id, "old.log", body)
    recent = upload(api, owner, case_id, "recent.log", body)
    never_uploaded = pending_evidence(api, owner, case_id, "never.log")
    move(api, owner, case_id, "investigating", "resolved")
    # An investigation still open keeps its evidence, however old.
    ongoing = upload(api, owner, api.case(owner)["case_id"], "ongoing.log", body)
    now = utcnow()
    cutoff = now - timedelta(days=container.settings.retention_artifact_days)
    for evidence_id, when in (
        (old["evidence_id"], cutoff),
        (never_uploaded, cutoff - 10 * DAY),
        (recent["evidence_id"], cutoff + MICROSECOND),
        (ongoing["evidence_id"], cutoff - 10 * DAY),
    ):
        execute(
            container,
            "UPDATE evidence SET created_at = :t WHERE evidence_id = :e",
            t=when,
            e=evidence_id,
        )
    # A working file left behind (normally Finalize clears them).
    container.objects.put(
        work_prefix(old["evidence_id"]) + "extraction.raw.json",
        b"{}",
        content_type="application/json",
    )
    keys = {
        e: column(container, "SELECT s3_key FROM evidence WHERE evidence_id = :e", e=e)[0]
        for e in (old["evidence_id"], recent["evidence_id"])
    }
    old_chunks = column(
        container,
        "SELECT count(*) FROM evidence_chunks WHERE evidence_id = :e",
        e=old["evidence_id"],
    )[0]
    assert old_chunks > 0
    job_ids = column(
        container,
        "SELECT job_id FROM evidence WHERE evidence_id = ANY(:ids)",
        ids=[old["evidence_id"], never_uploaded],
    )

    def state() -> tuple[Any, ...]:
        return (
            set(column(container, "SELECT evidence_id FROM evidence")) - {ongoing["evidence_id"]},
            {e: container.objects.head(key) for e, key in keys.items()},
            container.objects.head(work_prefix(old["evidence_id"]) + "extraction.raw.json"),
            column(
                container,
                "SELECT count(*) FROM evidence_chunks WHERE evidence_id <> :o",
                o=ongoing["evidence_id"],
            )[0],
            [container.kv.get(job_key(j)) is not None for j in job_ids],
        )

    dry, _ = dry_real_again(container, Schedule.DAILY, now, J.ARTIFACTS, state)
    assert counts(dry) == (2, 2, 0)
    rows, heads, work, chunks, jobs = state()
    assert rows == {recent["evidence_id"]}
    assert heads == {old["evidence_id"]: None, recent["evidence_id"]: len(body)}
    assert work is None
    assert (
        chunks
        == column(
            container,
            "SELECT count(*) FROM evidence_chunks WHERE evidence_id = :e",
            e=recent["evidence_id"],
        )[0]
    )
    assert jobs == [False, False]
    assert column(
        container, "SELECT count(*) FROM evidence WHERE evidence_id = :e", e=ongoing["evidence_id"]
    ) == [1]
    assert api.call("GET", f"/evidence/{ongoing['evidence_id']}/download", owner).status_code == 200
    assert api.call("GET", f"/evidence/{old['evidence_id']}", owner).status_code == 404
    assert api.call("GET", f"/evidence/{recent['evidence_id']}/download", owner).status_code == 200
    trail = api.call("GET", f"/cases/{case_id}/audit", owner).json()["items"]
    removed = [e for e in trail if e["action"] == "evidence.deleted"]
    assert {(e["object_id"], e["actor_id"], e["details"]["reason"]) for e in removed} == {
        (old["evidence_id"], None, "retention"),
        (never_uploaded, None, "retention"),
    }


def test_audit_events_go_after_a_year(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    move(api, owner, case_id, "investigating", "resolved", "validated")
    events = column(container, "SELECT event_id FROM audit_events ORDER BY created_at")
    assert len(events) >= 4
    now = utcnow()
    cutoff = now - timedelta(days=container.settings.retention_audit_days)
    ages = {events[0]: cutoff - 400 * DAY, events[1]: cutoff, events[2]: cutoff + MICROSECOND}
    for event_id, when in ages.items():
        execute(
            container,
            "UPDATE audit_events SET created_at = :t WHERE event_id = :e",
            t=when,
            e=event_id,
        )

    def state() -> set[str]:
        return set(column(container, "SELECT event_id FROM audit_events"))

    dry, _ = dry_real_again(container, Schedule.DAILY, now, J.AUDIT_EVENTS, state)
    assert counts(dry) == (2, 2, 0)
    assert state() == set(events) - {events[0], events[1]}


def test_batches_stop_when_time_runs_out_and_the_next_run_continues(
    api: Api, container: Container
) -> None:
    owner = api.user()
    now = utcnow()
    cutoff = now - timedelta(days=container.settings.retention_case_archive_days)
    due = [case_in(api, owner, "resolved") for _ in range(3)]
    for case_id in due:
        set_case_times(container, case_id, status_changed_at=cutoff - DAY)
    small = in_batches_of(container, 1)
    calls = itertools.count()
    first = run(small, Schedule.DAILY, now, stop_when=lambda: next(calls) >= 2)
    assert first[J.RESOLVED_CASES].archived == 2
    assert not first[J.RESOLVED_CASES].complete
    assert not first[J.AUDIT_EVENTS].complete
    rest = run(small, Schedule.DAILY, now)
    assert rest[J.RESOLVED_CASES].archived == 1
    assert all(report.complete for report in rest.values())
    assert set(statuses(container, due).values()) == {"archived"}


# -- the Lambda and the CLI ------------------------------------------------------------------
def retention_lambda() -> Any:
    path = ROOT / "functions" / "retention" / "handler.py"
    spec = importlib.util.spec_from_file_location("retention_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def sample_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (ROOT / "events" / "eventbridge" / f"retention_{name}.json").read_text()
    )
    return loaded


def test_the_hourly_rule_runs_the_redis_jobs(api: Api, container: Container) -> None:
    user = api.user()
    gone = api.call("POST", "/sessions", user).json()
    container.kv.delete(f"session:{gone['session_id']}")
    event = sample_event("hourly")
    result = retention_lambda()(event, LambdaContext("faultmaven-retention"))
    assert [job["job"] for job in result["jobs"]] == ["session_indexes", "finished_jobs"]
    assert result["schedule"] == "hourly"
    assert result["dry_run"] is False
    assert result["complete"] is True
    assert datetime.fromisoformat(result["now"]) == datetime(2026, 11, 22, 3, tzinfo=UTC)
    assert result["jobs"][0]["deleted"] == 1
    assert container.kv.set_members(f"user_sessions:{user.user_id}") == set()


def test_the_daily_rule_cuts_at_the_scheduled_time(api: Api, container: Container) -> None:
    owner = api.user()
    event = sample_event("daily")
    scheduled = datetime.fromisoformat(event["time"])
    cutoff = scheduled - timedelta(days=container.settings.retention_case_archive_days)
    due, not_yet = case_in(api, owner, "resolved"), case_in(api, owner, "resolved")
    set_case_times(container, due, status_changed_at=cutoff - SECOND)
    # Past the period by the clock, which runs later than the schedule; not by the schedule.
    set_case_times(container, not_yet, status_changed_at=cutoff + SECOND)
    result = retention_lambda()(event, LambdaContext("faultmaven-retention"))
    assert [job["job"] for job in result["jobs"]] == [
        "resolved_cases",
        "case_memory",
        "artifacts",
        "audit_events",
        "history_sessions",
        "protection_events",
    ]
    assert datetime.fromisoformat(result["jobs"][0]["cutoff"]) == cutoff
    assert result["jobs"][0]["archived"] == 1
    assert statuses(container, [due, not_yet]) == {due: "archived", not_yet: "resolved"}


@pytest.mark.parametrize(
    "resources",
    [
        ["arn:aws:events:us-east-1:123456789012:rule/FaultMaven-retention-weekly"],
        ["arn:aws:events:us-east-1:123456789012:rule/FaultMaven-cleanup"],
        [],
        None,
        [
            "arn:aws:events:us-east-1:123456789012:rule/FaultMaven-retention-daily",
            "arn:aws:events:us-east-1:123456789012:rule/FaultMaven-retention-hourly",
        ],
    ],
)
def test_an_unknown_rule_is_refused(container: Container, resources: Any) -> None:
    event = sample_event("daily")
    if resources is None:
        del event["resources"]
    else:
        event["resources"] = resources
    with pytest.raises(ValueError, match=r"rule|resources"):
        retention_lambda()(event, LambdaContext("faultmaven-retention"))


def test_the_cli_prints_the_report(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = case_in(api, owner, "resolved")
    set_case_times(container, case_id, status_changed_at=utcnow() - 100 * DAY)
    runner = CliRunner()
    dry = runner.invoke(cli, ["retention", "run", "--schedule", "daily", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] is True
    assert [j["archived"] for j in report["jobs"] if j["job"] == "resolved_cases"] == [1]
    assert statuses(container, [case_id]) == {case_id: "resolved"}
    real = runner.invoke(cli, ["retention", "run", "--schedule", "daily"])
    assert real.exit_code == 0, real.output
    lines = real.output.splitlines()
    assert lines[1].split() == ["job", "cutoff", "examined", "deleted", "archived", "notes"]
    assert any(line.startswith("resolved_cases") and line.split()[-1] == "1" for line in lines)
    assert statuses(container, [case_id]) == {case_id: "archived"}
    bad = runner.invoke(cli, ["retention", "run", "--schedule", "weekly"])
    assert bad.exit_code == 2
