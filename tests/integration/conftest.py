"""The real app over real PostgreSQL and Redis, cleaned between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from faultmaven.app import create_app
from faultmaven.container import Container, build_container
from faultmaven.core.settings import Settings
from faultmaven.db.tables import Base
from tests.helpers import Api


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
