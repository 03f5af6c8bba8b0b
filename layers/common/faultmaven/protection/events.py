"""Protection events, archived without slowing the request they describe.

A request only adds to an in-memory tally (a dictionary update under a lock); a
background thread writes the tally to PostgreSQL every `flush_seconds` in one INSERT.
Repeats of one event (same kind, subject, class and levels) within a flush become one
row with a count, so a flood of refused requests costs a handful of rows. The tally is
bounded: past `max_pending` distinct events, new ones are counted as dropped and logged
at the next flush rather than held. A failed write is logged and dropped: the archive is
forensics, best effort, and must never turn into back-pressure on the API.

On Lambda the thread is frozen between invocations and carries on when the instance is
used again; what is pending when an instance is retired is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faultmaven.core.clock import utcnow
from faultmaven.core.ids import new_id
from faultmaven.core.logging import logger
from faultmaven.protection.models import (
    EventKind,
    ProtectionEvent,
    ReputationLevel,
    RouteClass,
    Scope,
)

_Key = tuple[EventKind, Scope, str, RouteClass | None, ReputationLevel, ReputationLevel | None]


@dataclass(slots=True)
class _Tally:
    first_at: datetime
    last_at: datetime
    count: int
    details: dict[str, Any]


class EventRecorder:
    def __init__(
        self,
        write: Callable[[Sequence[ProtectionEvent]], None],
        *,
        flush_seconds: float,
        max_pending: int,
    ) -> None:
        self._write = write
        self._flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._pending: dict[_Key, _Tally] = {}
        self._dropped = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        kind: EventKind,
        scope: Scope,
        subject: str,
        *,
        level: ReputationLevel,
        route_class: RouteClass | None = None,
        previous_level: ReputationLevel | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        key: _Key = (kind, scope, subject, route_class, level, previous_level)
        now = utcnow()
        with self._lock:
            tally = self._pending.get(key)
            if tally is not None:
                tally.count += 1
                tally.last_at = now
            elif len(self._pending) >= self._max_pending:
                self._dropped += 1
            else:
                self._pending[key] = _Tally(now, now, 1, dict(details or {}))
        self._ensure_thread()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write what is pending now; returns how many rows were written."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                dropped, self._dropped = self._dropped, 0
            if dropped:
                logger.warning("protection events dropped", extra={"dropped": dropped})
            if not pending:
                return 0
            events = [
                ProtectionEvent(
                    event_id=new_id("pev"),
                    occurred_at=tally.first_at,
                    last_at=tally.last_at,
                    kind=kind,
                    scope=scope,
                    subject=subject,
                    route_class=route_class,
                    level=level,
                    previous_level=previous,
                    count=tally.count,
                    details=tally.details,
                )
                for (kind, scope, subject, route_class, level, previous), tally in pending.items()
            ]
            try:
                self._write(events)
            except Exception as exc:  # best effort: a lost batch must not reach a request
                logger.warning(
                    "protection events not archived",
                    extra={"events": len(events), "error_type": type(exc).__name__},
                )
                return 0
            return len(events)

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        self.flush()

    def _ensure_thread(self) -> None:
        if self._thread is not None or self._stop.is_set():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="protection-events", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()
