"""Protection's pure parts: route classes, settings, combining two checks, the event
tally's bounds."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from faultmaven.core.settings import SettingsError, load_settings
from faultmaven.protection.events import EventRecorder
from faultmaven.protection.models import (
    EventKind,
    ProtectionEvent,
    ProtectionResult,
    ReputationLevel,
    RouteClass,
    Scope,
)
from faultmaven.protection.routes import classify
from faultmaven.protection.wiring import BUDGET_SETTINGS, budgets


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v1/auth/login", RouteClass.AUTH),
        ("POST", "/api/v1/auth/register", RouteClass.AUTH),
        ("POST", "/api/v1/auth/refresh", RouteClass.AUTH),
        ("GET", "/api/v1/auth/me", RouteClass.DEFAULT),
        ("POST", "/api/v1/auth/logout", RouteClass.DEFAULT),
        ("POST", "/api/v1/cases/case_1/evidence", RouteClass.UPLOAD),
        ("POST", "/api/v1/cases/case_1/evidence/text", RouteClass.UPLOAD),
        ("GET", "/api/v1/cases/case_1/evidence", RouteClass.DEFAULT),
        ("POST", "/api/v1/knowledge/documents", RouteClass.UPLOAD),
        ("POST", "/api/v1/knowledge/documents/uploads", RouteClass.UPLOAD),
        ("POST", "/api/v1/knowledge/global/documents", RouteClass.UPLOAD),
        ("PATCH", "/api/v1/knowledge/documents/kbd_1", RouteClass.DEFAULT),
        ("POST", "/api/v1/knowledge/search", RouteClass.SEARCH),
        ("POST", "/api/v1/cases/case_1/query", RouteClass.AGENT),
        ("POST", "/api/v1/cases/case_1/reports", RouteClass.AGENT),
        ("POST", "/api/v1/cases/case_1/investigations", RouteClass.AGENT),
        ("GET", "/api/v1/cases/case_1/reports", RouteClass.DEFAULT),
        ("POST", "/api/v1/reports/rep_1/regenerate", RouteClass.AGENT),
        ("GET", "/api/v1/cases/case_1", RouteClass.DEFAULT),
        ("POST", "/api/v1/cases", RouteClass.DEFAULT),
    ],
)
def test_routes_fall_in_their_class(method: str, path: str, expected: RouteClass) -> None:
    assert classify(method, path) is expected


def test_every_budget_has_settings_and_the_scale_applies_to_all() -> None:
    scaled = budgets(load_settings(rate_limit_scale=2.0))
    plain = budgets(load_settings())
    assert set(plain) == set(BUDGET_SETTINGS)
    for key, config in plain.items():
        assert scaled[key].per_minute == 2 * config.per_minute
        assert scaled[key].per_hour == 2 * config.per_hour
        assert scaled[key].burst == 2 * config.burst
    # Expensive classes are stricter than the general user budget.
    general = plain[(Scope.USER, RouteClass.DEFAULT)]
    for route_class in (RouteClass.UPLOAD, RouteClass.SEARCH, RouteClass.AGENT):
        assert plain[(Scope.USER, route_class)].per_minute < general.per_minute


@pytest.mark.parametrize(
    "overrides",
    [
        {"reputation_suspicious_score": 50, "reputation_restricted_score": 40},
        {"reputation_blocked_score": 10},
        {"protection_trusted_networks": ["not-a-network"]},
        {"rate_limit_user_per_minute": 0},
        {"protection_redis_timeout_seconds": 0},
    ],
)
def test_inconsistent_protection_settings_are_refused_at_start(
    overrides: dict[str, object],
) -> None:
    with pytest.raises(SettingsError):
        load_settings(**overrides)


def test_the_refusal_wins_and_otherwise_the_tighter_budget() -> None:
    roomy = ProtectionResult(allowed=True, scope=Scope.ADDRESS, limit=100, remaining=90)
    tight = ProtectionResult(allowed=True, scope=Scope.USER, limit=10, remaining=2)
    refused = ProtectionResult(allowed=False, scope=Scope.USER, retry_after_seconds=3)
    longer = ProtectionResult(allowed=False, scope=Scope.ADDRESS, retry_after_seconds=9)
    assert roomy.tighter(tight) is tight
    assert tight.tighter(roomy) is tight
    assert roomy.tighter(refused) is refused
    assert refused.tighter(roomy) is refused
    assert refused.tighter(longer) is longer


def _record(recorder: EventRecorder, subject: str) -> None:
    recorder.record(
        EventKind.THROTTLED,
        Scope.ADDRESS,
        subject,
        level=ReputationLevel.NORMAL,
        route_class=RouteClass.DEFAULT,
    )


def test_repeats_are_tallied_and_the_tally_is_bounded() -> None:
    written: list[ProtectionEvent] = []

    def write(events: Sequence[ProtectionEvent]) -> None:
        written.extend(events)

    recorder = EventRecorder(write, flush_seconds=3600, max_pending=10)
    try:
        for _ in range(1000):
            _record(recorder, "192.0.2.1")
        for i in range(50):
            _record(recorder, f"192.0.2.{i + 2}")
        assert recorder.pending() == 10
        assert recorder.flush() == 10
        counts = {e.subject: e.count for e in written}
        assert counts["192.0.2.1"] == 1000
        assert len(counts) == 10
        assert recorder.flush() == 0
    finally:
        recorder.close()


def test_a_failing_archive_is_logged_not_raised() -> None:
    def write(events: Sequence[ProtectionEvent]) -> None:
        raise ConnectionError("database down")

    recorder = EventRecorder(write, flush_seconds=3600, max_pending=10)
    try:
        _record(recorder, "192.0.2.1")
        assert recorder.flush() == 0
        assert recorder.pending() == 0  # dropped, not retried into a growing backlog
    finally:
        recorder.close()
