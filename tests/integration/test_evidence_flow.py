"""The whole evidence flow on real PostgreSQL, Redis and the moto server: presigned POST
→ S3 notification → upload trigger → Step Functions executing infra/statemachines/
preprocessing.asl.json → every step's real handler → evidence completed."""

from __future__ import annotations

import gzip
import json
import os

import httpx
import pytest
from sqlalchemy import func, select

from faultmaven.adapters.aws import client
from faultmaven.container import Container
from faultmaven.db.tables import EvidenceChunk
from tests.helpers import Api, User, assert_envelope
from tests.integration.evidence_helpers import request_upload, send_bytes, upload, wait_for_job

LOG = "\n".join(
    [
        "2026-11-22T10:00:00Z INFO  api started on :8080",
        *[
            f"2026-11-22T10:01:{i:02d}Z ERROR db pool exhausted: timeout after 30000 ms (pool=50)"
            for i in range(40)
        ],
        "2026-11-22T10:02:00Z WARN  retrying upstream payments-api 10.1.2.3:443",
        "2026-11-22T10:02:01Z ERROR request failed password=hunter2-secret user=ops@example.com",
        "Traceback (most recent call last):",
        '  File "/app/db.py", line 42, in acquire',
        "    raise PoolTimeout(self.size)",
        "PoolTimeout: pool of 50 exhausted",
    ]
).encode()


@pytest.fixture
def owner(api: Api) -> User:
    return api.user()


@pytest.fixture
def case_id(api: Api, owner: User) -> str:
    return str(api.case(owner)["case_id"])


def chunk_count(container: Container, evidence_id: str) -> int:
    with container.database.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(EvidenceChunk)
                .where(EvidenceChunk.evidence_id == evidence_id)
            )
            or 0
        )


def test_a_log_goes_through_the_whole_pipeline(
    api: Api, owner: User, case_id: str, container: Container
) -> None:
    accepted = request_upload(api, owner, case_id, "api.log", len(LOG))
    assert accepted.status_code == 202
    assert accepted.headers["location"] == f"/api/v1/jobs/{accepted.json()['job_id']}"
    body = accepted.json()
    assert body["upload"]["method"] == "POST"
    assert body["upload"]["fields"]["key"] == f"artifacts/{case_id}/{body['evidence_id']}/api.log"
    assert body["upload"]["max_bytes"] == 10 * 1024 * 1024
    send_bytes(body, LOG, "api.log")
    done = wait_for_job(api, owner, body["job_id"])
    assert done.status_code == 303
    assert done.headers["location"] == f"/api/v1/evidence/{body['evidence_id']}"
    evidence = api.call("GET", done.headers["location"].removeprefix("/api/v1"), owner).json()
    assert evidence["status"] == "completed", evidence
    assert evidence["data_type"] == "logs_and_errors"
    assert evidence["classification"]["confidence"] > 0
    assert 0 < len(evidence["summary"]) <= 500
    assert len(evidence["extraction"].encode()) <= 8192
    assert "pool" in evidence["extraction"].lower()
    assert evidence["size_bytes"] == len(LOG)
    assert chunk_count(container, body["evidence_id"]) >= 1


def test_secrets_and_pii_never_reach_the_database(
    api: Api, owner: User, case_id: str, container: Container
) -> None:
    evidence = upload(api, owner, case_id, "api.log", LOG)
    assert evidence["secrets_detected"] is True
    assert evidence["pii_detected"] is True
    assert sum(evidence["redaction_counts"].values()) >= 2
    with container.database.session() as session:
        chunks = session.scalars(
            select(EvidenceChunk.content).where(
                EvidenceChunk.evidence_id == evidence["evidence_id"]
            )
        ).all()
    stored = (
        evidence["summary"]
        + evidence["extraction"]
        + " ".join(evidence["insights"])
        + " ".join(chunks)
    )
    assert "hunter2-secret" not in stored
    assert "ops@example.com" not in stored
    # The raw artifact is untouched and downloadable by case members.
    link = api.call("GET", f"/evidence/{evidence['evidence_id']}/download", owner).json()
    assert httpx.get(link["url"]).content == LOG


def test_pasted_text_takes_the_same_path(api: Api, owner: User, case_id: str) -> None:
    accepted = api.call(
        "POST", f"/cases/{case_id}/evidence/text", owner, json={"content": LOG.decode()}
    )
    assert accepted.status_code == 202
    assert "upload" not in accepted.json() or accepted.json()["upload"] is None
    assert wait_for_job(api, owner, accepted.json()["job_id"]).status_code == 303
    evidence = api.call("GET", f"/evidence/{accepted.json()['evidence_id']}", owner).json()
    assert (evidence["status"], evidence["source"], evidence["filename"]) == (
        "completed",
        "text",
        "pasted.txt",
    )


def test_other_types_get_a_generic_extraction(api: Api, owner: User, case_id: str) -> None:
    manifest = (
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n"
    )
    evidence = upload(api, owner, case_id, "deploy.yaml", manifest, content_type="application/yaml")
    assert evidence["status"] == "completed"
    assert evidence["data_type"] == "structured_config"
    assert "lines: 6" in evidence["extraction"]


def test_the_user_can_override_the_classifier(api: Api, owner: User, case_id: str) -> None:
    evidence = upload(
        api, owner, case_id, "notes.txt", b"just some words\n", data_type="source_code"
    )
    assert evidence["data_type"] == "source_code"
    assert evidence["classification"]["overridden"] is True


def test_list_download_and_delete(
    api: Api, owner: User, case_id: str, container: Container
) -> None:
    evidence = upload(api, owner, case_id, "api.log", LOG)
    listing = api.call("GET", f"/cases/{case_id}/evidence", owner).json()
    assert [e["evidence_id"] for e in listing["items"]] == [evidence["evidence_id"]]
    assert "extraction" not in listing["items"][0]  # lists stay light
    assert api.call("DELETE", f"/evidence/{evidence['evidence_id']}", owner).status_code == 204
    assert_envelope(
        api.call("GET", f"/evidence/{evidence['evidence_id']}", owner), 404, "EVIDENCE_NOT_FOUND"
    )
    assert chunk_count(container, evidence["evidence_id"]) == 0
    s3 = client("s3", container.settings)
    keys = s3.list_objects_v2(
        Bucket=container.settings.evidence_bucket, Prefix=f"artifacts/{case_id}/"
    ).get("KeyCount")
    assert keys == 0


def test_a_duplicated_notification_processes_nothing_twice(
    api: Api, owner: User, case_id: str, container: Container
) -> None:
    evidence = upload(api, owner, case_id, "api.log", LOG)
    key = f"artifacts/{case_id}/{evidence['evidence_id']}/api.log"
    assert container.evidence.on_object_created(key.replace("/", "%2F"), len(LOG)) == "duplicate"
    sfn = client("stepfunctions", container.settings)
    executions = sfn.list_executions(
        stateMachineArn=container.settings.preprocessing_state_machine_arn
    )["executions"]
    assert [e["name"] for e in executions].count(evidence["evidence_id"]) == 1


def test_unknown_keys_are_ignored(container: Container) -> None:
    assert container.evidence.on_object_created("uploads/random.txt", 10) == "ignored"
    assert (
        container.evidence.on_object_created("artifacts/case_x/evd_" + "0" * 32 + "/a.txt", 10)
        == "ignored"
    )


def test_declared_sizes_over_the_limit_are_refused(api: Api, owner: User, case_id: str) -> None:
    response = request_upload(api, owner, case_id, "huge.log", 10 * 1024 * 1024 + 1)
    body = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["max_bytes"] == 10 * 1024 * 1024


def test_the_trigger_checks_the_real_size(api: Api, owner: User, case_id: str) -> None:
    """moto does not enforce the signed content-length-range; the trigger does."""
    big = b"x" * (10 * 1024 * 1024 + 1)
    accepted = request_upload(api, owner, case_id, "small.log", 100).json()
    send_bytes(accepted, big, "small.log")
    job = wait_for_job(api, owner, accepted["job_id"])
    assert job.json()["status"] == "failed"
    assert "limited to 10485760 bytes" in job.json()["error"]
    evidence = api.call("GET", f"/evidence/{accepted['evidence_id']}", owner).json()
    assert evidence["status"] == "failed"
    assert (
        api.call("GET", f"/evidence/{accepted['evidence_id']}/download", owner).status_code == 200
    )


def _gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (60 * 1024 * 1024), compresslevel=9)


BAD_INPUTS = {
    "empty": ("empty.log", b"", "completed"),
    "binary garbage": ("blob.bin", os.urandom(200_000), "completed"),
    "invalid utf-8": (
        "latin.log",
        "2026-11-22 ERROR café crashed\n".encode("latin-1") * 50,
        "completed",
    ),
    "truncated gzip": ("app.log.gz", gzip.compress(LOG)[:-20], "failed"),
    "gzip bomb": ("bomb.log.gz", _gzip_bomb(), "failed"),
    "single 9 MB line": ("oneline.log", b"ERROR " + b"a" * (9 * 1024 * 1024), "completed"),
    "path traversal name": ("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", "completed"),
    "crlf gzip": ("win.log.gz", gzip.compress(LOG.replace(b"\n", b"\r\n")), "completed"),
}


def test_a_nul_in_a_filename_is_refused_up_front(api: Api, owner: User, case_id: str) -> None:
    assert_envelope(request_upload(api, owner, case_id, "a\x00b.log", 10), 422, "VALIDATION_FAILED")


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_ends_with_a_clear_outcome_and_keeps_the_artifact(
    api: Api, owner: User, case_id: str, name: str
) -> None:
    filename, body, outcome = BAD_INPUTS[name]
    accepted = request_upload(
        api, owner, case_id, filename, len(body), content_type="application/octet-stream"
    )
    assert accepted.status_code == 202, accepted.text
    send_bytes(accepted.json(), body, "upload")
    wait_for_job(api, owner, accepted.json()["job_id"], timeout=90)
    evidence = api.call("GET", f"/evidence/{accepted.json()['evidence_id']}", owner).json()
    assert evidence["status"] == outcome, evidence
    assert "/" not in evidence["filename"]
    assert not any(ord(ch) < 32 for ch in evidence["filename"])
    if outcome == "failed":
        assert evidence["failure_reason"], evidence
        assert "gzip" in evidence["failure_reason"]
    link = api.call("GET", f"/evidence/{accepted.json()['evidence_id']}/download", owner)
    assert link.status_code == 200
    assert httpx.get(link.json()["url"]).content == body


def test_a_file_name_with_control_characters_is_refused_before_anything_is_stored(
    api: Api, owner: User, case_id: str
) -> None:
    """Hidden characters in a label are refused (422 naming the field), not stored."""
    refused = request_upload(api, owner, case_id, "evil\n\r\tname\x1b[31m.log", len(LOG))
    body = assert_envelope(refused, 422, "VALIDATION_FAILED")
    assert [d["field"] for d in body["details"]] == ["filename"]
    listed = api.call("GET", f"/cases/{case_id}/evidence", owner).json()
    assert listed["total"] == 0


def test_unfinished_uploads_can_be_resumed(
    api: Api, owner: User, case_id: str, container: Container
) -> None:
    """What `faultmaven dev` does at start, since moto forgets running executions: an
    upload marked processing whose execution never ran is started again."""
    from faultmaven.core.clock import utcnow
    from faultmaven.core.ids import new_id
    from faultmaven.db.tables import Evidence

    evidence_id = new_id("evd")
    key = f"artifacts/{case_id}/{evidence_id}/lost.log"
    # The notification fires before the row exists and is ignored: the run is "lost".
    client("s3", container.settings).put_object(
        Bucket=container.settings.evidence_bucket, Key=key, Body=LOG
    )
    job = container.jobs.create(case_id=case_id, evidence_id=evidence_id)
    with container.database.session() as session:
        session.add(
            Evidence(
                evidence_id=evidence_id,
                case_id=case_id,
                uploaded_by=owner.user_id,
                filename="lost.log",
                content_type="text/plain",
                declared_size=len(LOG),
                s3_key=key,
                status="processing",
                job_id=job.job_id,
                insights=[],
                redaction_counts={},
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    assert container.evidence.resume_unfinished() == 1
    assert wait_for_job(api, owner, job.job_id).status_code == 303
    assert api.call("GET", f"/evidence/{evidence_id}", owner).json()["status"] == "completed"
    assert container.evidence.resume_unfinished() == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_log_is_analysed_as_a_log(
    api: Api, owner: User, case_id: str, encoding: str
) -> None:
    """Classified as logs, then read by the same text rule: not "binary content"."""
    evidence = upload(api, owner, case_id, "windows.log", LOG.decode().encode(encoding))
    assert evidence["status"] == "completed", evidence
    assert evidence["data_type"] == "logs_and_errors"
    assert "binary" not in evidence["summary"]
    assert '"clusters"' in evidence["extraction"]
    assert "db pool exhausted" in evidence["extraction"]
    assert evidence["secrets_detected"] is True  # the password line was read, and redacted


def test_findings_describe_the_file_not_only_the_stored_excerpt(
    api: Api, owner: User, case_id: str
) -> None:
    """An email on one INFO line far from any error is in no cluster, template or sample,
    yet the file holds PII; the address itself is stored nowhere."""
    verbs = ("tick", "poll", "flush", "sync", "scan", "ping", "load", "save", "sort", "pack")
    verbs += ("send", "read", "emit", "wake")
    lines = [
        f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z INFO {verbs[i % len(verbs)]} ok {i}"
        for i in range(2000)
    ]
    lines[1000] = "2026-11-22T10:16:40Z INFO report mailed to oncall.lead@example.org"
    lines.append("2026-11-22T11:00:00Z ERROR worker crashed")
    evidence = upload(api, owner, case_id, "worker.log", "\n".join(lines).encode())
    assert evidence["status"] == "completed", evidence
    assert (evidence["pii_detected"], evidence["secrets_detected"]) == (True, False)
    assert evidence["redaction_counts"] == {"EMAIL": 1}
    assert "oncall.lead" not in json.dumps(evidence)
