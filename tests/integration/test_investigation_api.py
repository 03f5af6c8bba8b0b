"""The investigation's state and the user's consent (issue 14, first slice)."""

from __future__ import annotations

from tests.helpers import Api, assert_envelope
from tests.integration.agent_helpers import ask, case_with_log, session_of


def test_a_case_is_in_intake_until_consent_then_the_agent_leads(api: Api) -> None:
    owner = api.user()
    case = api.case(owner, description="Checkout p99 went from 300 ms to 30 s at 10:02")
    case_id = case["case_id"]
    before = api.call("GET", f"/cases/{case_id}/investigation", owner)
    assert before.status_code == 200, before.text
    assert before.json()["investigation_id"] is None
    assert (before.json()["phase"], before.json()["engagement_mode"]) == (0, "consultant")
    assert before.json()["requirements"]["missing"] == [
        "a confirmed problem statement",
        "the user's consent to investigate",
    ]
    consented = api.call(
        "POST", f"/cases/{case_id}/investigation/consent", owner, json={"strategy": "post_mortem"}
    )
    assert consented.status_code == 200, consented.text
    body = consented.json()
    assert body["investigation_id"].startswith("inv_")
    assert (body["phase"], body["phase_name"]) == (1, "blast_radius")
    assert body["engagement_mode"] == "lead_investigator" and body["strategy"] == "post_mortem"
    assert body["problem_statement"] == case["description"]
    assert body["consented_by"] == owner.user_id
    assert "impact" in body["requirements"]["missing"]
    assert api.call("GET", f"/cases/{case_id}", owner).json()["status"] == "investigating"
    again = api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json={})
    assert again.json()["investigation_id"] == body["investigation_id"]
    assert again.json()["strategy"] == "post_mortem"
    history = api.call("GET", f"/cases/{case_id}/status/history", owner).json()["items"]
    assert [t["to_status"] for t in history] == ["investigating"]


def test_consent_in_the_query_and_the_view_state(api: Api) -> None:
    owner = api.user()
    session_id = session_of(api, owner)
    case_id, _ = case_with_log(api, owner)
    first = ask(api, owner, case_id, session_id, "Why do checkout requests time out?").json()
    assert first["view_state"]["investigation_progress"]["engagement_mode"] == "consultant"
    led = ask(
        api, owner, case_id, session_id, "Please investigate.", consent_to_investigate=True
    ).json()
    progress = led["view_state"]["investigation_progress"]
    assert (progress["phase"], progress["engagement_mode"]) == (1, "lead_investigator")
    assert led["case_status"] == "investigating"
    investigation = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    assert investigation["problem_statement"] == "Please investigate."


def test_who_may_consent(api: Api) -> None:
    owner, viewer, stranger = api.user(), api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, viewer, "viewer")
    assert api.call("GET", f"/cases/{case_id}/investigation", viewer).status_code == 200
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/investigation/consent", viewer, json={}), 403
    )
    assert_envelope(
        api.call("GET", f"/cases/{case_id}/investigation", stranger), 404, "CASE_NOT_FOUND"
    )
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/investigation/consent", stranger, json={}),
        404,
        "CASE_NOT_FOUND",
    )
    assert_envelope(
        api.call(
            "POST", f"/cases/{case_id}/investigation/consent", owner, json={"strategy": "vibes"}
        ),
        422,
        "VALIDATION_FAILED",
    )
    for status in ("resolved", "archived"):
        api.call("POST", f"/cases/{case_id}/status", owner, json={"status": status})
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/investigation/consent", owner, json={}),
        409,
        "CASE_CLOSED",
    )


def test_the_problem_statement_is_stored_redacted_and_goes_with_the_case(
    api: Api, container: object
) -> None:
    from faultmaven.container import Container
    from faultmaven.db.tables import Investigation

    assert isinstance(container, Container)
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    secret = "AKIAIOSFODNN7EXAMPLE"
    body = api.call(
        "POST",
        f"/cases/{case_id}/investigation/consent",
        owner,
        json={"problem_statement": f"S3 denies key {secret} since 10:02"},
    ).json()
    assert secret not in body["problem_statement"]
    assert api.call("DELETE", f"/cases/{case_id}", owner).status_code == 204
    with container.database.session() as session:
        assert session.query(Investigation).filter_by(case_id=case_id).count() == 0


def test_the_agents_evidence_requests_are_listed_and_not_asked_twice(api: Api) -> None:
    owner, viewer = api.user(), api.user()
    session_id = session_of(api, owner)
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, viewer, "viewer")
    first = ask(api, owner, case_id, session_id, "Where do I start?").json()
    assert first["evidence_requests"][0]["status"] == "requested"
    request_id = first["evidence_requests"][0]["request_id"]
    again = ask(api, owner, case_id, session_id, "Where do I start?").json()
    assert again["evidence_requests"] == []  # the same request is not made twice
    listed = api.call("GET", f"/cases/{case_id}/evidence-requests", viewer).json()
    assert [r["request_id"] for r in listed["items"]] == [request_id]
    assert listed["items"][0]["guidance"]["commands"]
    path = f"/cases/{case_id}/evidence-requests/{request_id}/status"
    assert_envelope(api.call("POST", path, viewer, json={"status": "acknowledged"}), 403)
    acknowledged = api.call("POST", path, owner, json={"status": "acknowledged"})
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    assert_envelope(
        api.call("POST", path, owner, json={"status": "blocked"}), 422, "VALIDATION_FAILED"
    )
    assert_envelope(
        api.call("POST", path, owner, json={"status": "validated"}), 422, "VALIDATION_FAILED"
    )
    blocked = api.call(
        "POST", path, owner, json={"status": "blocked", "reason": "no access to prod logs"}
    )
    assert blocked.json()["status"] == "blocked"
    assert blocked.json()["status_reason"] == "no access to prod logs"
    assert (
        api.call("GET", f"/cases/{case_id}/evidence-requests?open=true", owner).json()["total"] == 0
    )
    assert_envelope(
        api.call(
            "POST",
            f"/cases/{case_id}/evidence-requests/er_{'0' * 32}/status",
            owner,
            json={"status": "acknowledged"},
        ),
        404,
        "EVIDENCE_REQUEST_NOT_FOUND",
    )


def test_an_upload_answers_the_request_of_its_kind(api: Api) -> None:
    from tests.integration.agent_helpers import POOL_LOG
    from tests.integration.evidence_helpers import upload

    owner = api.user()
    session_id = session_of(api, owner)
    case_id = api.case(owner)["case_id"]
    asked = ask(api, owner, case_id, session_id, "Where do I start?").json()
    request = asked["evidence_requests"][0]
    assert request["category"] == "symptoms"
    evidence = upload(api, owner, case_id, "checkout-api.log", POOL_LOG.encode())
    listed = api.call("GET", f"/cases/{case_id}/evidence-requests", owner).json()["items"]
    assert listed[0]["status"] == "received"
    assert listed[0]["fulfilled_by"] == [evidence["evidence_id"]]
    assert "checkout-api.log" in listed[0]["status_reason"]
    # Now it asks for the next kind it lacks (metrics), and not for logs again.
    after = ask(api, owner, case_id, session_id, "And now?").json()
    assert [r["category"] for r in after["evidence_requests"]] == ["metrics"]
    status = after["view_state"]["evidence_status"]
    assert (status["requests_complete"], status["requests_pending"]) == (1, 1)
