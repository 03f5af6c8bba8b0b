"""Builds the protection service from settings (called by the container), so the
container keeps one short property and the budgets are read in one place."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from faultmaven.core.ports import Database
from faultmaven.core.settings import Settings
from faultmaven.protection.events import EventRecorder
from faultmaven.protection.local import LocalCounters
from faultmaven.protection.models import (
    ProtectionEvent,
    RateLimitConfig,
    ReputationPolicy,
    RouteClass,
    Scope,
)
from faultmaven.protection.ports import Counters
from faultmaven.protection.service import Budgets, ProtectionService

# (scope, class) → the settings prefix of its budget.
BUDGET_SETTINGS: dict[tuple[Scope, RouteClass], str] = {
    (Scope.USER, RouteClass.DEFAULT): "rate_limit_user",
    (Scope.ADDRESS, RouteClass.DEFAULT): "rate_limit_address",
    (Scope.ADDRESS, RouteClass.AUTH): "rate_limit_auth",
    (Scope.USER, RouteClass.UPLOAD): "rate_limit_upload",
    (Scope.USER, RouteClass.SEARCH): "rate_limit_search",
    (Scope.USER, RouteClass.AGENT): "rate_limit_agent",
}


def budgets(settings: Settings) -> Budgets:
    def limit(name: str) -> int:
        configured: int = getattr(settings, name)
        return max(1, math.ceil(configured * settings.rate_limit_scale))

    return {
        key: RateLimitConfig(
            per_minute=limit(f"{prefix}_per_minute"),
            per_hour=limit(f"{prefix}_per_hour"),
            burst=limit(f"{prefix}_burst"),
            burst_window_seconds=settings.rate_limit_burst_window_seconds,
        )
        for key, prefix in BUDGET_SETTINGS.items()
    }


def policy(settings: Settings) -> ReputationPolicy:
    return ReputationPolicy(
        enabled=settings.reputation_enabled,
        half_life_seconds=settings.reputation_half_life_seconds,
        suspicious_score=settings.reputation_suspicious_score,
        restricted_score=settings.reputation_restricted_score,
        blocked_score=settings.reputation_blocked_score,
        block_seconds=settings.reputation_block_seconds,
        max_block_seconds=settings.reputation_max_block_seconds,
    )


def build_protection(
    settings: Settings,
    database: Database,
    counters: Counters,
    *,
    clock: Callable[[], float] = time.time,
) -> ProtectionService:
    def archive(events: Sequence[ProtectionEvent]) -> None:
        # Imported on the first flush: a function that never refuses anyone (sessions,
        # say) never loads SQLAlchemy for protection's sake.
        from faultmaven.protection import store

        with database.session() as session:
            store.insert_events(session, events)

    recorder = EventRecorder(
        archive,
        flush_seconds=settings.protection_event_flush_seconds,
        max_pending=settings.protection_event_max_pending,
    )
    return ProtectionService(
        counters,
        LocalCounters(max_subjects=settings.protection_local_max_clients),
        recorder,
        budgets=budgets(settings),
        policy=policy(settings),
        trusted_networks=settings.protection_trusted_networks,
        retry_seconds=settings.protection_redis_retry_seconds,
        clock=clock,
    )
