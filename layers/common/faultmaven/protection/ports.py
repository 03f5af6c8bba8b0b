"""The counter port protection depends on lives in `core.ports` (adapters implement it
and know no domain); re-exported here for the domain's own modules."""

from __future__ import annotations

from faultmaven.core.ports import Counters, CountersUnavailableError

__all__ = ["Counters", "CountersUnavailableError"]
