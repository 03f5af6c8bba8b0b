"""Identifiers: a short type prefix plus 128 random bits, so an id in a log says what it is."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"^[a-z]{2,5}_[0-9a-f]{32}$")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def looks_like_id(value: str, prefix: str | None = None) -> bool:
    """False for anything `new_id` cannot have produced, so lookups of absurd ids (huge,
    NUL bytes, wrong type) end as "not found" without reaching the database."""
    if not _ID.match(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
