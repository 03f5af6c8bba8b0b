"""What the agent benchmarks share: the embedded stores, a moto server running the
preprocessing state machine with our handlers behind its Lambda (as the test suite and
`faultmaven dev` run it), and the in-process app over them, wired to whichever provider a
benchmark asks for. Uploads go through the presigned form and the whole pipeline, so a
benchmark's case holds what a user's would.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _support import BENCH_JWT_SECRET, ROOT, Stores, embedded_stores, free_port

sys.path.insert(0, str(ROOT))

from faultmaven.core.settings import Settings, load_settings


def bench_settings(stores: Stores, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": stores.database_url,
        "redis_url": stores.redis_url,
        "jwt_secret": BENCH_JWT_SECRET,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "log_level": "ERROR",
        # One client sends every request: the budgets must not be what is measured.
        "rate_limit_scale": 1000.0,
        "reputation_enabled": False,
        "llm_provider": "offline",
        "llm_fallback": None,
        **overrides,
    }
    return load_settings(**values)


@dataclass
class AgentStack:
    stores: Stores
    base: dict[str, Any]

    @contextmanager
    def api(self, **overrides: Any) -> Iterator[Any]:
        """An `Api` client (tests/helpers.py) on the in-process app with these settings;
        the stores and the pipeline are the stack's."""
        from fastapi.testclient import TestClient

        from faultmaven.app import create_app
        from faultmaven.container import build_container
        from tests.helpers import Api

        container = build_container(bench_settings(self.stores, **self.base, **overrides))
        try:
            with TestClient(create_app(container=container)) as client:
                yield Api(client), container
        finally:
            container.close()


@contextmanager
def agent_stack() -> Iterator[AgentStack]:
    from faultmaven.local.aws import export_environment, provision
    from faultmaven.local.runtime import start_moto

    # The pipeline's handlers print an EMF metrics line per invocation: not a figure.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="Dimension .* has already been added")
    with embedded_stores() as stores:
        server, url = start_moto(free_port())
        try:
            machines = provision(bench_settings(stores, aws_endpoint_url=url))
            base = {"aws_endpoint_url": url, **machines}
            # The pipeline's handlers read their settings from the environment, as on
            # Lambda; they summarise offline whatever the API process talks to.
            export_environment(bench_settings(stores, **base))
            yield AgentStack(stores=stores, base=base)
        finally:
            server.stop()
