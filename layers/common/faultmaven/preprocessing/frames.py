"""The shape of a Python traceback frame, shared by the classifier and the log analyzer.

`  File "/app/db.py", line 42, in acquire`. Python indents frames by two spaces, but logs
that went through a shipper, a terminal copy or a `strip()` often lost the indentation:
the frame is still a frame, so indentation is optional. A file name is never empty
(`<stdin>`, `<frozen importlib._bootstrap>` at least), so an empty one is not a frame.
Written with escaped blanks so that it reads the same inside a re.VERBOSE pattern.
"""

from __future__ import annotations

import re


def _frame(file: str, line: str) -> str:
    return rf'[ \t]*File\ "{file}",\ line\ {line}'


PY_FRAME_LEAD = _frame('[^"]+', "")
"""The frame up to its line number, for patterns that run on lines whose digits are masked."""

PY_FRAME = re.compile(_frame('(?P<file>[^"]+)', r"(?P<line>\d+)") + r"(?:,\ in\ (?P<func>.+))?")
"""A whole frame: file, line and (when printed) function."""
