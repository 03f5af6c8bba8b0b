"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis),
as an authenticated client against the real ASGI app over real PostgreSQL and Redis:
no input may produce a 5xx, and every answer must be one the document declares (status
code, content type, headers, body schema).

Each operation is driven with schema-valid (positive) and then schema-violating
(negative) requests, a bounded number of each, against freshly seeded objects, so the id-taking
routes reach the code behind their 404s. The operations run one after another inside a
single test (schemathesis's lazy pytest loader does not support this pytest), and every
failure is collected before the test fails, so one run reports them all."""

from __future__ import annotations

import itertools
import time
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from faultmaven.container import Container
from faultmaven.db.tables import Base
from tests.helpers import Api, User

# Per operation and generation mode; there are about 60 operations. Bounded so that the
# run stays within a few minutes on two cores; derandomized so that a failure reproduces.
EXAMPLES_PER_OPERATION = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _reset(container: Container) -> None:
    """What the suite's `clean_state` does between tests, here between operations: so a
    logout, a deletion or the login throttle of one operation does not starve the next."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    for attempt in itertools.count(1):
        try:
            with container.database.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} CASCADE"))
            break
        except OperationalError:
            # A preprocessing run started by the previous operation (pasted evidence) may
            # still be writing: TRUNCATE then deadlocks with it. Let it finish.
            if attempt == 20:
                raise
            time.sleep(0.25)
    container.kv.client.flushdb()


def _seed(api: Api) -> tuple[User, dict[str, str]]:
    """A signed-in user who owns one of everything that a path can name."""
    owner = api.user("fuzzer")
    ids = {"user_id": owner.user_id}
    case_id = api.case(owner)["case_id"]
    ids["case_id"] = case_id

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = api.call("POST", path, owner, json=body)
        assert response.status_code < 300, response.text
        created: dict[str, Any] = response.json()
        return created

    ids["hypothesis_id"] = post(f"/cases/{case_id}/hypotheses", {"statement": "h"})["hypothesis_id"]
    ids["solution_id"] = post(f"/cases/{case_id}/solutions", {"title": "s", "category": "fix"})[
        "solution_id"
    ]
    # Announced, not sent: pending evidence starts no pipeline that could outlive the seed.
    evidence = post(f"/cases/{case_id}/evidence", {"filename": "app.log", "size_bytes": 10})
    ids["evidence_id"], ids["job_id"] = evidence["evidence_id"], evidence["job_id"]
    ids["org_id"] = post("/organizations", {"name": "Acme"})["org_id"]
    ids["team_id"] = post(f"/organizations/{ids['org_id']}/teams", {"name": "SRE"})["team_id"]
    ids["document_id"] = post("/knowledge/documents", {"title": "Runbook", "content": "# R\n"})[
        "document_id"
    ]
    ids["session_id"] = post("/sessions", {})["session_id"]
    return owner, ids


def _failures(
    operation: Any, mode: GenerationMode, headers: dict[str, str], ids: dict[str, str]
) -> list[str]:
    path_ids = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids} or None
    found: list[str] = []

    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(mode, path_parameters=path_ids))
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (AssertionError, FailureGroup) as failure:
            # Collected, not raised: hypothesis would stop at (and shrink) the first one.
            found.append(f"{operation.label} [{mode.value}]: {failure}")

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing in this operation can be made invalid (no parameters, no body).
    return found


def test_the_api_honours_its_contract(app: FastAPI, api: Api, container: Container) -> None:
    config = SchemathesisConfig.from_dict({"generation": {"allow-x00": True}})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        _reset(container)
        owner, ids = _seed(api)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures.extend(_failures(operation, mode, owner.headers, ids))
    assert operations > 50
    assert not failures, "\n\n".join(failures)
