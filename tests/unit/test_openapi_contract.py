"""The OpenAPI document in docs/ is the contract clients build against: it must match
the code, and every operation must document the error envelope."""

from __future__ import annotations

import json

from faultmaven.app import openapi_document
from tests.conftest import ROOT


def test_the_exported_document_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(openapi_document())), (
        "docs/openapi.json is stale: run `.venv/bin/faultmaven openapi --output docs/openapi.json`"
    )


def test_every_api_operation_documents_the_error_envelope() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            for status in ("401", "404", "422"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (
                    method,
                    path,
                    status,
                )
