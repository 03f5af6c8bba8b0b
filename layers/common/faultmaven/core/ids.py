"""Identifiers: a short type prefix plus 128 random bits, so an id in a log says what it is."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
