"""Small SQL helpers shared by the stores."""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
