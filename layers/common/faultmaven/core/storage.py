"""The layout of the evidence bucket, in one place: the services that write and read
keys, the upload trigger that routes notifications by prefix, the local runtime that
mirrors objects, and the CDK app (lifecycle rules, notifications, IAM grants) all
import these, so a prefix can never differ between code and infrastructure."""

from __future__ import annotations

# Raw uploaded evidence, `artifacts/{case_id}/{evidence_id}/{filename}` (kept 90 days).
ARTIFACTS = "artifacts/"
# Pipeline working files of one evidence, `work/{evidence_id}/…` (kept 7 days).
WORK = "work/"
# Large knowledge documents, uploaded with a presigned form and ingested by the trigger.
KNOWLEDGE_UPLOADS = "knowledge/"
# A user's data exports, `exports/{user_id}/{job_id}.zip` (kept 7 days).
EXPORTS = "exports/"
# The prefixes whose ObjectCreated notifications reach the upload trigger.
UPLOAD_PREFIXES = (ARTIFACTS, KNOWLEDGE_UPLOADS)


def artifact_key(case_id: str, evidence_id: str, filename: str) -> str:
    return f"{ARTIFACTS}{case_id}/{evidence_id}/{filename}"


def work_prefix(evidence_id: str) -> str:
    return f"{WORK}{evidence_id}/"
