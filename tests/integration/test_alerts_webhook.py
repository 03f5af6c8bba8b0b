"""Alertmanager's webhook over HTTP, in its version-4 payload: an integration secret (not
a user token) authenticates it; a firing alert opens a case with the alert as evidence
and starts its investigation; repeats and concurrent duplicates open no second case; a
resolved alert adds a note and suggests closing; routes decide the owner; alerts are
readable only where their case is."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from faultmaven.container import Container
from tests.helpers import Api, User
from tests.integration.evidence_helpers import wait_for_job

SECRET_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "faultmaven",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def alert(fingerprint: str | None = None, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "critical", **labels},
        "annotations": {
            "summary": "5xx above 5% on checkout",
            "description": f"error ratio 0.12; runbook token {SECRET_TOKEN}",
        },
        "startsAt": datetime(2026, 12, 1, 10, 0, tzinfo=UTC).isoformat(),
        "endsAt": datetime(2026, 12, 1, 11, 0, tzinfo=UTC).isoformat()
        if status == "resolved"
        else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=rate",
        "fingerprint": fingerprint or uuid.uuid4().hex[:16],
    }


def integration(api: Api, admin: User, owner: User, **extra: Any) -> str:
    created = api.call(
        "POST",
        "/alerts/integrations",
        admin,
        json={"name": "prod alertmanager", "owner_id": owner.user_id, **extra},
    )
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    assert "secret" not in created.json()["integration"]
    return secret


def deliver(api: Api, secret: str, body: dict[str, Any]) -> Any:
    return api.client.request(
        "POST",
        "/api/v1/alerts/alertmanager",
        headers={"Authorization": f"Bearer {secret}"},
        json=body,
    )


def test_a_firing_alert_opens_one_case_with_its_evidence_and_investigation(
    api: Api, container: Container
) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    secret = integration(api, admin, owner)
    fired = alert("a1b2c3d4e5f60718", cluster="prod-eu")
    first = deliver(api, secret, payload(fired))
    assert first.status_code == 200, first.text
    receipt = first.json()
    assert receipt["received"] == 1 and len(receipt["opened"]) == 1
    assert receipt["investigations_started"] == 1
    case_id = receipt["opened"][0]
    case = api.call("GET", f"/cases/{case_id}", owner).json()
    assert case["priority"] == "critical" and "HighErrorRate" in case["title"]
    assert case["status"] == "investigating"
    assert SECRET_TOKEN not in json.dumps(case)
    evidence = api.call("GET", f"/cases/{case_id}/evidence", owner).json()["items"]
    assert [e["filename"] for e in evidence] == ["alert-HighErrorRate.json"]
    wait_for_job(api, owner, evidence[0]["job_id"])
    investigation = api.call("GET", f"/cases/{case_id}/investigation", owner).json()
    assert investigation["runs"], investigation
    # Alertmanager repeats the group every repeat_interval, and retries failed sends.
    for _ in range(2):
        again = deliver(api, secret, payload(fired))
        assert again.status_code == 200 and again.json()["opened"] == []
        assert again.json()["repeated"] == 1
    alerts = api.call("GET", "/alerts", owner).json()["items"]
    assert len(alerts) == 1 and alerts[0]["occurrences"] == 3
    assert alerts[0]["cluster"] == "prod-eu" and alerts[0]["case_id"] == case_id
    assert SECRET_TOKEN not in json.dumps(alerts)
    # Resolved: a note, and (every alert of the case resolved) the suggestion to close.
    done = deliver(api, secret, payload(alert("a1b2c3d4e5f60718", status="resolved")))
    assert done.json()["resolved"] == 1
    messages = api.call("GET", f"/cases/{case_id}/messages", owner).json()["items"]
    texts = " ".join(m["content"] for m in messages)
    assert "resolved" in texts and "consider closing" in texts
    one = api.call("GET", f"/alerts/{alerts[0]['alert_id']}", owner).json()
    assert one["state"] == "resolved" and one["ends_at"]


def test_duplicate_deliveries_at_once_open_one_case(api: Api, container: Container) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    secret = integration(api, admin, owner, investigate=False)
    body = payload(alert("feedfacecafebeef"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: deliver(api, secret, body), range(4)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    opened = [case for r in replies for case in r.json()["opened"]]
    assert len(opened) == 1
    cases = api.call("GET", "/cases", owner).json()["items"]
    assert [c["case_id"] for c in cases] == opened


def test_a_new_firing_after_the_case_closed_is_a_new_case(api: Api, container: Container) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    secret = integration(api, admin, owner, investigate=False)
    first = deliver(api, secret, payload(alert("0123456789abcdef"))).json()["opened"][0]
    archived = api.call(
        "POST", f"/cases/{first}/status", owner, json={"status": "archived", "reason": "done"}
    )
    assert archived.status_code == 200, archived.text
    second = deliver(api, secret, payload(alert("0123456789abcdef"))).json()
    assert second["opened"] and second["opened"][0] != first


def test_routes_decide_who_owns_the_case(api: Api, container: Container) -> None:
    admin = api.admin(container.auth.accounts)
    default, payments = api.user(), api.user()
    secret = integration(
        api,
        admin,
        default,
        investigate=False,
        routes=[{"match": {"service": "payments"}, "owner_id": payments.user_id}],
    )
    routed = deliver(api, secret, payload(alert(service="payments"))).json()["opened"][0]
    other = deliver(api, secret, payload(alert(service="search"))).json()["opened"][0]
    assert api.call("GET", f"/cases/{routed}", payments).status_code == 200
    assert api.call("GET", f"/cases/{routed}", default).status_code == 404
    assert api.call("GET", f"/cases/{other}", default).status_code == 200
    # Each sees only the alerts of their own cases.
    mine = api.call("GET", "/alerts", payments).json()["items"]
    assert [a["case_id"] for a in mine] == [routed]
    stranger = api.user()
    assert api.call("GET", "/alerts", stranger).json()["items"] == []
    assert api.call("GET", f"/alerts/{mine[0]['alert_id']}", stranger).status_code == 404
    assert len(api.call("GET", "/alerts", admin).json()["items"]) == 2


def test_the_webhook_takes_only_its_secret_and_a_valid_payload(
    api: Api, container: Container
) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    secret = integration(api, admin, owner, investigate=False)
    body = payload(alert())
    for header in (
        {},
        {"Authorization": f"Bearer {owner.token}"},  # a user token is not an integration
        {"Authorization": f"Bearer {secret}x"},
        {"Authorization": "Bearer fma_00000000000000000000000000000000_nope"},
        {"Authorization": f"Basic {secret}"},
    ):
        refused = api.client.request(
            "POST", "/api/v1/alerts/alertmanager", headers=header, json=body
        )
        assert refused.status_code == 401, (header, refused.text)
        assert refused.json()["error_code"] == "INVALID_INTEGRATION_SECRET"
    # The secret is checked before the payload: without it, a bad body is still a 401.
    junk = api.client.request("POST", "/api/v1/alerts/alertmanager", json={"version": "9"})
    assert junk.status_code == 401
    for bad in (
        {**body, "version": "3"},
        {**body, "alerts": []},
        {**body, "alerts": [{**alert(), "labels": {"severity": "critical"}}]},
        {**body, "alerts": [{**alert(), "status": "pending"}]},
    ):
        assert deliver(api, secret, bad).status_code == 422
    assert api.call("GET", "/alerts", admin).json()["items"] == []
    assert api.call("GET", "/cases", owner).json()["items"] == []
    # Only administrators manage integrations; a disabled one is refused.
    assert (
        api.call(
            "POST", "/alerts/integrations", owner, json={"name": "x", "owner_id": owner.user_id}
        ).status_code
        == 403
    )
    listed = api.call("GET", "/alerts/integrations", admin).json()["items"]
    assert SECRET_TOKEN not in json.dumps(listed) and secret not in json.dumps(listed)
    disabled = api.call(
        "PATCH",
        f"/alerts/integrations/{listed[0]['integration_id']}",
        admin,
        json={"enabled": False},
    )
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert deliver(api, secret, body).status_code == 401


def test_odd_alert_text_still_opens_a_clean_case(api: Api, container: Container) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    secret = integration(api, admin, owner, investigate=False)
    odd = alert(alertname="Disk Full!! (db-3)\x1b[0m\u202e")
    odd["annotations"] = {
        "summary": "\x1b[31m/var\x1b[0m at 99%\u202e",
        "description": "line one\nline two\x00\x07 with password=hunter2-" + "x" * 20,
    }
    reply = deliver(api, secret, payload(odd))
    assert reply.status_code == 200, reply.text
    assert reply.json()["failed"] == [] and len(reply.json()["opened"]) == 1
    case = api.call("GET", f"/cases/{reply.json()['opened'][0]}", owner).json()
    assert "\x1b" not in case["title"] and "\u202e" not in case["title"]
    assert "Disk Full" in case["title"] and "line two" in case["description"]
    assert "hunter2" not in json.dumps(case)
