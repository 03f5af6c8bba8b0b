"""Case roles over evidence and jobs: viewers read, collaborators upload and delete,
strangers see nothing."""

from __future__ import annotations

from tests.helpers import Api, assert_envelope
from tests.integration.evidence_helpers import request_upload, upload


def test_roles_over_evidence(api: Api) -> None:
    owner, collaborator, viewer, stranger = api.user(), api.user(), api.user(), api.user()
    case_id = api.case(owner)["case_id"]
    api.share(owner, case_id, collaborator, "collaborator")
    api.share(owner, case_id, viewer, "viewer")
    evidence = upload(api, owner, case_id, "app.log", b"2026-11-22T10:00:00Z ERROR boom\n")
    evidence_id, job_id = evidence["evidence_id"], evidence["job_id"]

    for reader in (collaborator, viewer):
        assert api.call("GET", f"/evidence/{evidence_id}", reader).status_code == 200
        assert api.call("GET", f"/cases/{case_id}/evidence", reader).json()["total"] == 1
        assert api.call("GET", f"/evidence/{evidence_id}/download", reader).status_code == 200
        assert api.call("GET", f"/jobs/{job_id}", reader, follow_redirects=False).status_code == 303
    assert_envelope(request_upload(api, viewer, case_id, "x.log", 10), 403)
    assert_envelope(
        api.call("POST", f"/cases/{case_id}/evidence/text", viewer, json={"content": "x"}), 403
    )
    assert_envelope(api.call("DELETE", f"/evidence/{evidence_id}", viewer), 403)
    assert request_upload(api, collaborator, case_id, "x.log", 10).status_code == 202

    for path in (
        f"/evidence/{evidence_id}",
        f"/evidence/{evidence_id}/download",
        f"/cases/{case_id}/evidence",
        f"/jobs/{job_id}",
    ):
        body = assert_envelope(api.call("GET", path, stranger, follow_redirects=False), 404)
        assert "app.log" not in str(body)
    assert_envelope(request_upload(api, stranger, case_id, "x.log", 10), 404, "CASE_NOT_FOUND")
    assert_envelope(api.call("DELETE", f"/evidence/{evidence_id}", stranger), 404)
    assert api.call("DELETE", f"/evidence/{evidence_id}", collaborator).status_code == 204


def test_archived_cases_take_no_new_evidence(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    api.call("POST", f"/cases/{case_id}/status", owner, json={"status": "archived"})
    assert_envelope(request_upload(api, owner, case_id, "x.log", 10), 409, "CASE_CLOSED")


def test_bad_upload_requests(api: Api) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    for body in (
        {"filename": "", "size_bytes": 1},
        {"filename": "a.log", "size_bytes": -1},
        {"filename": "a.log"},
        {"filename": "a.log", "size_bytes": 1, "content_type": "not a mime"},
        {"filename": "a.log", "size_bytes": 1, "data_type": "poetry"},
    ):
        assert_envelope(api.call("POST", f"/cases/{case_id}/evidence", owner, json=body), 422)
    too_long = api.call(
        "POST", f"/cases/{case_id}/evidence/text", owner, json={"content": "x" * (950 * 1024)}
    )
    assert_envelope(too_long, 422)
    assert api.call("GET", f"/cases/{case_id}/evidence", owner).json()["total"] == 0
    assert_envelope(api.call("GET", "/jobs/job_nope", owner), 404, "JOB_NOT_FOUND")
