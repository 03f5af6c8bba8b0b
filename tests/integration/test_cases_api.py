"""/api/v1/cases: CRUD, lifecycle, messages, hypotheses, solutions, sharing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from faultmaven.container import Container
from faultmaven.db.tables import AuditEvent, Case, CaseStatusTransition
from tests.helpers import Api, assert_envelope


def test_create_get_update(api: Api) -> None:
    owner = api.user()
    case = api.case(
        owner, description="p99 up 4x since 10:02", priority="high", tags=["payments", "db"]
    )
    assert case["status"] == "active"
    assert case["owner_id"] == owner.user_id
    assert case["case_id"].startswith("case_")
    assert case["priority"] == "high"
    assert case["tags"] == ["payments", "db"]
    assert case["my_role"] == "owner"
    fetched = api.call("GET", f"/cases/{case['case_id']}", owner).json()
    assert fetched == case
    patched = api.call(
        "PATCH",
        f"/cases/{case['case_id']}",
        owner,
        json={"title": "Checkout p99", "priority": "critical"},
    ).json()
    assert patched["title"] == "Checkout p99"
    assert patched["priority"] == "critical"
    assert patched["description"] == case["description"]
    assert patched["updated_at"] > case["updated_at"]


def test_delete_is_soft_and_hides_the_case(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    assert api.call("DELETE", f"/cases/{case_id}", owner).status_code == 204
    assert_envelope(api.call("GET", f"/cases/{case_id}", owner), 404, "CASE_NOT_FOUND")
    assert api.call("GET", "/cases", owner).json()["total"] == 0
    with container.database.session() as session:
        row = session.get(Case, case_id)
        assert row is not None and row.deleted_at is not None


def test_list_filters_sorts_and_paginates(api: Api) -> None:
    owner, other = api.user(), api.user()
    api.case(owner, title="Kafka consumer lag", priority="low")
    api.case(owner, title="DNS failures in eu-west", priority="critical")
    lagging = api.case(owner, title="Kafka broker disk full", priority="high")
    api.case(other, title="Kafka elsewhere")  # not visible to owner
    shared = api.case(other, title="Shared TLS expiry")
    api.share(other, shared["case_id"], owner, "viewer")
    api.call("POST", f"/cases/{lagging['case_id']}/status", owner, json={"status": "investigating"})

    def titles(query: str) -> list[str]:
        response = api.call("GET", f"/cases?{query}", owner)
        assert response.status_code == 200, response.text
        return [c["title"] for c in response.json()["items"]]

    assert set(titles("")) == {
        "Kafka consumer lag",
        "DNS failures in eu-west",
        "Kafka broker disk full",
        "Shared TLS expiry",
    }
    assert titles("q=kafka&sort=title") == ["Kafka broker disk full", "Kafka consumer lag"]
    assert titles("q=100%25") == []  # LIKE wildcards are literal
    assert titles("status=investigating") == ["Kafka broker disk full"]
    assert titles("priority=critical") == ["DNS failures in eu-west"]
    assert titles("relation=shared") == ["Shared TLS expiry"]
    assert "Shared TLS expiry" not in titles("relation=owned")
    assert titles("relation=owned&sort=-priority") == [
        "DNS failures in eu-west",
        "Kafka broker disk full",
        "Kafka consumer lag",
    ]
    page = api.call("GET", "/cases?page=2&page_size=3&sort=created_at", owner).json()
    assert (page["total"], page["page"], page["page_size"], page["total_pages"]) == (4, 2, 3, 2)
    assert [c["title"] for c in page["items"]] == ["Shared TLS expiry"]
    shared_item = api.call("GET", "/cases?relation=shared", owner).json()["items"][0]
    assert shared_item["my_role"] == "viewer"


def test_status_moves_follow_the_table_and_are_recorded(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    illegal = api.call("POST", f"/cases/{case_id}/status", owner, json={"status": "documenting"})
    body = assert_envelope(illegal, 409, "ILLEGAL_STATUS_TRANSITION")
    assert body["details"]["allowed"] == ["investigating", "resolved", "archived"]
    for status, reason in [
        ("investigating", "paged at 02:10"),
        ("stalled", "waiting on vendor"),
        ("investigating", "vendor replied"),
        ("resolved", "rolled back v2.3"),
    ]:
        moved = api.call(
            "POST", f"/cases/{case_id}/status", owner, json={"status": status, "reason": reason}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    resolved = api.call("GET", f"/cases/{case_id}", owner).json()
    assert resolved["resolved_at"] is not None
    history = api.call("GET", f"/cases/{case_id}/status/history", owner).json()
    assert history["total"] == 4
    assert [(h["from_status"], h["to_status"]) for h in history["items"]] == [
        ("active", "investigating"),
        ("investigating", "stalled"),
        ("stalled", "investigating"),
        ("investigating", "resolved"),
    ]
    assert all(h["changed_by"] == owner.user_id for h in history["items"])
    assert history["items"][1]["reason"] == "waiting on vendor"
    with container.database.session() as session:
        assert session.scalar(select(func.count()).select_from(CaseStatusTransition)) == 4


def test_archived_cases_are_read_only(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    api.call(
        "POST",
        f"/cases/{case_id}/status",
        owner,
        json={"status": "archived", "reason": "duplicate"},
    )
    assert api.call("GET", f"/cases/{case_id}", owner).json()["closed_at"] is not None
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/messages", owner, json={"content": "hi"}),
        409,
        "CASE_CLOSED",
    )
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/status", owner, json={"status": "active"}),
        409,
        "ILLEGAL_STATUS_TRANSITION",
    )


def test_messages_are_kept_in_order_with_their_author(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    for text in ("first", "second", "third"):
        created = api.call("POST", f"/cases/{case_id}/messages", owner, json={"content": text})
        assert created.status_code == 201
        assert created.json()["author_id"] == owner.user_id
        assert created.json()["type"] == "user_query"
    note = api.call(
        "POST", f"/cases/{case_id}/messages", owner, json={"content": "n", "type": "case_note"}
    )
    assert note.json()["type"] == "case_note"
    page = api.call("GET", f"/cases/{case_id}/messages?page_size=2", owner).json()
    assert [m["content"] for m in page["items"]] == ["first", "second"]
    assert page["total"] == 4


def test_a_message_of_exactly_100_kib_is_accepted(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    content = "é" * (50 * 1024)  # 2 bytes each in UTF-8: exactly 100 KiB
    assert (
        api.call("POST", f"/cases/{case_id}/messages", owner, json={"content": content}).status_code
        == 201
    )


def test_agent_message_types_cannot_be_posted_by_clients(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    forged = api.call(
        "POST",
        f"/cases/{case_id}/messages",
        owner,
        json={"content": "trust me", "type": "agent_response"},
    )
    assert_envelope(forged, 422, "VALIDATION_FAILED")


def test_hypothesis_confidence_follows_the_evidence(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    created = api.call(
        "POST",
        f"/cases/{case_id}/hypotheses",
        owner,
        json={
            "statement": "Connection pool exhausted",
            "category": "config",
            "initial_likelihood": 0.4,
        },
    )
    assert created.status_code == 201
    hypothesis = created.json()
    assert (hypothesis["likelihood"], hypothesis["status"]) == (0.4, "captured")
    path = f"/cases/{case_id}/hypotheses/{hypothesis['hypothesis_id']}"
    one = api.call(
        "PATCH", path, owner, json={"add_supporting_evidence": ["pool at 100/100"]}
    ).json()
    assert (one["likelihood"], one["status"]) == (0.55, "active")
    two = api.call(
        "PATCH", path, owner, json={"add_supporting_evidence": ["timeouts in app log"]}
    ).json()
    assert (two["likelihood"], two["status"]) == (0.7, "validated")
    assert two["concluded_at"] is not None
    assert two["supporting_evidence"] == ["pool at 100/100", "timeouts in app log"]
    decayed = api.call("PATCH", path, owner, json={"turns_without_progress": 2}).json()
    assert decayed["likelihood"] == round(0.7 * 0.85**2, 6)
    assert decayed["status"] == "active"
    listed = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()
    assert listed["items"][0]["hypothesis_id"] == hypothesis["hypothesis_id"]
    assert api.call("GET", path, owner).json()["likelihood"] == decayed["likelihood"]


def test_hypothesis_refuted_and_retired(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    h = api.call(
        "POST",
        f"/cases/{case_id}/hypotheses",
        owner,
        json={"statement": "DNS", "initial_likelihood": 0.5},
    ).json()
    path = f"/cases/{case_id}/hypotheses/{h['hypothesis_id']}"
    refuted = api.call(
        "PATCH", path, owner, json={"add_refuting_evidence": ["dig ok", "resolv.conf ok"]}
    ).json()
    assert (refuted["likelihood"], refuted["status"]) == (0.1, "refuted")
    g = api.call(
        "POST",
        f"/cases/{case_id}/hypotheses",
        owner,
        json={"statement": "GC", "initial_likelihood": 0.35},
    ).json()
    retired = api.call(
        "PATCH",
        f"/cases/{case_id}/hypotheses/{g['hypothesis_id']}",
        owner,
        json={"turns_without_progress": 1},
    ).json()
    assert retired["status"] == "retired"


def test_hypothesis_of_another_case_is_not_found(api: Api) -> None:
    owner = api.user()
    a, b = api.case(owner)["case_id"], api.case(owner)["case_id"]
    h = api.call("POST", f"/cases/{a}/hypotheses", owner, json={"statement": "x"}).json()
    response = api.call(
        "PATCH", f"/cases/{b}/hypotheses/{h['hypothesis_id']}", owner, json={"statement": "y"}
    )
    assert_envelope(response, 404, "HYPOTHESIS_NOT_FOUND")


def test_solution_lifecycle(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    h = api.call("POST", f"/cases/{case_id}/hypotheses", owner, json={"statement": "pool"}).json()
    created = api.call(
        "POST",
        f"/cases/{case_id}/solutions",
        owner,
        json={
            "title": "Raise pool size to 50",
            "category": "mitigation",
            "steps": ["edit values.yaml", "helm upgrade"],
            "hypothesis_id": h["hypothesis_id"],
        },
    )
    assert created.status_code == 201
    solution = created.json()
    assert solution["status"] == "proposed"
    path = f"/cases/{case_id}/solutions/{solution['solution_id']}"
    assert_envelope(
        api.call("PATCH", path, owner, json={"status": "applied"}),
        409,
        "ILLEGAL_SOLUTION_TRANSITION",
    )
    assert (
        api.call("PATCH", path, owner, json={"status": "applying"}).json()["status"] == "applying"
    )
    applied = api.call(
        "PATCH", path, owner, json={"status": "applied", "outcome": "p99 back to 180 ms"}
    ).json()
    assert applied["status"] == "applied"
    assert applied["applied_at"] is not None
    assert applied["outcome"] == "p99 back to 180 ms"
    assert_envelope(api.call("PATCH", path, owner, json={"status": "failed"}), 409)
    assert api.call("GET", f"/cases/{case_id}/solutions", owner).json()["total"] == 1


def test_solution_needs_a_known_category_and_hypothesis(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    assert_envelope(
        api.call(
            "POST", f"/cases/{case_id}/solutions", owner, json={"title": "x", "category": "pray"}
        ),
        422,
    )
    missing = api.call(
        "POST",
        f"/cases/{case_id}/solutions",
        owner,
        json={"title": "x", "category": "fix", "hypothesis_id": "hyp_missing"},
    )
    assert_envelope(missing, 404, "HYPOTHESIS_NOT_FOUND")


def test_participants_can_be_added_changed_listed_and_removed(api: Api) -> None:
    owner, bob = api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    added = api.call(
        "POST",
        f"/cases/{case_id}/participants",
        owner,
        json={"user_id": bob.user_id, "role": "viewer"},
    )
    assert added.status_code == 201
    assert added.json()["user_id"] == bob.user_id
    changed = api.call(
        "POST",
        f"/cases/{case_id}/participants",
        owner,
        json={"user_id": bob.user_id, "role": "collaborator"},
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "collaborator"
    assert api.call("GET", f"/cases/{case_id}", bob).json()["my_role"] == "collaborator"
    listing = api.call("GET", f"/cases/{case_id}/participants", bob).json()
    assert [(p["user_id"], p["role"]) for p in listing["items"]] == [(bob.user_id, "collaborator")]
    assert_envelope(
        api.call(
            "POST",
            f"/cases/{case_id}/participants",
            owner,
            json={"user_id": owner.user_id, "role": "viewer"},
        ),
        409,
        "ALREADY_OWNER",
    )
    assert_envelope(
        api.call(
            "POST",
            f"/cases/{case_id}/participants",
            owner,
            json={"user_id": "usr_nobody", "role": "viewer"},
        ),
        404,
        "USER_NOT_FOUND",
    )
    assert (
        api.call("DELETE", f"/cases/{case_id}/participants/{bob.user_id}", owner).status_code == 204
    )
    assert_envelope(api.call("GET", f"/cases/{case_id}", bob), 404, "CASE_NOT_FOUND")


def test_a_participant_may_leave(api: Api) -> None:
    owner, bob = api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, bob, "viewer")
    assert (
        api.call("DELETE", f"/cases/{case_id}/participants/{bob.user_id}", bob).status_code == 204
    )
    assert_envelope(api.call("GET", f"/cases/{case_id}", bob), 404)


def test_a_co_owner_manages_sharing(api: Api) -> None:
    owner, co, carol = api.user(), api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, co, "owner")
    api.share(co, case_id, carol, "viewer")
    assert api.call("GET", f"/cases/{case_id}", carol).json()["my_role"] == "viewer"


def test_team_and_organization_visibility(api: Api) -> None:
    owner, teammate, colleague, outsider = api.user(), api.user(), api.user(), api.user()
    org = api.call("POST", "/organizations", owner, json={"name": "Acme"}).json()
    for member in (teammate, colleague):
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
        assert (
            api.call(
                "POST", f"/teams/{team['team_id']}/members", owner, json={"user_id": member.user_id}
            ).status_code
            == 201
        )
    team_case = api.case(owner, visibility="team", team_id=team["team_id"])
    assert team_case["org_id"] == org["org_id"]
    org_case = api.case(owner, visibility="organization", org_id=org["org_id"])

    def visible(user: object, case: dict[str, str]) -> int:
        return api.call("GET", f"/cases/{case['case_id']}", user).status_code  # type: ignore[arg-type]

    assert (
        visible(teammate, team_case),
        visible(colleague, team_case),
        visible(outsider, team_case),
    ) == (200, 404, 404)
    assert (
        visible(teammate, org_case),
        visible(colleague, org_case),
        visible(outsider, org_case),
    ) == (200, 200, 404)
    assert api.call("GET", f"/cases/{team_case['case_id']}", teammate).json()["my_role"] == "viewer"
    # Team and org members read; they do not write.
    assert_envelope(
        api.call("PATCH", f"/cases/{org_case['case_id']}", colleague, json={"title": "mine now"}),
        403,
    )
    listed = {
        c["case_id"] for c in api.call("GET", "/cases?relation=shared", colleague).json()["items"]
    }
    assert listed == {org_case["case_id"]}
    # Making it private again hides it.
    api.call("PATCH", f"/cases/{org_case['case_id']}", owner, json={"visibility": "private"})
    assert visible(colleague, org_case) == 404


def test_cases_cannot_be_shared_with_a_group_you_are_not_in(api: Api) -> None:
    owner, other = api.user(), api.user()
    org = api.call("POST", "/organizations", other, json={"name": "Other Inc"}).json()
    response = api.call(
        "POST",
        "/cases",
        owner,
        json={"title": "x", "visibility": "organization", "org_id": org["org_id"]},
    )
    body = assert_envelope(response, 422, "VALIDATION_FAILED")
    assert body["details"][0]["field"] == "org_id"
    assert_envelope(
        api.call("POST", "/cases", owner, json={"title": "x", "visibility": "team"}), 422
    )


def test_every_change_lands_in_the_audit_trail(api: Api, container: Container) -> None:
    owner, bob = api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, bob, "collaborator")
    api.call("PATCH", f"/cases/{case_id}", bob, json={"title": "renamed"})
    api.call(
        "POST", f"/cases/{case_id}/status", bob, json={"status": "investigating", "reason": "on it"}
    )
    trail = api.call("GET", f"/cases/{case_id}/audit", owner).json()
    actions = [(e["action"], e["actor_id"]) for e in trail["items"]]
    assert actions == [
        ("case.created", owner.user_id),
        ("case.participant_added", owner.user_id),
        ("case.updated", bob.user_id),
        ("case.status_changed", bob.user_id),
    ]
    assert trail["items"][1]["details"] == {"user_id": bob.user_id, "role": "collaborator"}
    assert_envelope(api.call("GET", f"/cases/{case_id}/audit", bob), 403)
    with container.database.session() as session:
        request_ids = session.scalars(
            select(AuditEvent.request_id).where(AuditEvent.case_id == case_id)
        ).all()
        assert all(request_ids)


def test_participants_are_named_by_id_only(api: Api) -> None:
    owner, bob = api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    by_email = api.call(
        "POST", f"/cases/{case_id}/participants", owner, json={"email": bob.email, "role": "viewer"}
    )
    assert_envelope(by_email, 422, "VALIDATION_FAILED")


def test_deactivated_users_cannot_be_added(api: Api, container: Container) -> None:
    from faultmaven.db.tables import User as UserRow

    owner, gone = api.user(), api.user()
    with container.database.session() as session:
        session.get(UserRow, gone.user_id).is_active = False  # type: ignore[union-attr]
    case_id = api.case(owner)["case_id"]
    response = api.call(
        "POST",
        f"/cases/{case_id}/participants",
        owner,
        json={"user_id": gone.user_id, "role": "viewer"},
    )
    assert_envelope(response, 404, "USER_NOT_FOUND")


def test_archived_content_is_final_but_sharing_can_be_narrowed(api: Api) -> None:
    owner = api.user()
    org = api.call("POST", "/organizations", owner, json={"name": "Acme"}).json()
    case_id = api.case(owner, visibility="organization", org_id=org["org_id"])["case_id"]
    api.call("POST", f"/cases/{case_id}/status", owner, json={"status": "archived"})
    assert_envelope(
        api.call("PATCH", f"/cases/{case_id}", owner, json={"title": "rewritten"}),
        409,
        "CASE_CLOSED",
    )
    narrowed = api.call("PATCH", f"/cases/{case_id}", owner, json={"visibility": "private"})
    assert narrowed.status_code == 200
    assert narrowed.json()["visibility"] == "private"


def test_an_owner_who_left_the_team_can_still_unshare(api: Api) -> None:
    owner, admin = api.user(), api.user()
    org = api.call("POST", "/organizations", owner, json={"name": "Acme"}).json()
    api.call(
        "POST",
        f"/organizations/{org['org_id']}/members",
        owner,
        json={"user_id": admin.user_id, "role": "owner"},
    )
    team = api.call(
        "POST", f"/organizations/{org['org_id']}/teams", owner, json={"name": "SRE"}
    ).json()
    api.call("POST", f"/teams/{team['team_id']}/members", owner, json={"user_id": owner.user_id})
    case_id = api.case(owner, visibility="team", team_id=team["team_id"])["case_id"]
    assert (
        api.call("DELETE", f"/teams/{team['team_id']}/members/{owner.user_id}", admin).status_code
        == 204
    )
    unshared = api.call("PATCH", f"/cases/{case_id}", owner, json={"visibility": "private"})
    assert unshared.status_code == 200, unshared.text
    # Re-sharing with a team they no longer belong to is refused.
    assert_envelope(api.call("PATCH", f"/cases/{case_id}", owner, json={"visibility": "team"}), 422)


def test_concurrent_evidence_appends_are_all_kept(app: FastAPI, api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    h = api.call(
        "POST",
        f"/cases/{case_id}/hypotheses",
        owner,
        json={"statement": "pool", "initial_likelihood": 0.1},
    ).json()
    path = f"/api/v1/cases/{case_id}/hypotheses/{h['hypothesis_id']}"

    def append(i: int) -> int:
        with TestClient(app) as client:
            return client.patch(
                path, headers=owner.headers, json={"add_supporting_evidence": [f"e{i}"]}
            ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(append, range(6))) == {200}
    final = api.call("GET", f"/cases/{case_id}/hypotheses/{h['hypothesis_id']}", owner).json()
    assert sorted(final["supporting_evidence"]) == [f"e{i}" for i in range(6)]
    assert final["likelihood"] == 1.0  # 0.1 + 6 × 0.15, clamped


def test_concurrent_solution_moves_cannot_both_win(app: FastAPI, api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    s = api.call(
        "POST", f"/cases/{case_id}/solutions", owner, json={"title": "x", "category": "fix"}
    ).json()
    path = f"/api/v1/cases/{case_id}/solutions/{s['solution_id']}"
    api.call("PATCH", path.removeprefix("/api/v1"), owner, json={"status": "applying"})

    def move(target: str) -> int:
        with TestClient(app) as client:
            return client.patch(path, headers=owner.headers, json={"status": target}).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(move, ["applied", "failed"]))
    assert outcomes == [200, 409]
