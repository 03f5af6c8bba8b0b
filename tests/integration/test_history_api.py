"""/api/v1/history over the real app: every endpoint × every relation to the session's
case (owner, each participant role, analyst, team member, stranger, admin, anonymous),
the list and its filters, the detailed shapes, and what happens when a case or an
account goes, or the retention period passes."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from faultmaven.container import Container
from faultmaven.core.clock import utcnow
from faultmaven.db.tables import AuditEvent
from faultmaven.history.recorder import now_us
from faultmaven.retention.models import RetentionJob, Schedule
from faultmaven.retention.service import RetentionPolicy, RetentionService
from tests.helpers import STRONG_PASSWORD, Api, User, assert_envelope
from tests.integration.history_helpers import history_rows, llm_record, tool_record

ROLES = ["owner", "collaborator", "viewer", "analyst", "stranger", "admin", "anonymous"]
READERS = {"owner", "collaborator", "viewer", "analyst", "admin"}
ENDPOINTS = [
    "/history/sessions/{session}",
    "/history/sessions/{session}/summary",
]


@dataclass
class World:
    users: dict[str, User | None]
    case_id: str
    session_id: str
    stage_id: str
    caseless_id: str
    strangers_session_id: str


def _record_session(
    container: Container, case_id: str | None, *, analysis: str | None = None, **extra: Any
) -> tuple[str, str]:
    extra_analysis = analysis
    recorder = container.history_recorder
    session_id = recorder.open_session(
        agent_type=extra.pop("agent_type", "investigation"),
        chain_id="investigation-v1",
        case_id=case_id,
        chain_definition={"stages": ["intake", "timeline"]},
        **extra,
    )
    with recorder.stage(session_id, stage_id="intake", stage_name="Intake", agent="intake") as h:
        recorder.record_llm(llm_record(session_id, h.execution_id, duration_ms=100))
        recorder.record_tool(tool_record(session_id, h.execution_id, duration_ms=20))
        h.output = {"blast_radius": "checkout"}
    recorder.record_llm(
        llm_record(session_id, None, success=False, response=None, error_message="overloaded")
    )
    recorder.close_session(
        session_id, status="completed", final_analysis=extra_analysis or "Nothing conclusive."
    )
    return session_id, h.execution_id


@pytest.fixture
def world(api: Api, container: Container) -> World:
    owner, collaborator, viewer, stranger = (api.user() for _ in range(4))
    admin = api.admin(container.auth.accounts)
    analyst = api.analyst(container.auth.accounts)
    case_id = str(api.case(owner)["case_id"])
    api.share(owner, case_id, collaborator, "collaborator")
    api.share(owner, case_id, viewer, "viewer")
    session_id, stage_id = _record_session(
        container,
        case_id,
        analysis="A bad deploy.",
        owner_id=owner.user_id,
        alert_type="HighLatency",
        alert_id="a-1",
    )
    caseless_id, _ = _record_session(container, None, agent_type="alert", alert_type="Orphan")
    strangers_case = str(api.case(stranger)["case_id"])
    strangers_session_id, _ = _record_session(
        container, strangers_case, agent_type="strangers-agent", alert_type="StrangerAlert"
    )
    return World(
        users={
            "owner": owner,
            "collaborator": collaborator,
            "viewer": viewer,
            "analyst": analyst,
            "stranger": stranger,
            "admin": admin,
            "anonymous": None,
        },
        case_id=case_id,
        session_id=session_id,
        stage_id=stage_id,
        caseless_id=caseless_id,
        strangers_session_id=strangers_session_id,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_one_session_is_read_like_its_case(
    api: Api, world: World, endpoint: str, role: str
) -> None:
    response = api.call("GET", endpoint.format(session=world.session_id), world.users[role])
    if role == "anonymous":
        assert_envelope(response, 401, "UNAUTHORIZED")
    elif role in READERS:
        assert response.status_code == 200, response.text
    else:
        assert_envelope(response, 404, "HISTORY_SESSION_NOT_FOUND")
        # Nothing of the session leaks: not its alert, not its analysis, not its case.
        for secret in ("HighLatency", "A bad deploy", world.case_id, "investigation-v1"):
            assert secret not in response.text


@pytest.mark.parametrize("role", ROLES)
def test_the_list_shows_only_sessions_of_readable_cases(api: Api, world: World, role: str) -> None:
    response = api.call("GET", "/history/sessions", world.users[role])
    if role == "anonymous":
        assert_envelope(response, 401, "UNAUTHORIZED")
        return
    assert response.status_code == 200, response.text
    listed = {s["session_id"] for s in response.json()["sessions"]}
    expected = set()
    if role in READERS:
        expected.add(world.session_id)
    if role in {"stranger", "admin", "analyst"}:
        expected.add(world.strangers_session_id)
    if role == "admin":
        expected.add(world.caseless_id)
    assert listed == expected
    assert response.json()["pagination"]["total_items"] == len(expected)


@pytest.mark.parametrize("role", ROLES)
def test_filter_options_offer_only_what_the_caller_may_see(
    api: Api, world: World, role: str
) -> None:
    response = api.call("GET", "/history/filter-options", world.users[role])
    if role == "anonymous":
        assert_envelope(response, 401, "UNAUTHORIZED")
        return
    assert response.status_code == 200, response.text
    options = response.json()
    assert ("HighLatency" in options["alert_types"]) is (role in READERS)
    assert ("Orphan" in options["alert_types"]) is (role == "admin")
    assert ("strangers-agent" in options["agent_types"]) is (
        role in {"stranger", "admin", "analyst"}
    )
    assert [r["value"] for r in options["time_ranges"]] == ["1h", "4h", "today", "7d", "30d"]
    assert options["status_options"] == ["completed"]


@pytest.mark.parametrize("role", ["owner", "collaborator", "viewer", "analyst", "stranger"])
def test_a_session_of_no_case_is_for_administrators_only(api: Api, world: World, role: str) -> None:
    for path in ("/history/sessions/{s}", "/history/sessions/{s}/summary"):
        response = api.call("GET", path.format(s=world.caseless_id), world.users[role])
        assert_envelope(response, 404, "HISTORY_SESSION_NOT_FOUND")
        assert "Orphan" not in response.text
    admin = api.call("GET", f"/history/sessions/{world.caseless_id}", world.users["admin"])
    assert admin.status_code == 200
    assert admin.json()["case_id"] is None


def test_team_members_read_the_sessions_of_a_team_case(api: Api, container: Container) -> None:
    owner, teammate, outsider = api.user(), api.user(), api.user()
    org = api.call("POST", "/organizations", owner, json={"name": "Acme"}).json()
    for member in (teammate, outsider):
        added = api.call(
            "POST",
            f"/organizations/{org['org_id']}/members",
            owner,
            json={"user_id": member.user_id},
        )
        assert added.status_code == 201, added.text
    team = api.call(
        "POST", f"/organizations/{org['org_id']}/teams", owner, json={"name": "SRE"}
    ).json()
    for member in (owner, teammate):
        joined = api.call(
            "POST", f"/teams/{team['team_id']}/members", owner, json={"user_id": member.user_id}
        )
        assert joined.status_code == 201, joined.text
    case_id = str(api.case(owner, visibility="team", team_id=team["team_id"])["case_id"])
    session_id, _ = _record_session(container, case_id)
    assert api.call("GET", f"/history/sessions/{session_id}", teammate).status_code == 200
    listed = api.call("GET", "/history/sessions", teammate).json()["sessions"]
    assert [s["session_id"] for s in listed] == [session_id]
    # In the organization but not the team: the case, and so its history, is not theirs.
    assert_envelope(
        api.call("GET", f"/history/sessions/{session_id}", outsider),
        404,
        "HISTORY_SESSION_NOT_FOUND",
    )
    assert api.call("GET", "/history/sessions", outsider).json()["sessions"] == []


def test_a_participant_removed_from_the_case_loses_its_history(api: Api, world: World) -> None:
    owner, viewer = world.users["owner"], world.users["viewer"]
    assert owner is not None and viewer is not None
    path = f"/history/sessions/{world.session_id}"
    assert api.call("GET", path, viewer).status_code == 200
    removed = api.call("DELETE", f"/cases/{world.case_id}/participants/{viewer.user_id}", owner)
    assert removed.status_code == 204
    assert_envelope(api.call("GET", path, viewer), 404, "HISTORY_SESSION_NOT_FOUND")
    assert api.call("GET", "/history/sessions", viewer).json()["sessions"] == []


def test_the_detailed_session_has_every_stage_and_interaction(api: Api, world: World) -> None:
    body = api.call("GET", f"/history/sessions/{world.session_id}", world.users["owner"]).json()
    assert body["session_id"] == world.session_id
    assert body["case_id"] == world.case_id
    assert body["status"] == "completed"
    assert body["alert_type"] == "HighLatency"
    assert body["final_analysis"] == "A bad deploy."
    assert body["chain_definition"] == {"stages": ["intake", "timeline"]}
    assert body["duration_ms"] == (body["completed_at_us"] - body["started_at_us"]) // 1000
    assert (body["total_interactions"], body["llm_interaction_count"]) == (3, 2)
    assert body["mcp_communication_count"] == 1
    [stage] = body["stages"]
    assert stage["execution_id"] == world.stage_id
    assert stage["status"] == "completed"
    assert stage["stage_output"] == {"blast_radius": "checkout"}
    assert stage["stage_interactions_duration_ms"] == 120
    [llm] = stage["llm_interactions"]
    assert llm["type"] == "llm"
    assert llm["id"] == llm["event_id"]
    details = llm["details"]
    assert details["model_name"] == "offline-analyst"
    assert details["provider"] == "offline"
    assert details["system"] == "You are an SRE copilot."
    assert details["messages"][0]["role"] == "user"
    assert details["response"]["stop_reason"] == "end_turn"
    assert details["token_usage"] == {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 3,
        "total_tokens": 128,
    }
    assert details["cost_usd"] == pytest.approx(0.0015)
    [tool] = stage["mcp_communications"]
    assert tool["type"] == "mcp"
    assert tool["details"]["server_name"] == "faultmaven"
    assert tool["details"]["parameters"] == {"query": "latency"}
    [unstaged] = body["unstaged_interactions"]
    assert unstaged["type"] == "llm"
    assert unstaged["details"]["success"] is False
    assert unstaged["details"]["error_message"] == "overloaded"


def test_the_summary_adds_tokens_and_cost(api: Api, world: World) -> None:
    stats = api.call(
        "GET", f"/history/sessions/{world.session_id}/summary", world.users["viewer"]
    ).json()
    assert stats["total_interactions"] == 3
    assert (stats["llm_interactions"], stats["mcp_communications"]) == (2, 1)
    assert stats["errors_count"] == 1
    assert stats["total_duration_ms"] == 100 + 20 + 120
    assert stats["chain_statistics"] == {
        "total_stages": 1,
        "completed_stages": 1,
        "failed_stages": 0,
        "stages_by_agent": {"intake": 1},
    }
    assert stats["input_tokens"] == 200
    assert stats["output_tokens"] == 40
    assert stats["total_tokens"] == 2 * 128
    assert stats["total_cost_usd"] == pytest.approx(0.003)


def _ids(api: Api, user: User | None, query: str) -> list[str]:
    response = api.call("GET", f"/history/sessions?{query}", user)
    assert response.status_code == 200, response.text
    return [s["session_id"] for s in response.json()["sessions"]]


def test_the_list_filters(api: Api, container: Container, world: World) -> None:
    admin = world.users["admin"]
    recorder = container.history_recorder
    failed = recorder.open_session(
        agent_type="preprocessing", chain_id="preprocessing", case_id=world.case_id
    )
    recorder.close_session(failed, status="failed", error="Extract could not parse the file")
    running = recorder.open_session(
        agent_type="preprocessing", chain_id="preprocessing", case_id=world.case_id
    )
    assert _ids(api, admin, f"case_id={world.case_id}&status=failed") == [failed]
    assert set(_ids(api, admin, "status=failed&status=in_progress")) == {failed, running}
    assert set(_ids(api, admin, "agent_type=preprocessing")) == {failed, running}
    assert _ids(api, admin, "alert_type=HighLatency") == [world.session_id]
    assert _ids(api, admin, "search=could%20not%20PARSE") == [failed]
    assert _ids(api, admin, "search=bad%20deploy") == [world.session_id]
    assert _ids(api, admin, "search=100%25") == []  # % is literal, not a wildcard
    everything = _ids(api, admin, "page_size=100")
    assert len(everything) == 5
    assert everything[0] == running  # newest first
    assert set(_ids(api, admin, "time_range=1h")) == set(everything)
    assert set(_ids(api, admin, "time_range=today")) == set(everything)
    future = now_us() + 3_600_000_000
    assert _ids(api, admin, f"start_date_us={future}") == []
    assert set(_ids(api, admin, f"end_date_us={future}")) == set(everything)
    page = api.call("GET", "/history/sessions?page=2&page_size=2", admin).json()
    assert page["pagination"] == {"page": 2, "page_size": 2, "total_pages": 3, "total_items": 5}
    assert [s["session_id"] for s in page["sessions"]] == everything[2:4]
    filtered = api.call("GET", "/history/sessions?status=failed&agent_type=x", admin).json()
    assert filtered["filters_applied"] == {"status": ["failed"], "agent_type": "x"}
    # A viewer filtering by another case's id learns nothing of it.
    viewer = world.users["viewer"]
    strangers = history_rows(container, "history_sessions", id=world.strangers_session_id)
    assert _ids(api, viewer, f"case_id={strangers[0]['case_id']}") == []


@pytest.mark.parametrize(
    "query",
    [
        "case_id=not-a-case",
        "case_id=" + "x" * 41,
        "status=done",
        "page_size=101",
        "page=0",
        "time_range=2h",
        "time_range=1h&start_date_us=1",
        "start_date_us=10&end_date_us=5",
        "start_date_us=-1",
        "end_date_us=99999999999999999999999",
        "search=",
        "agent_type=" + "a" * 129,
    ],
)
def test_bad_filters_are_refused_with_the_envelope(api: Api, world: World, query: str) -> None:
    assert_envelope(
        api.call("GET", f"/history/sessions?{query}", world.users["owner"]),
        422,
        "VALIDATION_FAILED",
    )


@pytest.mark.parametrize(
    "session_id", ["hist_" + "0" * 32, "nope", "x" * 500, "hist_" + "0" * 31 + "%00"]
)
def test_an_unknown_or_absurd_session_id_is_not_found(
    api: Api, world: World, session_id: str
) -> None:
    for suffix in ("", "/summary"):
        response = api.call("GET", f"/history/sessions/{session_id}{suffix}", world.users["admin"])
        assert_envelope(response, 404, "HISTORY_SESSION_NOT_FOUND")


def test_a_deleted_case_takes_its_history_along(
    api: Api, container: Container, world: World
) -> None:
    owner = world.users["owner"]
    assert api.call("DELETE", f"/cases/{world.case_id}", owner).status_code == 204
    assert history_rows(container, "history_sessions", id=world.session_id) == []
    assert history_rows(container, "history_stages", session_id=world.session_id) == []
    assert history_rows(container, "history_llm_interactions", session_id=world.session_id) == []
    admin = world.users["admin"]
    assert_envelope(
        api.call("GET", f"/history/sessions/{world.session_id}", admin),
        404,
        "HISTORY_SESSION_NOT_FOUND",
    )
    # Other cases' sessions are untouched.
    assert history_rows(container, "history_sessions", id=world.strangers_session_id) != []


def _erased(container: Container, user_id: str, timeout: float = 60) -> None:
    """Wait for the background erasure task (its audit event is its last write)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with container.database.session() as session:
            done = session.scalars(
                select(AuditEvent.event_id).where(
                    AuditEvent.object_id == user_id, AuditEvent.action == "user.account_deleted"
                )
            ).first()
        if done is not None:
            return
        time.sleep(0.2)
    raise AssertionError("the account was not erased")


def test_an_erased_account_no_longer_owns_sessions(api: Api, container: Container) -> None:
    owner, successor = api.user(), api.user()
    shared = str(api.case(owner)["case_id"])
    api.share(owner, shared, successor, "collaborator")
    private = str(api.case(owner)["case_id"])
    kept, _ = _record_session(container, shared, owner_id=owner.user_id)
    gone, _ = _record_session(container, private, owner_id=owner.user_id)
    deleted = api.call(
        "POST",
        "/auth/me/deletion",
        owner,
        json={"password": STRONG_PASSWORD, "successor_id": successor.user_id},
    )
    assert deleted.status_code == 202, deleted.text
    _erased(container, owner.user_id)
    [row] = history_rows(container, "history_sessions", id=kept)
    assert row["owner_id"] is None
    # The private case was deleted and took its sessions along; the shared one was handed
    # over with its history, which the successor reads.
    assert history_rows(container, "history_sessions", id=gone) == []
    assert api.call("GET", f"/history/sessions/{kept}", successor).status_code == 200


def _age(container: Container, session_id: str, *, started: int, completed: int | None) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE history_sessions SET started_at_us = :s, completed_at_us = :c "
                "WHERE id = :id"
            ),
            {"s": started, "c": completed, "id": session_id},
        )


def test_retention_deletes_sessions_past_the_audit_period(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = str(api.case(owner)["case_id"])
    period = timedelta(days=container.settings.retention_audit_days)
    now = utcnow()
    cutoff_us = int((now - period).timestamp() * 1_000_000)
    day_us = 86_400_000_000
    old, recent, unfinished_old, finished_late = (
        _record_session(container, case_id)[0] for _ in range(4)
    )
    _age(container, old, started=cutoff_us - 2 * day_us, completed=cutoff_us - day_us)
    _age(container, recent, started=cutoff_us + day_us, completed=cutoff_us + 2 * day_us)
    _age(container, unfinished_old, started=cutoff_us - day_us, completed=None)
    # Started long ago, finished within the period: kept, the period counts from the end.
    _age(container, finished_late, started=cutoff_us - day_us, completed=cutoff_us + day_us)

    def job(report: Any) -> Any:
        return next(j for j in report.jobs if j.job is RetentionJob.HISTORY_SESSIONS)

    dry = job(container.retention.run(Schedule.DAILY, now=now, dry_run=True))
    assert (dry.examined, dry.deleted) == (2, 2)
    assert len(history_rows(container, "history_sessions")) == 4
    real = job(container.retention.run(Schedule.DAILY, now=now))
    assert (real.examined, real.deleted) == (2, 2)
    assert real.cutoff == now - period
    left = {r["id"] for r in history_rows(container, "history_sessions")}
    assert left == {recent, finished_late}
    for table in ("history_stages", "history_llm_interactions", "history_tool_interactions"):
        assert {r["session_id"] for r in history_rows(container, table)} == left
    again = job(container.retention.run(Schedule.DAILY, now=now))
    assert again.deleted == 0


def test_retention_works_in_batches(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = str(api.case(owner)["case_id"])
    recorder = container.history_recorder
    ids = [recorder.open_session(agent_type="a", chain_id="c", case_id=case_id) for _ in range(5)]
    for session_id in ids:
        _age(container, session_id, started=1_000_000, completed=2_000_000)
    base = RetentionPolicy.from_settings(container.settings)
    small = RetentionService(
        container.database,
        cases=container.cases,
        evidence=container.evidence,
        sessions=container.sessions,
        jobs=container.jobs,
        policy=dataclasses.replace(base, batch_size=2),
    )
    report = small.run(Schedule.DAILY)
    history = next(j for j in report.jobs if j.job is RetentionJob.HISTORY_SESSIONS)
    assert (history.examined, history.deleted, history.complete) == (5, 5, True)
    assert history_rows(container, "history_sessions") == []
