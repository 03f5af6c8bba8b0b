"""Counting the work regular expressions are given, instead of timing it.

`observe(module)` swaps every compiled pattern at `module`'s top level for a proxy that
records how many characters each call is handed, then forwards the call unchanged. A test
can then state the bound its module promises ("no regex sees more than one clipped
line"), which is what keeps the worst case linear: backtracking is superlinear only in
the length of the subject. Timings belong in benchmarks/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

_METHODS = ("match", "fullmatch", "search", "findall", "finditer", "sub", "subn", "split")


@dataclass
class Work:
    """Per pattern name: the subject length of every call."""

    calls: dict[str, list[int]] = field(default_factory=dict)
    patterns: int = 0

    def record(self, name: str, size: int) -> None:
        self.calls.setdefault(name, []).append(size)

    def largest(self, *, excluding: frozenset[str] = frozenset()) -> int:
        return max((max(sizes) for n, sizes in self.calls.items() if n not in excluding), default=0)

    def total(self) -> int:
        return sum(sum(sizes) for sizes in self.calls.values())


class _Counting:
    def __init__(self, name: str, pattern: re.Pattern[Any], work: Work) -> None:
        self._name, self._pattern, self._work = name, pattern, work

    def __getattr__(self, attribute: str) -> Any:
        target = getattr(self._pattern, attribute)
        if attribute not in _METHODS:
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            subject_index = 1 if attribute in ("sub", "subn") else 0
            subject = args[subject_index] if len(args) > subject_index else kwargs.get("string")
            start = (
                args[subject_index + 1]
                if attribute not in ("sub", "subn", "split") and len(args) > subject_index + 1
                else 0
            )
            end = (
                args[subject_index + 2]
                if attribute not in ("sub", "subn", "split") and len(args) > subject_index + 2
                else None
            )
            size = len(subject[start:end]) if subject is not None else 0
            self._work.record(self._name, size)
            return target(*args, **kwargs)

        return counted


def observe(monkeypatch: pytest.MonkeyPatch, module: Any) -> Work:
    work = Work()
    for name, value in vars(module).items():
        if isinstance(value, re.Pattern):
            monkeypatch.setattr(module, name, _Counting(name, value, work))
            work.patterns += 1
    return work


def counting(name: str, pattern: re.Pattern[Any], work: Work) -> Any:
    """One pattern's proxy, for patterns held in data structures rather than globals."""
    return _Counting(name, pattern, work)
