"""Login throttling as a guard against guessing that a stranger cannot turn into a
lock-out: progressive back-off per account and client address, the address taken from
the socket (or API Gateway), never from a header a client writes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from faultmaven.auth.throttle import (
    BACKOFF_MAX_SECONDS,
    FREE_FAILURES_PER_PAIR,
    MAX_FAILURES_PER_ADDRESS,
    backoff_seconds,
)
from tests.helpers import STRONG_PASSWORD, Api, assert_envelope


@pytest.fixture
def from_address(app: FastAPI) -> Iterator[dict[str, Api]]:
    """One API client per source address, as the socket peer sees it."""
    clients: dict[str, TestClient] = {}
    apis: dict[str, Api] = {}

    class ByAddress(dict[str, Api]):
        def __missing__(self, address: str) -> Api:
            client = TestClient(app, raise_server_exceptions=False, client=(address, 40000))
            clients[address] = client.__enter__()
            apis[address] = Api(clients[address])
            return apis[address]

    yield ByAddress()
    for client in clients.values():
        client.__exit__(None, None, None)


def guess(api: Api, username: str, password: str = "wrong-guess-1") -> object:  # noqa: S107
    return api.call("POST", "/auth/login", json={"username": username, "password": password})


def test_a_stranger_cannot_lock_the_owner_out_from_another_address(
    from_address: dict[str, Api],
) -> None:
    owner, stranger = from_address["198.51.100.10"], from_address["203.0.113.66"]
    owner.user("victim")
    for _ in range(FREE_FAILURES_PER_PAIR + 5):
        response = guess(stranger, "victim")
        assert response.status_code in {401, 429}  # type: ignore[attr-defined]
    assert_envelope(guess(stranger, "victim", STRONG_PASSWORD), 429, "RATE_LIMITED")
    # The owner, from their own address, gets in at once with the right password.
    assert guess(owner, "victim", STRONG_PASSWORD).status_code == 200  # type: ignore[attr-defined]


def test_the_back_off_doubles_per_pair_up_to_its_cap(from_address: dict[str, Api]) -> None:
    assert [backoff_seconds(n) for n in range(FREE_FAILURES_PER_PAIR)] == [0] * (
        FREE_FAILURES_PER_PAIR
    )
    waits = [backoff_seconds(FREE_FAILURES_PER_PAIR + k) for k in range(12)]
    assert all(b == min(2 * a, BACKOFF_MAX_SECONDS) for a, b in itertools.pairwise(waits))
    assert waits[-1] == BACKOFF_MAX_SECONDS
    api = from_address["192.0.2.1"]
    api.user("guessed")
    for _ in range(FREE_FAILURES_PER_PAIR):
        assert guess(api, "guessed").status_code == 401  # type: ignore[attr-defined]
    blocked = guess(api, "guessed", STRONG_PASSWORD)
    assert_envelope(blocked, 429, "RATE_LIMITED")
    assert 0 < int(blocked.headers["retry-after"]) <= backoff_seconds(FREE_FAILURES_PER_PAIR)  # type: ignore[attr-defined]


def test_forwarded_headers_from_an_untrusted_peer_do_not_escape_the_address_limit(
    from_address: dict[str, Api],
) -> None:
    api = from_address["127.0.0.1"]  # what uvicorn trusted X-Forwarded-For from by default
    statuses = []
    for i in range(MAX_FAILURES_PER_ADDRESS + 10):
        response = api.call(
            "POST",
            "/auth/login",
            json={"username": f"sprayed{i}", "password": "wrong-guess-1"},
            headers={"X-Forwarded-For": f"10.{i // 250}.{i % 250}.7"},
        )
        statuses.append(response.status_code)
    assert statuses[:MAX_FAILURES_PER_ADDRESS] == [401] * MAX_FAILURES_PER_ADDRESS
    assert set(statuses[MAX_FAILURES_PER_ADDRESS:]) == {429}
