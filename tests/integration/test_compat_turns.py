"""The copilot's chat call, `POST /compat/faultmaven/api/v1/cases/{id}/turns`, over HTTP in
the multipart shape its API layer sends and the TurnResponse fields it reads: pasted
output and files go through the real evidence pipeline (S3 → trigger → Step Functions),
a turn that outlives the request is a job polled at a full URL, `Idempotency-Key` replays,
a closing intent closes the case, and nothing secret in an attachment reaches the model."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from fastapi.testclient import TestClient

from faultmaven.container import Container
from tests.integration.agent_helpers import Factory
from tests.integration.compat_helpers import BASE, signed_in
from tests.llm_stubs import MessagesStub

LOG = (
    b"2026-11-30T10:00:01Z INFO checkout-api started\n"
    b"2026-11-30T10:02:13Z ERROR checkout-api upstream payments timed out after 5000 ms\n"
    b"2026-11-30T10:02:14Z ERROR checkout-api pool exhausted: 50/50 connections in use\n"
)
PASTED = "$ kubectl get pods\ncheckout-api-7f9c  0/1  CrashLoopBackOff  12  40m\n"


def new_case(
    client: TestClient, headers: dict[str, str], title: str | None = "Checkout 502s"
) -> str:
    created = client.post(f"{BASE}/api/v1/cases", headers=headers, json={"title": title})
    assert created.status_code == 201, created.text
    case_id: str = created.json()["case_id"]
    return case_id


def turn(
    client: TestClient | httpx.Client,
    headers: dict[str, str],
    case_id: str,
    data: dict[str, str],
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    **extra: Any,
) -> httpx.Response:
    """multipart/form-data always, as the copilot's FormData is (fields without a file
    name are text fields)."""
    parts: list[tuple[str, Any]] = [(name, (None, value)) for name, value in data.items()]
    parts += files or []
    if not parts:
        parts = [("query", (None, ""))]
    return client.post(
        f"{BASE}/api/v1/cases/{case_id}/turns", headers=headers, files=parts, **extra
    )


def poll(client: TestClient, headers: dict[str, str], location: str) -> dict[str, Any]:
    """As the copilot does: until the body is a TurnResponse or completed/failed."""
    url = httpx.URL(location)
    assert url.is_absolute_url and url.path.startswith(BASE + "/api/v1/jobs/")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(url.path, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("completed", "failed"):
            return body
        assert response.headers["retry-after"]
        time.sleep(0.2)
    raise AssertionError("the turn's job did not finish")


def answered(client: TestClient, headers: dict[str, str], response: httpx.Response) -> Any:
    """The TurnResponse, in the request or (the pipeline slower than the wait) from the
    job it became."""
    if response.status_code == 202:
        body = poll(client, headers, response.headers["location"])
        assert body["status"] == "completed", body
        return body["result"]
    assert response.status_code == 200, response.text
    return response.json()


def test_a_turn_with_pasted_output_and_a_file_answers_a_turn_response(
    client: TestClient,
) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    response = turn(
        client,
        headers,
        case_id,
        {"query": "Why is checkout failing?", "pasted_content": PASTED, "input_type": "paste"},
        [("files", ("checkout.log", LOG, "text/plain"))],
    )
    if response.status_code == 202:  # the pipeline was slower than the request's wait
        body = poll(client, headers, response.headers["location"])
        assert body["status"] == "completed", body
        reply = body["result"]
    else:
        assert response.status_code == 200, response.text
        reply = response.json()
    assert isinstance(reply["agent_response"], str) and reply["agent_response"].strip()
    assert reply["turn_number"] == 1 and reply["case_state"] in ("inquiry", "investigating")
    assert isinstance(reply["milestones_completed"], list)
    assert isinstance(reply["progress_made"], bool)
    attached = {a["filename"]: a for a in reply["attachments_processed"]}
    assert set(attached) == {"pasted.txt", "checkout.log"}
    log = attached["checkout.log"]
    assert log["file_id"].startswith("evd_") and log["file_size"] == len(LOG)
    assert (
        log["upload_source"] == "file_upload" and attached["pasted.txt"]["upload_source"] == "paste"
    )
    assert log["processing_status"] == "completed" and log["source_type"] == "logs"
    for action in reply["suggested_actions"]:
        assert action["type"] in ("DECIDE", "RUN", "EVIDENCE", "FREE_SPEECH") and action["label"]
    # The attachments are the case's evidence, processed by the pipeline like any upload.
    evidence = client.get(f"/api/v1/cases/{case_id}/evidence", headers=headers).json()
    names = {e["filename"]: e["status"] for e in evidence["items"]}
    assert names == {"pasted.txt": "completed", "checkout.log": "completed"}
    # The question and the answer are the case's messages, in the copilot's roles.
    messages = client.get(f"{BASE}/api/v1/cases/{case_id}/messages", headers=headers).json()
    assert [(m["role"], m["turn_number"]) for m in messages["messages"]] == [
        ("user", 1),
        ("assistant", 1),
    ]
    assert messages["messages"][1]["content"] == reply["agent_response"]


def test_a_turn_that_outlives_the_request_is_a_job_at_a_full_url(
    model_api: Factory, messages_stub: MessagesStub
) -> None:
    api = model_api(agent_attachment_wait_seconds=0)
    client = api.client
    assert isinstance(client, TestClient)
    headers = signed_in(client)
    case_id = new_case(client, headers)
    response = turn(
        client,
        headers,
        case_id,
        {"query": "What does this log show?"},
        [("files", ("checkout.log", LOG, "text/plain"))],
    )
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    # A full URL that keeps the prefix: the copilot resolves it against its base.
    assert location.startswith("http") and f"{BASE}/api/v1/jobs/job_" in location
    assert response.json()["status"] in ("pending", "running")
    body = poll(client, headers, location)
    assert body["status"] == "completed", body
    result = body["result"]
    assert result["agent_response"] and result["turn_number"] == 1
    assert result["attachments_processed"][0]["processing_status"] == "completed"
    # Nobody else may poll it.
    stranger = signed_in(client)
    path = httpx.URL(location).path
    assert client.get(path, headers=stranger).status_code == 404
    assert (
        client.get(f"{BASE}/api/v1/jobs/job_{uuid.uuid4().hex}", headers=headers).status_code == 404
    )


def test_an_idempotency_key_replays_the_first_reply(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    keyed = {**headers, "Idempotency-Key": f"msg-{uuid.uuid4()}"}
    first = turn(client, keyed, case_id, {"query": "Is the database up?"})
    assert first.status_code == 200, first.text
    again = turn(client, keyed, case_id, {"query": "Is the database up?"})
    assert again.status_code == 200 and again.headers["x-idempotency-replayed"] == "true"
    assert again.json() == first.json()
    messages = client.get(f"{BASE}/api/v1/cases/{case_id}/messages", headers=headers).json()
    assert messages["total_count"] == 2  # one question, one answer: no second turn
    reused = turn(client, keyed, case_id, {"query": "Something else entirely"})
    assert reused.status_code == 422 and reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Creating a case with a key is replayed too.
    case_key = {**headers, "Idempotency-Key": f"case-{uuid.uuid4()}"}
    made = client.post(f"{BASE}/api/v1/cases", headers=case_key, json={"title": "Once"})
    remade = client.post(f"{BASE}/api/v1/cases", headers=case_key, json={"title": "Once"})
    assert made.status_code == remade.status_code == 201
    assert remade.json()["case_id"] == made.json()["case_id"]
    assert remade.headers["x-idempotency-replayed"] == "true"
    listed = client.get(f"{BASE}/api/v1/cases", headers=headers).json()
    assert sum(c["title"] == "Once" for c in listed["cases"]) == 1


def test_a_status_transition_closes_the_case_and_a_closed_case_refuses_turns(
    client: TestClient,
) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    closing = turn(
        client,
        headers,
        case_id,
        {
            "intent_type": "status_transition",
            "intent_data": json.dumps({"type": "status_transition", "to_state": "closed"}),
        },
    )
    assert closing.status_code == 200, closing.text
    assert closing.json()["case_state"] == "closed"
    case = client.get(f"{BASE}/api/v1/cases/{case_id}", headers=headers).json()
    assert case["state"] == "closed" and case["is_terminal"] is True
    refused = turn(client, headers, case_id, {"query": "One more thing"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "CASE_TERMINAL"
    assert refused.headers["x-error-code"] == "CASE_TERMINAL"


def test_bad_turns_get_clear_4xx(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    empty = turn(client, headers, case_id, {})
    assert empty.status_code == 422 and empty.json()["detail"]
    bad_intent = turn(client, headers, case_id, {"query": "x", "intent_data": "{not json"})
    assert bad_intent.status_code == 422
    # The copilot shows `detail[0].msg`: it says what is wrong, and where.
    problem = bad_intent.json()["detail"][0]
    assert problem["loc"] == ["body", "intent_data"] and problem["msg"] == "not a JSON object"
    deep = turn(client, headers, case_id, {"query": "x", "intent_data": "[" * 4000})
    assert deep.status_code == 422
    # A query the agent could not take is refused before anything is stored.
    for query in ("\x1b[31mred\x1b[0m why?", "a" * (101 * 1024)):
        refused = turn(
            client,
            headers,
            case_id,
            {"query": query},
            [("files", ("kept.log", LOG, "text/plain"))],
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"][:2] == ["body", "query"]
    unknown = turn(client, headers, case_id, {"query": "x", "intent_type": "telepathy"})
    assert unknown.status_code == 422
    no_target = turn(client, headers, case_id, {"intent_type": "status_transition"})
    assert no_target.status_code == 422
    # Beyond the advertised 5 MB of attachments: 413, and nothing was stored.
    big = b"x" * (4 * 1024 * 1024 + 10)
    too_big = turn(
        client, headers, case_id, {"query": "x"}, [("files", ("big.log", big, "text/plain"))]
    )
    assert too_big.status_code == 413 and too_big.json()["code"] == "PAYLOAD_TOO_LARGE"
    evidence = client.get(f"/api/v1/cases/{case_id}/evidence", headers=headers).json()
    assert evidence["items"] == []
    # No session header: the 401 the copilot recovers from; a stranger's case: 404.
    bare = {"Authorization": headers["Authorization"]}
    assert turn(client, bare, case_id, {"query": "x"}).json()["code"] == "SESSION_EXPIRED"
    stranger = signed_in(client)
    assert turn(client, stranger, case_id, {"query": "x"}).status_code == 404


def test_no_secret_in_an_attachment_reaches_the_model(
    model_api: Factory, messages_stub: MessagesStub, container: Container
) -> None:
    api = model_api()
    client = api.client
    assert isinstance(client, TestClient)
    headers = signed_in(client)
    case_id = new_case(client, headers)
    secret = "AKIA" + "J7Q2ZL5XW3RT6YPC"
    password = "Tr0ub4dor-" + uuid.uuid4().hex[:8]
    email = f"oncall.{uuid.uuid4().hex[:6]}@corp-internal.example"
    pasted = f"export AWS_ACCESS_KEY_ID={secret}\nDB_PASSWORD={password}\npaged {email}\n"
    log = LOG + f"ERROR auth failed for {email} with password={password}\n".encode()
    response = turn(
        client,
        headers,
        case_id,
        {"query": f"my key is {secret}; why does checkout fail?", "pasted_content": pasted},
        [("files", ("app.log", log, "text/plain"))],
    )
    assert response.status_code in (200, 202), response.text
    if response.status_code == 202:
        assert poll(client, headers, response.headers["location"])["status"] == "completed"
    sent = json.dumps([r.body for r in messages_stub.requests])
    assert messages_stub.requests, "the model was asked nothing"
    for value in (secret, password, email):
        assert value not in sent


def test_a_closing_turn_that_becomes_a_job_still_closes_the_case(
    model_api: Factory, messages_stub: MessagesStub, container: Container
) -> None:
    api = model_api(agent_attachment_wait_seconds=0)
    client = api.client
    assert isinstance(client, TestClient)
    headers = signed_in(client)
    case_id = new_case(client, headers)
    response = turn(
        client,
        headers,
        case_id,
        {
            "query": "Last log before I close this",
            "intent_type": "status_transition",
            "intent_data": json.dumps({"to_state": "closed"}),
        },
        [("files", ("final.log", LOG, "text/plain"))],
    )
    assert response.status_code == 202, response.text
    body = poll(client, headers, response.headers["location"])
    assert body["status"] == "completed" and body["result"]["case_state"] == "closed", body
    case = client.get(f"{BASE}/api/v1/cases/{case_id}", headers=headers).json()
    assert case["state"] == "closed"
    # A second delivery of the same task (Lambda retries asynchronous events) answers
    # nothing more.
    job_id = httpx.URL(response.headers["location"]).path.rsplit("/", 1)[-1]
    container.attached_turns.run_job(job_id)
    messages = client.get(f"{BASE}/api/v1/cases/{case_id}/messages", headers=headers).json()
    assert messages["total_count"] == 2


def to(state: str) -> dict[str, str]:
    return {"intent_type": "status_transition", "intent_data": json.dumps({"to_state": state})}


def test_transitions_follow_the_lifecycle(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    assert turn(client, headers, case_id, to("resolved")).json()["case_state"] == "resolved"
    # Already there: nothing moves, nothing fails.
    again = turn(client, headers, case_id, to("resolved"))
    assert again.status_code == 200 and again.json()["case_state"] == "resolved"
    # The dashboard's annotation is accepted (and a title change kept).
    put = client.put(
        f"{BASE}/api/v1/cases/{case_id}",
        headers=headers,
        json={"title": "Renamed", "status": "resolved", "notes": "fixed by rollback"},
    )
    assert put.status_code == 200 and put.json()["title"] == "Renamed"
    closed = turn(client, headers, case_id, to("closed"))
    assert closed.json()["case_state"] == "closed"
    # A closed case takes no more transitions either.
    assert turn(client, headers, case_id, to("resolved")).json()["code"] == "CASE_TERMINAL"


def test_a_file_sent_again_is_the_evidence_the_case_already_has(client: TestClient) -> None:
    headers = signed_in(client)
    case_id = new_case(client, headers)
    first = turn(
        client, headers, case_id, {"query": "first look"}, [("files", ("a.log", LOG, "text/plain"))]
    )
    assert first.status_code in (200, 202), first.text
    again = turn(
        client,
        headers,
        case_id,
        {"query": "same log, renamed"},
        [("files", ("b.log", LOG, "text/plain"))],
    )
    [attached] = answered(client, headers, again)["attachments_processed"]
    assert attached["duplicate_of"] and attached["filename"] == "a.log"
    evidence = client.get(f"/api/v1/cases/{case_id}/evidence", headers=headers).json()
    assert [e["filename"] for e in evidence["items"]] == ["a.log"]
    # Other bytes are new evidence, and another case keeps its own copy.
    other = new_case(client, headers)
    fresh = turn(
        client, headers, other, {"query": "here too"}, [("files", ("a.log", LOG, "text/plain"))]
    )
    assert answered(client, headers, fresh)["attachments_processed"][0]["duplicate_of"] is None
