"""Cross-cutting behaviour of the app factory: health, unexpected errors, import weight."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from faultmaven.app import create_app
from faultmaven.container import Container
from tests.conftest import ROOT
from tests.helpers import assert_envelope

boom = APIRouter()


@boom.get("/boom")
def explode() -> None:
    raise RuntimeError("database password=hunter2 unreachable")


def test_an_unexpected_error_is_a_500_envelope_with_its_trace_id(container: Container) -> None:
    app = create_app(routers=[boom], container=container)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-Id": "trace-500"})
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["trace_id"] == "trace-500"
    assert "hunter2" not in response.text  # internals never reach the client


def test_health_reports_each_store(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_health_is_503_when_a_store_is_down(settings: object) -> None:
    from faultmaven.container import build_container
    from tests.conftest import make_settings

    broken = build_container(
        make_settings(settings.database_url, "redis://127.0.0.1:1/0")  # type: ignore[attr-defined]
    )
    try:
        with TestClient(create_app(container=broken)) as client:
            response = client.get("/health")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "ok", "redis": "failing"}
    finally:
        broken.close()


def modules_loaded_by(function: str) -> set[str]:
    """Import a handler in a fresh interpreter and list every module loaded."""
    handler = str(ROOT / "functions" / function / "handler.py")
    code = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("h", {handler!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""
    env = {
        "FAULTMAVEN_ENVIRONMENT": "test",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "FAULTMAVEN_JWT_SECRET": "k" * 40,
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", ["api_auth", "api_sessions", "api_cases"])
def test_handlers_do_not_import_what_their_routes_do_not_need(function: str) -> None:
    loaded = modules_loaded_by(function)
    assert {"fastapi", "mangum", "redis"} <= loaded
    # Powertools imports the botocore package's bare __init__; its client machinery stays out.
    assert not loaded & {
        "boto3",
        "botocore.client",
        "anthropic",
        "zxcvbn",
        "moto",
        "uvicorn",
        "typer",
    }


def test_the_sessions_function_never_loads_the_database_driver() -> None:
    loaded = modules_loaded_by("api_sessions")
    assert not loaded & {"sqlalchemy", "psycopg", "alembic", "argon2", "faultmaven.cases.models"}
