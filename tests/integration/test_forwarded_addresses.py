"""The local server (uvicorn, as `faultmaven dev` configures it) over a real socket:
X-Forwarded-For counts only from a configured proxy, so rotating it does not escape the
per-address login limit; on Lambda the address is API Gateway's `sourceIp`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from faultmaven.app import create_app
from faultmaven.auth.throttle import MAX_FAILURES_PER_ADDRESS
from faultmaven.container import Container
from faultmaven.core.settings import Settings
from faultmaven.local.cli import serve_options
from tests.conftest import make_settings
from tests.integration.faults import free_port


@contextmanager
def serving(container: Container, settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(create_app(container=container), **serve_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def spray(base_url: str, attempts: int) -> list[int]:
    statuses = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for i in range(attempts):
            response = client.post(
                "/api/v1/auth/login",
                json={"username": f"sprayed{i}", "password": "wrong-guess-1"},
                headers={"X-Forwarded-For": f"10.{i // 250}.{i % 250}.9"},
            )
            statuses.append(response.status_code)
    return statuses


def test_a_rotating_forwarded_header_is_ignored_without_trusted_proxies(
    container: Container, settings: Settings
) -> None:
    local = make_settings(settings.database_url or "", settings.redis_url or "", port=free_port())
    assert local.trusted_proxies == []
    with serving(container, local) as base_url:
        statuses = spray(base_url, MAX_FAILURES_PER_ADDRESS + 5)
    assert statuses[:MAX_FAILURES_PER_ADDRESS] == [401] * MAX_FAILURES_PER_ADDRESS
    assert set(statuses[MAX_FAILURES_PER_ADDRESS:]) == {429}


def test_a_configured_proxy_is_believed(container: Container, settings: Settings) -> None:
    behind_proxy = make_settings(
        settings.database_url or "",
        settings.redis_url or "",
        port=free_port(),
        trusted_proxies=["127.0.0.0/8"],
    )
    with serving(container, behind_proxy) as base_url:
        statuses = spray(base_url, MAX_FAILURES_PER_ADDRESS + 5)
    assert set(statuses) == {401}  # each forwarded client has its own budget
