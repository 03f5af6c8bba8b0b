"""Per-request context shared by logging and the error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("faultmaven_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None) -> object:
    return _request_id.set(request_id)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


# Set only in-process, around the synthetic requests of a SnapStart init (never from a
# request: no header or field can turn it on), so they leave no trace in the stores.
_priming: ContextVar[bool] = ContextVar("faultmaven_priming", default=False)


@contextmanager
def priming() -> Iterator[None]:
    token = _priming.set(True)
    try:
        yield
    finally:
        _priming.reset(token)


def is_priming() -> bool:
    """Whether this is a priming request: protection does not count it and caches do
    not keep its answers."""
    return _priming.get()
