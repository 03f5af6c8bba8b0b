"""The rest of what FaultMaven's copilot and dashboard call under `/compat/faultmaven`, over
HTTP in the shapes their API layers send and the fields they read: the case header
(`/ui`) in each state, a generated title, archive and unarchive, uploaded files, the
dashboard's `page`-from-0 lists and search, runbook uploads and the document view, and
teams. A stranger sees none of it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.integration.compat_helpers import BASE, signed_in
from tests.integration.test_compat_turns import LOG, new_case, turn

RUNBOOK = b"""# Postgres connection pool exhausted

## Symptoms
Requests fail with `remaining connection slots are reserved`.

## Fix
Raise `max_connections` or put PgBouncer in front of the service.
"""


def test_the_case_header_follows_the_case_through_its_states(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers, title=None)
    ui = client.get(f"{BASE}/api/v1/cases/{case_id}/ui", headers=headers)
    assert ui.status_code == 200, ui.text
    header = ui.json()
    assert header["state"] == "inquiry" and header["current_turn"] == 0
    assert header["uploaded_files_count"] == 0 and "investigating" in header["valid_next_states"]
    assert header["inquiry"]["decided_to_investigate"] is False
    answered = turn(
        client,
        headers,
        case_id,
        {"query": "Checkout returns 502 since the 10:00 deploy"},
        [("files", ("checkout.log", LOG, "text/plain"))],
    )
    assert answered.status_code in (200, 202), answered.text
    header = client.get(f"{BASE}/api/v1/cases/{case_id}/ui", headers=headers).json()
    assert header["current_turn"] == 1 and header["uploaded_files_count"] == 1
    # Investigating: the agent leads, and the header shows its progress.
    leading = turn(
        client,
        headers,
        case_id,
        {
            "query": "Please investigate",
            "intent_type": "status_transition",
            "intent_data": '{"type": "status_transition", "to_state": "investigating"}',
        },
    )
    assert leading.status_code == 200, leading.text
    header = client.get(f"{BASE}/api/v1/cases/{case_id}/ui", headers=headers).json()
    assert header["state"] == "investigating", header
    assert header["progress"]["current_stage"] in ("diagnosis", "mitigation", "treatment")
    assert isinstance(header["progress"]["completed_indicators"], list)
    assert header["progress"]["total_evidence"] == 1
    assert isinstance(header["active_hypotheses"], list)
    assert header["progress_transparency"]["active"] is True
    # Resolved, then closed: the resolution summary.
    resolved = turn(
        client,
        headers,
        case_id,
        {"intent_type": "status_transition", "intent_data": '{"to_state": "resolved"}'},
    )
    assert resolved.status_code == 200 and resolved.json()["case_state"] == "resolved"
    header = client.get(f"{BASE}/api/v1/cases/{case_id}/ui", headers=headers).json()
    assert header["state"] == "resolved" and header["resolved_at"]
    summary = header["resolution_summary"]
    assert summary["evidence_collected"] == 1 and summary["total_duration_minutes"] >= 0
    assert header["root_cause"]["cause_assurance"] in ("no_root", "mechanistic", "confirmed")
    archived = client.post(f"{BASE}/api/v1/cases/{case_id}/archive", headers=headers)
    assert archived.status_code == 200 and archived.json()["state"] == "closed"
    header = client.get(f"{BASE}/api/v1/cases/{case_id}/ui", headers=headers).json()
    assert header["state"] == "closed"
    again = client.post(f"{BASE}/api/v1/cases/{case_id}/archive", headers=headers)
    assert again.status_code == 200  # archiving twice changes nothing
    unarchive = client.post(f"{BASE}/api/v1/cases/{case_id}/unarchive", headers=headers)
    assert unarchive.status_code == 409 and unarchive.json()["code"] == "CASE_TERMINAL"
    stranger = signed_in(client)
    for path in ("/ui", "/archive", "/uploaded-files", "/title"):
        method = "GET" if path in ("/ui", "/uploaded-files") else "POST"
        refused = client.request(method, f"{BASE}/api/v1/cases/{case_id}{path}", headers=stranger)
        assert refused.status_code == 404, (path, refused.text)


def test_a_title_is_generated_from_the_first_question(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers, title=None)
    early = client.post(f"{BASE}/api/v1/cases/{case_id}/title", headers=headers)
    assert early.status_code == 422  # nothing to name it after yet
    assert turn(
        client,
        headers,
        case_id,
        {"query": "Redis latency spikes every hour on the hour in eu-west-1"},
    ).is_success
    titled = client.post(
        f"{BASE}/api/v1/cases/{case_id}/title", headers=headers, json={"max_words": 4}
    )
    assert titled.status_code == 200, titled.text
    assert titled.json()["title"] == "Redis latency spikes every"
    assert titled.headers["x-title-source"] == "generated"
    case = client.get(f"{BASE}/api/v1/cases/{case_id}", headers=headers).json()
    assert case["title"] == "Redis latency spikes every" and case["current_turn"] == 1
    no_body = client.post(f"{BASE}/api/v1/cases/{case_id}/title", headers=headers)
    assert no_body.status_code == 200 and len(no_body.json()["title"].split()) <= 8
    # Ordinary text with invisible characters (a ZWJ emoji, a soft hyphen) still names it.
    other = new_case(client, headers, title=None)
    question = "\U0001f468\u200d\U0001f4bb deploy\u00ad ment broke the payments queue"
    assert turn(client, headers, other, {"query": question}).is_success
    named = client.post(f"{BASE}/api/v1/cases/{other}/title", headers=headers)
    assert named.status_code == 200, named.text
    assert "payments" in named.json()["title"] and "\u200d" not in named.json()["title"]


def test_uploaded_files_list_the_turns_attachments(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    sent = turn(
        client,
        headers,
        case_id,
        {"query": "what is in this log?", "pasted_content": "ERROR disk full on /var\n"},
        [("files", ("app.log", LOG, "text/plain"))],
    )
    assert sent.status_code in (200, 202)
    listed = client.get(f"{BASE}/api/v1/cases/{case_id}/uploaded-files", headers=headers)
    assert listed.status_code == 200, listed.text
    files = {f["filename"]: f for f in listed.json()["files"]}
    assert set(files) == {"pasted.txt", "app.log"} and listed.json()["total_count"] == 2
    log = files["app.log"]
    assert log["size_bytes"] == len(LOG) and log["size_display"].endswith("B")
    assert log["uploaded_at_turn"] == 1 and log["source_type"] == "file_upload"
    assert files["pasted.txt"]["source_type"] == "paste"
    detail = client.get(
        f"{BASE}/api/v1/cases/{case_id}/uploaded-files/{log['file_id']}", headers=headers
    )
    assert detail.status_code == 200 and detail.json()["filename"] == "app.log"
    if log["analysis_status"] == "completed":
        assert detail.json()["derived_evidence"][0]["evidence_id"] == log["file_id"]
    other = new_case(client, headers)
    wrong_case = client.get(
        f"{BASE}/api/v1/cases/{other}/uploaded-files/{log['file_id']}", headers=headers
    )
    assert wrong_case.status_code == 404


def test_the_dashboards_lists_and_search(client: TestClient) -> None:
    headers = signed_in(client)
    ids = [new_case(client, headers, title=f"Disk pressure on node {n}") for n in range(3)]
    other = new_case(client, headers, title="TLS certificate expired")
    first = client.get(f"{BASE}/api/v1/cases", headers=headers, params={"page": 0, "page_size": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["total_count"] == 4 and len(body["cases"]) == 2 and body["has_more"] is True
    second = client.get(f"{BASE}/api/v1/cases", headers=headers, params={"page": 1, "page_size": 2})
    seen = {c["case_id"] for c in body["cases"]} | {c["case_id"] for c in second.json()["cases"]}
    assert seen == {*ids, other}
    assert (
        client.get(f"{BASE}/api/v1/cases", headers=headers, params={"page": -1}).status_code == 422
    )
    found = client.post(
        f"{BASE}/api/v1/cases/search",
        headers=headers,
        json={"query": "disk", "page": 0, "page_size": 20},
    )
    assert found.status_code == 200, found.text
    assert isinstance(found.json(), list)
    assert {c["case_id"] for c in found.json()} == set(ids)
    client.post(f"{BASE}/api/v1/cases/{other}/archive", headers=headers)
    open_only = client.get(
        f"{BASE}/api/v1/cases", headers=headers, params={"include_archived": "false"}
    ).json()
    assert other not in {c["case_id"] for c in open_only["cases"]}
    stranger = signed_in(client)
    assert (
        client.post(f"{BASE}/api/v1/cases/search", headers=stranger, json={"query": "disk"}).json()
        == []
    )


def test_runbooks_upload_list_view_and_delete(client: TestClient) -> None:
    headers = signed_in(client)
    uploaded = client.post(
        f"{BASE}/api/v1/documents/upload",
        headers=headers,
        files={"file": ("pool.md", RUNBOOK, "text/markdown")},
        data={
            "title": "Pool exhausted",
            "document_type": "playbook",
            "tags": "postgres, pooling",
            "description": "What to do when the pool runs dry",
        },
    )
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    assert document["document_type"] == "playbook" and document["tags"] == ["postgres", "pooling"]
    assert document["status"] == "ready" and "PgBouncer" in document["content"]
    document_id = document["document_id"]
    listed = client.get(
        f"{BASE}/api/v1/documents", headers=headers, params={"limit": 10, "offset": 0}
    )
    assert listed.status_code == 200
    assert [d["document_id"] for d in listed.json()["documents"]] == [document_id]
    typed = client.get(
        f"{BASE}/api/v1/knowledge/documents", headers=headers, params={"document_type": "how_to"}
    )
    assert typed.json()["documents"] == []
    viewed = client.get(f"{BASE}/api/v1/knowledge/documents/{document_id}", headers=headers)
    assert viewed.status_code == 200 and viewed.json()["title"] == "Pool exhausted"
    # The agent finds it: the runbook is in the user's knowledge base.
    search = client.post(
        "/api/v1/knowledge/search",
        headers=headers,
        json={"query": "remaining connection slots are reserved", "scopes": ["user"]},
    )
    assert search.status_code == 200 and search.json()["items"], search.text
    stranger = signed_in(client)
    assert client.get(f"{BASE}/api/v1/documents/{document_id}", headers=stranger).status_code == 404
    bad = client.post(
        f"{BASE}/api/v1/documents/upload",
        headers=headers,
        files={"file": ("blob.bin", b"\xff\xfe\x00binary", "application/octet-stream")},
        data={"title": "Binary"},
    )
    assert bad.status_code == 422 and bad.json()["detail"]
    bad_tag = client.post(
        f"{BASE}/api/v1/documents/upload",
        headers=headers,
        files={"file": ("x.md", b"# x\nbody", "text/markdown")},
        data={"title": "Tags", "tags": "no spaces allowed here!"},
    )
    assert bad_tag.status_code == 422
    gone = client.delete(f"{BASE}/api/v1/documents/{document_id}", headers=headers)
    assert gone.status_code == 204
    assert client.get(f"{BASE}/api/v1/documents/{document_id}", headers=headers).status_code == 404


def test_teams_are_the_teams_of_my_organizations(client: TestClient) -> None:
    headers = signed_in(client)
    assert client.get(f"{BASE}/api/v1/teams", headers=headers).json() == []
    org = client.post(
        "/api/v1/organizations", headers=headers, json={"name": f"Org {uuid.uuid4().hex[:6]}"}
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["org_id"]
    team = client.post(
        f"/api/v1/organizations/{org_id}/teams", headers=headers, json={"name": "SRE"}
    )
    assert team.status_code == 201, team.text
    teams = client.get(f"{BASE}/api/v1/teams", headers=headers).json()
    assert [(t["name"], t["enterprise_id"]) for t in teams] == [("SRE", org_id)]
    assert client.get(f"{BASE}/api/v1/teams", headers=signed_in(client)).json() == []
