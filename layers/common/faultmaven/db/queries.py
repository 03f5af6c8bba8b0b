"""Small SQL helpers shared by the stores."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def count_rows(session: Session, query: Select[Any]) -> int:
    """How many rows `query` returns, for a page's `total`."""
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def page_of(
    session: Session, query: Select[Any], *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of `query` (already ordered) and the total it pages through."""
    return list(session.scalars(query.limit(limit).offset(offset))), count_rows(session, query)
