"""The S3 notification handler's logic: one evidence row per ObjectCreated record."""

from __future__ import annotations

from typing import Any

from faultmaven.evidence.service import EvidenceService


def handle_s3_event(evidence: EvidenceService, event: dict[str, Any]) -> dict[str, Any]:
    outcomes: list[dict[str, str]] = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3", {})
        key = str(s3.get("object", {}).get("key", ""))
        size = int(s3.get("object", {}).get("size", 0) or 0)
        outcomes.append({"key": key, "outcome": evidence.on_object_created(key, size)})
    return {"processed": outcomes}
