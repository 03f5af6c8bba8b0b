"""The S3 notification handler's logic: each ObjectCreated record goes to the domain that
owns its key prefix (evidence artifacts start preprocessing; knowledge documents are
ingested)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from faultmaven.core.logging import logger

# key (still URL-encoded, as S3 sends it) and size → what happened
OnCreated = Callable[[str, int], str]


def handle_s3_event(routes: Mapping[str, OnCreated], event: dict[str, Any]) -> dict[str, Any]:
    outcomes: list[dict[str, str]] = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3", {})
        key = str(s3.get("object", {}).get("key", ""))
        size = int(s3.get("object", {}).get("size", 0) or 0)
        decoded = unquote_plus(key)
        route = next((r for prefix, r in routes.items() if decoded.startswith(prefix)), None)
        if route is None:
            logger.warning(
                "upload notification for an unknown prefix", extra={"key": decoded[:300]}
            )
            outcomes.append({"key": key, "outcome": "ignored"})
            continue
        outcomes.append({"key": key, "outcome": route(key, size)})
    return {"processed": outcomes}
