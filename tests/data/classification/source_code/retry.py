"""Retry helpers for calls to the payment service provider."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class RetryBudgetExceeded(RuntimeError):
    """Raised when every attempt failed with a retryable error."""


def backoff(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Full-jitter exponential backoff (AWS architecture blog)."""
    return random.uniform(0, min(cap, base * 2**attempt))


def with_retries(call: Callable[[], T], attempts: int = 3) -> T:
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            return call()
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in RETRYABLE_STATUS:
                raise
            last = exc
        except (httpx.ConnectError, httpx.ReadTimeout) as exc:
            last = exc
        delay = backoff(attempt)
        log.warning(
            "psp call failed (attempt %d/%d), retrying in %.2fs", attempt + 1, attempts, delay
        )
        time.sleep(delay)
    raise RetryBudgetExceeded(f"gave up after {attempts} attempts") from last
