"""Domain events, delivered synchronously in-process.

A domain announces what happened ("case deleted", "evidence chunks stored") without
knowing who cares; the composition root subscribes the listeners. That keeps the
dependency graph a tree: the knowledge domain needs cases (access checks), so cases
cannot call knowledge back, but knowledge can listen to what cases announce.

Listeners run in the publisher's thread, in subscription order, and their exceptions
reach the publisher, which decides whether a failure undoes its work (indexing a
file's chunks) or is only logged (forgetting a deleted case's memory).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")


class Events:
    def __init__(self) -> None:
        self._listeners: defaultdict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, kind: type[E], listener: Callable[[E], None]) -> None:
        self._listeners[kind].append(listener)

    def publish(self, event: object) -> None:
        for listener in self._listeners.get(type(event), ()):
            listener(event)
