"""Uploading evidence the way a client does: ask for a presigned form, POST the bytes to
S3 (the moto server), then poll the job."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.helpers import Api, User


def request_upload(
    api: Api, user: User, case_id: str, filename: str, size: int, **extra: Any
) -> Any:
    return api.call(
        "POST",
        f"/cases/{case_id}/evidence",
        user,
        json={
            "filename": filename,
            "content_type": extra.pop("content_type", "text/plain"),
            "size_bytes": size,
            **extra,
        },
    )


def send_bytes(accepted: dict[str, Any], body: bytes, filename: str = "file") -> httpx.Response:
    upload = accepted["upload"]
    response = httpx.post(
        upload["url"],
        data=upload["fields"],
        files={
            "file": (
                filename,
                body,
                upload["fields"].get("Content-Type", "application/octet-stream"),
            )
        },
        timeout=60,
    )
    assert response.status_code in (200, 201, 204), response.text
    return response


def wait_for_job(api: Api, user: User, job_id: str, timeout: float = 60) -> Any:
    """Poll like a client: 200 + Retry-After while running; 303 (completed) or a
    failed job ends it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.call("GET", f"/jobs/{job_id}", user, follow_redirects=False)
        if response.status_code == 303 or response.json().get("status") == "failed":
            return response
        assert response.status_code == 200, response.text
        assert response.headers["retry-after"]
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {response.json()}")


def upload(
    api: Api, user: User, case_id: str, filename: str, body: bytes, **extra: Any
) -> dict[str, Any]:
    """The whole flow; returns the evidence as GET /evidence/{id} shows it afterwards."""
    accepted = request_upload(api, user, case_id, filename, len(body), **extra)
    assert accepted.status_code == 202, accepted.text
    send_bytes(accepted.json(), body, filename)
    wait_for_job(api, user, accepted.json()["job_id"])
    evidence = api.call("GET", f"/evidence/{accepted.json()['evidence_id']}", user)
    assert evidence.status_code == 200
    result: dict[str, Any] = evidence.json()
    return result
