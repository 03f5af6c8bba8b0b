"""The two counter stores are one algorithm: the Lua script in Redis and the per-process
fallback must decide alike for any sequence of requests, client errors and pauses, or a
Redis outage would change the rules a client is held to."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultmaven.adapters.redis_protection import RedisProtectionCounters
from faultmaven.core.settings import Settings
from faultmaven.protection.local import LocalCounters
from faultmaven.protection.models import RateLimitConfig, ReputationPolicy

POLICY = ReputationPolicy(
    enabled=True,
    half_life_seconds=30,
    suspicious_score=3,
    restricted_score=6,
    blocked_score=10,
    block_seconds=5,
    max_block_seconds=40,
)
WINDOWS = RateLimitConfig(per_minute=12, per_hour=40, burst=4, burst_window_seconds=2).windows(
    "default", 1.0
) + RateLimitConfig(per_minute=6, per_hour=20, burst=2, burst_window_seconds=2).windows(
    "search", 1.0
)
SCALES = (1.0, 0.5, 0.2)
_subjects = itertools.count()

steps = st.lists(
    st.tuples(
        st.sampled_from(["hit", "hit", "hit", "error"]),
        st.integers(min_value=0, max_value=4000),  # ms since the previous step
    ),
    min_size=1,
    max_size=60,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_redis_and_the_per_process_counters_decide_alike(
    redis_url: str, steps: list[tuple[str, int]]
) -> None:
    redis_counters = RedisProtectionCounters.from_url(redis_url, timeout_seconds=2)
    local = LocalCounters(max_subjects=100)
    subject = f"prop:{next(_subjects)}"
    now = 1_900_000_000_000
    try:
        for op, pause in steps:
            now += pause
            if op == "hit":
                a = redis_counters.hit(subject, now, WINDOWS, POLICY, scales=SCALES)
                b = local.hit(subject, now, WINDOWS, POLICY, scales=SCALES)
                assert (a.allowed, a.level, a.previous_level, a.denied_window) == (
                    b.allowed,
                    b.level,
                    b.previous_level,
                    b.denied_window,
                )
                assert abs(a.retry_after_ms - b.retry_after_ms) <= 1
                assert (a.limit, a.remaining) == (b.limit, b.remaining)
            else:
                c = redis_counters.penalize(subject, now, 1.0, POLICY)
                d = local.penalize(subject, now, 1.0, POLICY)
                assert c == d
            ra = redis_counters.reputation(subject, now, POLICY)
            rb = local.reputation(subject, now, POLICY)
            assert ra.level is rb.level
            assert abs(ra.score - rb.score) < 1e-6
    finally:
        redis_counters.client.delete(redis_counters.key(subject))
        redis_counters.close()


def test_a_refused_request_is_not_counted(settings: Settings) -> None:
    """Only admitted requests fill the windows, so a client that backs off as told gets
    back in on time, however often it was refused."""
    counters = RedisProtectionCounters.from_url(str(settings.redis_url), timeout_seconds=2)
    policy = replace(POLICY, enabled=False)
    windows = RateLimitConfig(
        per_minute=100, per_hour=100, burst=2, burst_window_seconds=2
    ).windows("default", 1.0)
    now = 1_900_000_000_500
    try:
        assert counters.hit("quiet", now, windows, policy, scales=SCALES).allowed
        assert counters.hit("quiet", now, windows, policy, scales=SCALES).allowed
        refused = [counters.hit("quiet", now, windows, policy, scales=SCALES) for _ in range(50)]
        assert not any(r.allowed for r in refused)
        wait = refused[-1].retry_after_ms
        assert counters.hit("quiet", now + wait, windows, policy, scales=SCALES).allowed
    finally:
        counters.client.delete(counters.key("quiet"))
        counters.close()
