"""The upload trigger Lambda, invoked with the S3 event from `events/s3/` as AWS sends
it (URL-encoded key), over real PostgreSQL, Redis and the moto server."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from faultmaven.adapters.aws import client
from faultmaven.container import Container
from faultmaven.local.aws import LambdaContext
from tests.conftest import ROOT
from tests.helpers import Api
from tests.integration.evidence_helpers import request_upload, wait_for_job


def trigger() -> Any:
    path = ROOT / "functions" / "upload_trigger" / "handler.py"
    spec = importlib.util.spec_from_file_location("upload_trigger_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def event(case_id: str, evidence_id: str, size: int) -> dict[str, Any]:
    text = (ROOT / "events" / "s3" / "object_created.json").read_text()
    text = text.replace("{{CASE_ID}}", case_id).replace("{{EVIDENCE_ID}}", evidence_id)
    loaded: dict[str, Any] = json.loads(text.replace("{{SIZE}}", str(size)))
    return loaded


def test_the_s3_event_starts_preprocessing_once(api: Api, container: Container) -> None:
    owner = api.user()
    case_id = api.case(owner)["case_id"]
    body = b"2026-11-22T10:00:00Z ERROR disk full on /var/lib/postgresql\n" * 20
    accepted = request_upload(api, owner, case_id, "api server (1).log", len(body)).json()
    # The put fires the real notification; the recorded event, replayed afterwards, is
    # the duplicate delivery S3 is allowed to make and must change nothing.
    client("s3", container.settings).put_object(
        Bucket=container.settings.evidence_bucket,
        Key=accepted["upload"]["fields"]["key"],
        Body=body,
    )
    wait_for_job(api, owner, accepted["job_id"])
    again = trigger()(
        event(case_id, accepted["evidence_id"], len(body)),
        LambdaContext("faultmaven-upload-trigger"),
    )
    assert again == {
        "processed": [
            {
                "key": f"artifacts/{case_id}/{accepted['evidence_id']}/api+server+%281%29.log",
                "outcome": "duplicate",
            }
        ]
    }
    evidence = api.call("GET", f"/evidence/{accepted['evidence_id']}", owner).json()
    assert evidence["status"] == "completed"
    assert evidence["filename"] == "api server (1).log"


def test_the_s3_event_for_an_unknown_evidence_is_ignored() -> None:
    result = trigger()(
        event("case_" + "0" * 32, "evd_" + "0" * 32, 10), LambdaContext("faultmaven-upload-trigger")
    )
    assert result["processed"][0]["outcome"] == "ignored"
