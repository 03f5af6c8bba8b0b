"""Rate limits and reputation through the real HTTP app, on the real Redis and
PostgreSQL: budgets per address and per user, stricter route classes, bursts, 429 with
Retry-After, reputation that escalates and recovers, the event archive and its retention,
the per-process fallback when Redis is down or frozen, and the one-key rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from faultmaven.adapters.redis_protection import RedisProtectionCounters
from faultmaven.app import create_app
from faultmaven.container import Container, build_container
from faultmaven.core.clock import utcnow
from faultmaven.core.settings import Settings
from faultmaven.protection import store
from faultmaven.protection.models import EventKind, ProtectionEvent, ReputationLevel, Scope
from faultmaven.protection.service import ProtectionService, _address_key
from faultmaven.protection.wiring import build_protection
from faultmaven.retention.models import RetentionJob, Schedule
from tests.helpers import Api, User, assert_envelope
from tests.integration.redis_switch import Mode, redis_switch
from tests.integration.test_redis_commands import MULTI_KEY, commands_sent

# Roomy unless a test narrows one: each test names the budget it is about.
ROOMY = {
    "rate_limit_scale": 1.0,
    "reputation_enabled": False,
    "rate_limit_user_per_minute": 1000,
    "rate_limit_user_per_hour": 10_000,
    "rate_limit_user_burst": 1000,
    "rate_limit_address_per_minute": 1000,
    "rate_limit_address_per_hour": 10_000,
    "rate_limit_address_burst": 1000,
    "rate_limit_auth_per_minute": 1000,
    "rate_limit_auth_per_hour": 10_000,
    "rate_limit_auth_burst": 1000,
}
HERE = ("198.51.100.7", 40000)
THERE = ("203.0.113.9", 40000)


class FakeClock:
    """Time for the protection service only (tokens keep real time)."""

    def __init__(self) -> None:
        # Mid-bucket, so a test's few milliseconds never straddle a window boundary.
        self.now = 1_900_000_005.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Protected:
    container: Container
    service: ProtectionService
    clock: FakeClock

    def client(self, address: tuple[str, int] = HERE) -> TestClient:
        return TestClient(
            create_app(container=self.container), raise_server_exceptions=False, client=address
        )

    def api(self, address: tuple[str, int] = HERE) -> Api:
        return Api(self.client(address))

    def events(self, **where: Any) -> list[ProtectionEvent]:
        self.service.events.flush()
        with self.container.database.session() as session:
            return store.events_for(session, **where)


Build = Callable[..., Protected]


@pytest.fixture
def protected(settings: Settings) -> Iterator[Build]:
    built: list[Container] = []

    def build(*, redis_url: str | None = None, **overrides: Any) -> Protected:
        configured = settings.model_copy(update={**ROOMY, **overrides})
        container = build_container(configured)
        built.append(container)
        clock = FakeClock()
        counters = RedisProtectionCounters.from_url(
            redis_url or str(configured.redis_url),
            timeout_seconds=configured.protection_redis_timeout_seconds,
        )
        service = build_protection(configured, container.database, counters, clock=clock)
        container.__dict__["protection"] = service  # the cached property, with our clock
        return Protected(container, service, clock)

    yield build
    for container in built:
        container.close()


def register(api: Api, name: str | None = None) -> User:
    return api.user(name)


def limited(response: Any, scope: str, route_class: str = "default") -> dict[str, Any]:
    body = assert_envelope(response, 429, "RATE_LIMITED")
    assert int(response.headers["retry-after"]) >= 1
    assert body["details"]["retry_after_seconds"] == int(response.headers["retry-after"])
    assert body["details"]["scope"] == scope
    assert body["details"]["route_class"] == route_class
    return body


# -- budgets --------------------------------------------------------------------------------
def test_an_address_is_limited_on_its_own_budget(protected: Build) -> None:
    p = protected(rate_limit_address_burst=4)
    here, there = p.client(HERE), p.client(THERE)
    answers = [here.get("/api/v1/cases") for _ in range(4)]
    assert [a.status_code for a in answers] == [401] * 4  # counted, then answered
    assert [int(a.headers["ratelimit-remaining"]) for a in answers] == [3, 2, 1, 0]
    assert all(a.headers["ratelimit-limit"] == "4" for a in answers)
    refused = here.get("/api/v1/cases")
    limited(refused, "address")
    assert int(refused.headers["retry-after"]) <= 10  # the burst window
    # Not routed at all: still the address's budget.
    limited(here.get("/api/v1/no-such-route"), "address")
    assert there.get("/api/v1/cases").status_code == 401  # another address is untouched
    assert here.get("/health").status_code == 200  # probes are never counted


def test_a_user_is_limited_across_addresses_and_apart_from_other_users(protected: Build) -> None:
    p = protected(rate_limit_user_burst=5)
    here, there = p.api(HERE), p.api(THERE)
    alice, bob = register(here, "alice"), register(here, "bob")
    statuses = [here.call("GET", "/cases", alice).status_code for _ in range(3)]
    statuses += [there.call("GET", "/cases", alice).status_code for _ in range(2)]
    assert statuses == [200] * 5
    limited(there.call("GET", "/cases", alice), "user")
    limited(here.call("GET", "/auth/me", alice), "user")
    assert here.call("GET", "/cases", bob).status_code == 200


def test_the_per_minute_and_per_hour_budgets_slide(protected: Build) -> None:
    p = protected(rate_limit_address_per_minute=6, rate_limit_address_per_hour=9)
    client = p.client()
    for _ in range(6):
        assert client.get("/api/v1/nope").status_code == 404
        p.clock.advance(5)  # past every 10 s burst window: the minute is what binds
    refused = client.get("/api/v1/nope")
    limited(refused, "address")
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    p.clock.advance(retry)
    assert client.get("/api/v1/nope").status_code == 404
    # Three more minutes: the hour's nine are spent, whatever the minute says.
    for _ in range(2):
        p.clock.advance(61)
        assert client.get("/api/v1/nope").status_code == 404
    p.clock.advance(61)
    body = limited(client.get("/api/v1/nope"), "address")
    assert body["details"]["retry_after_seconds"] > 60


def test_a_burst_is_refused_before_the_minute_budget_and_forgiven_after_its_window(
    protected: Build,
) -> None:
    p = protected(rate_limit_address_burst=3, rate_limit_address_per_minute=100)
    client = p.client()
    assert [client.get("/api/v1/nope").status_code for _ in range(3)] == [404] * 3
    refused = client.get("/api/v1/nope")
    limited(refused, "address")
    assert int(refused.headers["retry-after"]) <= 10
    p.clock.advance(int(refused.headers["retry-after"]))
    assert client.get("/api/v1/nope").status_code == 404


def test_expensive_routes_have_stricter_budgets_of_their_own(protected: Build) -> None:
    p = protected(
        rate_limit_search_burst=2,
        rate_limit_upload_burst=1,
        rate_limit_auth_burst=3,
    )
    api = p.api()
    user = register(api)  # one registration and one login: two of the auth three
    # An empty query fails validation, after the budget counted it (no embedding needed).
    assert [
        api.call("POST", "/knowledge/search", user, json={"query": ""}).status_code
        for _ in range(2)
    ] == [422, 422]
    limited(api.call("POST", "/knowledge/search", user, json={"query": ""}), "user", "search")
    case = api.case(user)
    upload = {"filename": "app.log", "content_type": "text/plain", "size_bytes": 10}
    first = api.call("POST", f"/cases/{case['case_id']}/evidence", user, json=upload)
    assert first.status_code != 429, first.text
    again = api.call("POST", f"/cases/{case['case_id']}/evidence", user, json=upload)
    limited(again, "user", "upload")
    assert api.call("GET", "/cases", user).status_code == 200  # the general budget is fine
    login = {"username": user.username, "password": "correct-Horse-battery-staple-42"}
    assert api.call("POST", "/auth/login", json=login).status_code == 200
    limited(api.call("POST", "/auth/login", json=login), "address", "auth")
    assert api.call("GET", "/auth/me", user).status_code == 200


def test_a_trusted_network_gets_more_and_is_never_blocked(protected: Build) -> None:
    p = protected(
        rate_limit_address_burst=2,
        protection_trusted_networks=["198.51.100.0/24"],
        reputation_enabled=True,
        reputation_suspicious_score=1,
        reputation_restricted_score=2,
        reputation_blocked_score=3,
    )
    trusted, stranger = p.client(HERE), p.client(THERE)
    assert [trusted.get("/api/v1/nope").status_code for _ in range(8)] == [404] * 8
    limited(trusted.get("/api/v1/nope"), "address")
    assert p.service.reputation(Scope.ADDRESS, HERE[0]).level is ReputationLevel.TRUSTED
    # A stranger's errors make it suspicious at once, which halves its budget.
    assert [stranger.get("/api/v1/nope").status_code for _ in range(3)] == [404, 429, 429]


# -- reputation ----------------------------------------------------------------------------
REPUTATION = {
    "reputation_enabled": True,
    "reputation_half_life_seconds": 60,
    "reputation_suspicious_score": 5,
    "reputation_restricted_score": 10,
    "reputation_blocked_score": 20,
    "reputation_block_seconds": 30,
    "rate_limit_address_burst": 100,
}


def test_a_storm_of_client_errors_escalates_to_a_block_that_recovers(protected: Build) -> None:
    p = protected(**REPUTATION)
    client, other = p.client(HERE), p.client(THERE)
    level = lambda: p.service.reputation(Scope.ADDRESS, HERE[0]).level  # noqa: E731
    limits: list[int] = []
    for _ in range(20):
        answer = client.get("/api/v1/nope")
        assert answer.status_code == 404
        limits.append(int(answer.headers["ratelimit-limit"]))
    # Normal, then suspicious (half the budget) from the fifth error, restricted (a fifth)
    # from the tenth; the twentieth blocks.
    assert limits[0] == 100
    assert limits[5] == 50
    assert limits[10] == 20
    assert level() is ReputationLevel.BLOCKED
    refused = client.get("/api/v1/cases")
    body = assert_envelope(refused, 429, "CLIENT_BLOCKED")
    assert body["details"]["reputation"] == "blocked"
    assert 25 <= int(refused.headers["retry-after"]) <= 30
    assert other.get("/api/v1/cases").status_code == 401  # only that client
    # The block runs out; the score has decayed (20 → ~14 after 30 s): restricted.
    p.clock.advance(31)
    assert client.get("/api/v1/cases").status_code == 401
    assert level() is ReputationLevel.RESTRICTED
    p.clock.advance(60)  # ~7: suspicious
    assert level() is ReputationLevel.SUSPICIOUS
    p.clock.advance(120)  # ~2: normal again, full budget
    assert level() is ReputationLevel.NORMAL
    assert client.get("/api/v1/cases").headers["ratelimit-limit"] == "100"

    changes = [
        (e.previous_level, e.level)
        for e in p.events(scope="address", subject=HERE[0])
        if e.kind is EventKind.LEVEL_CHANGED
    ]
    n, s, r, b = (ReputationLevel(x) for x in ("normal", "suspicious", "restricted", "blocked"))
    assert {(n, s), (s, r), (r, b), (b, r)} <= set(changes)
    blocked = [e for e in p.events(subject=HERE[0]) if e.kind is EventKind.BLOCKED]
    assert sum(e.count for e in blocked) == 1


def test_hammering_through_refusals_gets_a_client_blocked_for_longer_each_time(
    protected: Build,
) -> None:
    p = protected(**{**REPUTATION, "rate_limit_address_burst": 2, "reputation_blocked_score": 10})
    client = p.client()
    statuses = [client.get("/api/v1/nope").status_code for _ in range(14)]
    assert statuses[:2] == [404, 404]
    assert set(statuses[2:]) == {429}
    first = client.get("/api/v1/nope")
    assert_envelope(first, 429, "CLIENT_BLOCKED")
    first_block = int(first.headers["retry-after"])
    assert 1 <= first_block <= 30
    # Out of the block, straight back to hammering: blocked again, twice as long.
    p.clock.advance(first_block + 1)
    for _ in range(12):
        client.get("/api/v1/nope")
    second = client.get("/api/v1/nope")
    assert_envelope(second, 429, "CLIENT_BLOCKED")
    assert int(second.headers["retry-after"]) > 30


def test_a_users_client_errors_count_against_the_user_too(protected: Build) -> None:
    p = protected(**{**REPUTATION, "rate_limit_address_burst": 1000})
    here, there = p.api(HERE), p.api(THERE)
    user = register(here)
    for _ in range(20):
        assert here.call("GET", "/cases/case_" + "0" * 32, user).status_code == 404
    assert p.service.reputation(Scope.USER, user.user_id).level is ReputationLevel.BLOCKED
    # The same user from another address is blocked too: the block follows the user.
    assert_envelope(there.call("GET", "/cases", user), 429, "CLIENT_BLOCKED")


# -- the archive ---------------------------------------------------------------------------
def test_refusals_are_archived_as_counted_rows_and_retention_keeps_30_days(
    protected: Build, container: Container
) -> None:
    p = protected(rate_limit_address_burst=1)
    client = p.client()
    client.get("/api/v1/nope")
    for _ in range(25):
        limited(client.get("/api/v1/nope"), "address")
    events = p.events(subject=HERE[0])
    assert [(e.kind, e.scope, e.count) for e in events] == [
        (EventKind.THROTTLED, Scope.ADDRESS, 25)
    ]
    assert events[0].details["window"] == "default:b"
    # A second flush with nothing new writes nothing.
    assert p.service.events.flush() == 0

    # Retention: older than 30 days goes, younger stays.
    client.get("/api/v1/nope")
    p.service.events.flush()
    rows = [e.event_id for e in p.events(subject=HERE[0])]
    assert len(rows) == 2
    now = utcnow()
    with container.database.engine.begin() as connection:
        for event_id, age in zip(rows, (timedelta(days=31), timedelta(days=29)), strict=True):
            connection.execute(
                text("UPDATE protection_events SET last_at = :t WHERE event_id = :e"),
                {"t": now - age, "e": event_id},
            )
    dry = container.retention.run(Schedule.DAILY, now=now, dry_run=True)
    job = next(j for j in dry.jobs if j.job is RetentionJob.PROTECTION_EVENTS)
    assert (job.examined, job.deleted, job.cutoff) == (1, 1, now - timedelta(days=30))
    container.retention.run(Schedule.DAILY, now=now)
    assert [e.event_id for e in p.events(subject=HERE[0])] == [rows[1]]
    again = container.retention.run(Schedule.DAILY, now=now)
    assert next(j for j in again.jobs if j.job is RetentionJob.PROTECTION_EVENTS).deleted == 0


def test_an_unwritable_archive_never_reaches_a_request(protected: Build) -> None:
    p = protected(rate_limit_address_burst=1)
    with p.container.database.engine.begin() as connection:
        connection.execute(text("ALTER TABLE protection_events RENAME TO protection_events_x"))
    try:
        client = p.client()
        client.get("/api/v1/nope")
        limited(client.get("/api/v1/nope"), "address")
        assert p.service.events.flush() == 0  # logged and dropped
    finally:
        with p.container.database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE protection_events_x RENAME TO protection_events"))


# -- Redis away ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [Mode.DOWN, Mode.FROZEN])
def test_with_redis_away_per_process_limits_bound_requests_and_redis_is_used_again(
    protected: Build, settings: Settings, mode: Mode
) -> None:
    with redis_switch(str(settings.redis_url)) as switch:
        p = protected(
            redis_url=switch.url,
            rate_limit_address_burst=3,
            protection_redis_timeout_seconds=0.2,
            protection_redis_retry_seconds=5,
        )
        client = p.client()
        assert client.get("/api/v1/nope").status_code == 404  # counted in Redis
        assert not p.service.degraded
        switch.set(mode)
        # Never a 5xx: the per-process counters take over and still bound the client.
        statuses = [client.get("/api/v1/nope").status_code for _ in range(4)]
        assert p.service.degraded
        assert statuses == [404, 404, 404, 429]
        limited(client.get("/api/v1/nope"), "address")
        # Redis answers again: after the retry interval the shared counters are used,
        # which still hold the one request they counted.
        switch.set(Mode.UP)
        p.clock.advance(6)
        assert client.get("/api/v1/nope").status_code == 404
        assert not p.service.degraded
        counted = p.container.kv.client.hget("protection:" + _address_key(HERE[0]), "default:h.c")
        assert counted == "2"  # the hour window in Redis: before the outage, and now


def test_a_snapshot_restore_reconnects_the_limiter_and_keeps_its_counts(
    protected: Build,
) -> None:
    p = protected(rate_limit_address_burst=2)
    client = p.client()
    assert client.get("/api/v1/nope").status_code == 404
    p.container.reconnect()  # what the SnapStart after-restore hook calls
    assert client.get("/api/v1/nope").status_code == 404
    limited(client.get("/api/v1/nope"), "address")
    assert not p.service.degraded


def test_the_per_process_counters_forget_the_oldest_clients_past_their_bound(
    protected: Build,
) -> None:
    p = protected(protection_local_max_clients=100)
    fallback = p.service._fallback
    for i in range(250):
        fallback.hit(f"address:{i}", 0, (), p.service.policy, scales=(1, 1, 1))
    assert len(fallback) == 100


# -- cluster mode --------------------------------------------------------------------------
def test_protection_sends_one_key_per_redis_command(protected: Build) -> None:
    p = protected(**{**REPUTATION, "rate_limit_user_burst": 3, "rate_limit_search_burst": 1})
    api = p.api()

    def traffic() -> None:
        user = register(api)
        for _ in range(4):
            api.call("GET", "/cases", user)
        api.call("GET", "/no-such-route")
        api.call("POST", "/knowledge/search", user, json={"query": ""})
        p.service.reputation(Scope.USER, user.user_id)
        p.service.reputation(Scope.ADDRESS, HERE[0])

    commands = commands_sent(p.container, traffic)
    scripts = [c for c in commands if c[0].upper() in {"EVAL", "EVALSHA"}]
    assert len(scripts) >= 8  # the log really saw protection's traffic
    for command in commands:
        name = command[0].upper()
        if name in MULTI_KEY:
            assert len(command) == 2, command
        if name in {"EVAL", "EVALSHA"}:
            assert int(command[2]) <= 1, command
