"""Unit tests see a clean environment: the integration fixtures export settings for the
in-process Lambda handlers, which must not leak into settings tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FAULTMAVEN_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
