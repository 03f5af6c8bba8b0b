"""The real app over real PostgreSQL and Redis, cleaned between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from faultmaven.app import create_app
from faultmaven.container import Container, build_container
from faultmaven.core.settings import Settings
from faultmaven.db.tables import Base
from tests.helpers import Api
from tests.integration.agent_helpers import Factory, stub_settings
from tests.llm_stubs import MessagesStub


@pytest.fixture(scope="session")
def container(settings: Settings) -> Iterator[Container]:
    container = build_container(settings)
    yield container
    container.close()


@pytest.fixture(scope="session")
def app(container: Container) -> FastAPI:
    return create_app(container=container)


@pytest.fixture(autouse=True)
def clean_state(container: Container) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with container.database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    container.kv.client.flushdb()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def model_api(container: Container, messages_stub: MessagesStub) -> Iterator[Factory]:
    """Apps over the suite's stores whose language model is the stub (Anthropic
    provider), each built with the given setting overrides."""
    built: list[tuple[Container, TestClient]] = []

    def build(**overrides: Any) -> Api:
        wired = build_container(
            stub_settings(
                container.settings,
                messages_stub.base_url,
                **{"llm_summaries": False, **overrides},
            )
        )
        client = TestClient(create_app(container=wired), raise_server_exceptions=False)
        client.__enter__()
        built.append((wired, client))
        return Api(client)

    yield build
    for wired, client in built:
        client.__exit__(None, None, None)
        wired.close()
