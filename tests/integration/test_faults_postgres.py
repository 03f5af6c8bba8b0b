"""PostgreSQL restarted under load and a saturated connection pool: the client sees 503
with Retry-After, never a 500, and nothing acknowledged is lost. The restart test runs a
PostgreSQL of its own; the session-wide server is never stopped."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faultmaven.app import create_app
from faultmaven.container import build_container
from faultmaven.core.settings import Settings
from faultmaven.db.migrate import upgrade
from tests.conftest import make_settings
from tests.helpers import STRONG_PASSWORD, Api, assert_envelope
from tests.integration.faults import PostgresProcess


@pytest.fixture
def own_postgres() -> Iterator[tuple[PostgresProcess, str]]:
    directory = Path(tempfile.mkdtemp(prefix="fmp", dir="/tmp"))
    server = PostgresProcess(directory / "pg")
    try:
        url = server.start()
        upgrade(url)
        yield server, url
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_postgres_restart_under_load_is_503_then_recovers_losing_nothing(
    settings: Settings, own_postgres: tuple[PostgresProcess, str]
) -> None:
    server, url = own_postgres
    container = build_container(
        make_settings(url, settings.redis_url or "", db_pool_timeout_seconds=1.0)
    )
    acknowledged: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()
    before = 0
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            api = Api(client)
            user = api.user("writer")

            def write_continuously() -> None:
                while not stop.is_set():
                    response = api.call("POST", "/cases", user, json={"title": "load"})
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        acknowledged.append(response.json()["case_id"])

            writers = [threading.Thread(target=write_continuously) for _ in range(3)]
            for writer in writers:
                writer.start()
            try:
                while len(acknowledged) < 5:
                    stop.wait(0.05)
                server.stop()
                during = [
                    api.call("GET", "/cases", user),
                    api.call("POST", "/cases", user, json={"title": "in the outage"}),
                    api.call("POST", "/auth/login", json={"username": "writer", "password": "x"}),
                ]
                server.start()
                # The writers succeed again on the same app (a bound, not a timing check).
                before = len(acknowledged)
                for _ in range(600):
                    if len(acknowledged) >= before + 5:
                        break
                    stop.wait(0.05)
            finally:
                stop.set()
                for writer in writers:
                    writer.join(timeout=30)
            for response in during:
                body = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
                assert int(response.headers["retry-after"]) > 0
                assert body["details"]["dependency"] == "database"
            assert set(statuses) <= {201, 503}, statuses
            assert len(acknowledged) >= before + 5  # writes succeed again after the restart
            # Recovered without a restart of the app, and every 201 is really there.
            assert api.call("GET", "/auth/me", user).status_code == 200
            listed = api.call("GET", "/cases?page_size=100", user).json()
            stored = {case["case_id"] for case in listed["items"]}
            assert set(acknowledged) <= stored
    finally:
        stop.set()
        container.close()


def test_a_full_connection_pool_is_503_with_retry_after(settings: Settings) -> None:
    container = build_container(
        make_settings(
            settings.database_url or "",
            settings.redis_url or "",
            db_pool_size=1,
            db_pool_timeout_seconds=0.2,
        )
    )
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            api = Api(client)
            user = api.user("patient")
            held = [container.database.engine.connect() for _ in range(2)]  # size + overflow
            try:
                for response in (
                    api.call("GET", "/cases", user),
                    api.call("POST", "/auth/login", json={"username": "patient", "password": "x"}),
                ):
                    body = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
                    assert body["details"]["reason"] == "saturated"
                    assert int(response.headers["retry-after"]) > 0
            finally:
                for connection in held:
                    connection.close()
            assert api.call("GET", "/cases", user).status_code == 200
    finally:
        container.close()


def test_a_login_holds_no_connection_while_it_verifies_the_password(settings: Settings) -> None:
    """One pooled connection left for the app and two logins at once, each verifying an
    Argon2 hash that takes longer than the pool timeout: had a login kept its connection
    (and row lock) through the hash, the other would wait past the timeout and fail.
    Only the short read and the short write need the connection."""
    container = build_container(
        make_settings(
            settings.database_url or "",
            settings.redis_url or "",
            password_hash_time_cost=6,
            password_hash_memory_kib=262_144,  # well over a second per verification
            db_pool_size=1,  # one connection plus one overflow
            db_pool_timeout_seconds=1.0,
        )
    )
    names = ["first", "second"]
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            api = Api(client)
            for name in names:
                body = {"email": f"{name}@example.com", "username": name}
                registered = api.call(
                    "POST", "/auth/register", json={**body, "password": STRONG_PASSWORD}
                )
                assert registered.status_code == 201
            start = threading.Barrier(len(names))

            def login(name: str) -> int:
                start.wait()
                response = api.call(
                    "POST", "/auth/login", json={"username": name, "password": STRONG_PASSWORD}
                )
                return int(response.status_code)

            held = container.database.engine.connect()  # the app keeps one connection
            try:
                with ThreadPoolExecutor(max_workers=len(names)) as pool:
                    statuses = list(pool.map(login, names))
            finally:
                held.close()
        assert statuses == [200, 200]
    finally:
        container.close()
