"""A user's data rights: an export of everything that is theirs, and the deletion of
their account (handing to a successor what others still see)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import httpx
from sqlalchemy import select

from faultmaven.container import Container
from faultmaven.db.tables import AuditEvent, Case, KnowledgeDocument
from faultmaven.db.tables import User as UserRow
from tests.helpers import STRONG_PASSWORD, Api, User, assert_envelope
from tests.integration.evidence_helpers import wait_for_job

LOG = "2026-12-01T10:00:00Z ERROR payments timeout talking to ledger after 30s\n"


def _export(api: Api, user: User) -> zipfile.ZipFile:
    accepted = api.call("POST", "/auth/me/export", user)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["location"] == f"/api/v1/jobs/{accepted.json()['job_id']}"
    assert accepted.headers["retry-after"]
    done = wait_for_job(api, user, accepted.json()["job_id"])
    assert done.status_code == 303, done.text
    link = api.call("GET", done.headers["location"].removeprefix("/api/v1"), user)
    assert link.status_code == 200, link.text
    archive = httpx.get(link.json()["url"], timeout=30)
    assert archive.status_code == 200
    return zipfile.ZipFile(io.BytesIO(archive.content))


def _evidence(api: Api, user: User, case_id: str) -> dict[str, Any]:
    accepted = api.call("POST", f"/cases/{case_id}/evidence/text", user, json={"content": LOG})
    assert accepted.status_code == 202, accepted.text
    wait_for_job(api, user, accepted.json()["job_id"])
    body: dict[str, Any] = accepted.json()
    return body


def test_an_export_holds_everything_that_is_mine_and_only_for_me(api: Api) -> None:
    ann, bob = api.user(), api.user()
    case_id = api.case(ann, title="Checkout p99 4x")["case_id"]
    api.call("POST", f"/cases/{case_id}/messages", ann, json={"content": "started at 10:02"})
    api.call("POST", f"/cases/{case_id}/hypotheses", ann, json={"statement": "ledger slow"})
    evidence = _evidence(api, ann, case_id)
    document = api.call(
        "POST",
        "/knowledge/documents",
        ann,
        json={"title": "Ledger runbook", "content": "# Ledger\nRestart the ledger pool."},
    ).json()
    bobs_case = api.case(bob, title="Bob's own incident")["case_id"]

    archive = _export(api, ann)
    names = set(archive.namelist())
    assert {"profile.json", "manifest.json", f"cases/{case_id}.json"} <= names
    assert json.loads(archive.read("profile.json"))["user_id"] == ann.user_id
    bundle = json.loads(archive.read(f"cases/{case_id}.json"))
    assert bundle["case"]["title"] == "Checkout p99 4x"
    assert [m["content"] for m in bundle["messages"]] == ["started at 10:02"]
    assert [h["statement"] for h in bundle["hypotheses"]] == ["ledger slow"]
    folder = f"evidence/{case_id}/{evidence['evidence_id']}"
    assert f"{folder}/metadata.json" in names
    raw = [n for n in names if n.startswith(folder) and not n.endswith("metadata.json")]
    assert [archive.read(n).decode() for n in raw] == [LOG.strip()]  # as pasted, trimmed
    assert json.loads(archive.read(f"knowledge/{document['document_id']}.json"))[
        "content"
    ].startswith("# Ledger")
    assert not any(bobs_case in n for n in names)
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["cases"], manifest["evidence"], manifest["documents"]) == (1, 1, 1)


def test_nobody_else_can_poll_or_download_my_export(api: Api) -> None:
    ann, mallory = api.user(), api.user()
    job_id = api.call("POST", "/auth/me/export", ann).json()["job_id"]
    assert_envelope(api.call("GET", f"/jobs/{job_id}", mallory), 404, "JOB_NOT_FOUND")
    wait_for_job(api, ann, job_id)
    assert_envelope(api.call("GET", f"/auth/me/exports/{job_id}", mallory), 404, "JOB_NOT_FOUND")
    assert_envelope(api.call("POST", "/auth/me/export"), 401)


def _deletion(api: Api, user: User, **body: Any) -> httpx.Response:
    return api.call("POST", "/auth/me/deletion", user, json={"password": STRONG_PASSWORD, **body})


def _case_row(container: Container, case_id: str) -> Case | None:
    with container.database.session() as session:
        return session.get(Case, case_id)


def test_deleting_my_account_needs_my_password_and_a_successor_for_what_others_see(
    api: Api, container: Container
) -> None:
    ann, bob = api.user(), api.user()
    shared = api.case(ann, title="Shared incident")["case_id"]
    api.share(ann, shared, bob, "viewer")
    wrong = api.call("POST", "/auth/me/deletion", ann, json={"password": "not-my-password-1"})
    assert_envelope(wrong, 403, "PASSWORD_INCORRECT")
    refused = _deletion(api, ann)
    assert_envelope(refused, 409, "SUCCESSOR_REQUIRED")
    assert refused.json()["details"]["shared_cases"] == 1
    assert_envelope(_deletion(api, ann, successor_id=ann.user_id), 422)
    # Nothing changed: ann still works and owns the case.
    assert api.call("GET", "/auth/me", ann).status_code == 200
    row = _case_row(container, shared)
    assert row is not None
    assert row.owner_id == ann.user_id


def test_deleting_my_account_hands_over_what_is_shared_and_erases_the_rest(
    api: Api, container: Container
) -> None:
    ann, bob = api.user(), api.user()
    shared = api.case(ann, title="Shared incident")["case_id"]
    api.share(ann, shared, bob, "viewer")
    private = api.case(ann, title="Private notes")["case_id"]
    evidence = _evidence(api, ann, private)
    key = f"artifacts/{private}/{evidence['evidence_id']}/"
    private_doc = api.call(
        "POST",
        "/knowledge/documents",
        ann,
        json={"title": "Private runbook", "content": "# Mine\nzebra-unicorn-marker"},
    ).json()
    team_doc = api.call(
        "POST",
        "/knowledge/documents",
        ann,
        json={"title": "Shared runbook", "content": "# Ours\nquokka-marker restart"},
    ).json()
    api.call(
        "POST",
        f"/knowledge/documents/{team_doc['document_id']}/shares",
        ann,
        json={"grantee_type": "user", "grantee_id": bob.user_id, "permission": "read"},
    )
    api.call("POST", "/sessions", ann, json={"client_id": "laptop"})
    org = api.call("POST", "/organizations", ann, json={"name": "Ann's org"}).json()

    response = _deletion(api, ann, successor_id=bob.user_id)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "scheduled",
        "cases_to_hand_over": 1,
        "cases_to_delete": 1,
        "documents_to_hand_over": 1,
        "documents_to_delete": 1,
        "organizations_to_hand_over": 1,
    }
    # Stopped at once: her tokens and her login no longer work.
    assert_envelope(api.call("GET", "/auth/me", ann), 401)
    login = {"username": ann.username, "password": STRONG_PASSWORD}
    assert_envelope(api.call("POST", "/auth/login", json=login), 401)

    summary = _erased(container, ann.user_id)
    assert summary["cases_deleted"] == 1
    assert summary["cases_handed_over"] == 1
    assert summary["documents_deleted"] == 1
    assert summary["documents_handed_over"] == 1
    assert summary["evidence_deleted"] == 1
    assert summary["sessions_ended"] == 1
    with container.database.session() as session:
        tombstone = session.get(UserRow, ann.user_id)
        assert tombstone is not None
        assert ann.username not in (tombstone.username, tombstone.email, tombstone.display_name)
        actions = set(
            session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == ann.user_id))
        )
    assert {"user.deletion_requested", "case.owner_transferred"} <= actions
    # Her email and username are free again.
    again = api.call(
        "POST",
        "/auth/register",
        json={"email": ann.email, "username": ann.username, "password": STRONG_PASSWORD},
    )
    assert again.status_code == 201, again.text

    # What Bob could see is Bob's now; the rest is gone, files and vectors included.
    assert api.call("GET", f"/cases/{shared}", bob).json()["my_role"] == "owner"
    assert _case_row(container, private).deleted_at is not None  # type: ignore[union-attr]
    s3 = container.objects
    assert s3.head(f"{key}pasted.txt") is None
    assert not _keys(container, key)
    with container.database.session() as session:
        assert session.get(KnowledgeDocument, private_doc["document_id"]) is None
        moved = session.get(KnowledgeDocument, team_doc["document_id"])
        assert moved is not None
        assert moved.owner_id == bob.user_id
    assert container.vectors.count(document_id=private_doc["document_id"]) == 0
    found = _search(api, bob, "quokka-marker restart")
    assert team_doc["document_id"] in {hit["document_id"] for hit in found}
    assert api.call("GET", f"/organizations/{org['org_id']}", bob).json()["my_role"] == "owner"
    assert container.sessions.end_all(ann.user_id) == 0


def _erased(container: Container, user_id: str, timeout: float = 60) -> dict[str, Any]:
    """Wait for the background task; the audit event carries what it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with container.database.session() as session:
            details = session.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.object_id == user_id, AuditEvent.action == "user.account_deleted"
                )
            ).first()
        if details is not None:
            return dict(details)
        time.sleep(0.2)
    raise AssertionError("the account was not erased")


def test_an_erasing_task_that_runs_twice_does_nothing_more(api: Api, container: Container) -> None:
    ann = api.user()
    api.case(ann, title="Private notes")
    assert _deletion(api, ann).status_code == 202
    first = _erased(container, ann.user_id)
    assert first["cases_deleted"] == 1
    again = container.privacy.run_deletion(ann.user_id, None)
    assert again.cases_deleted == 0


def _keys(container: Container, prefix: str) -> list[str]:
    from faultmaven.adapters.aws import client

    listed = client("s3", container.settings).list_objects_v2(
        Bucket=container.settings.evidence_bucket, Prefix=prefix
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def _search(api: Api, user: User, query: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        response = api.call("POST", "/knowledge/search", user, json={"query": query})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.2)
