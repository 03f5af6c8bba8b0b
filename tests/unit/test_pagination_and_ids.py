"""Pagination arithmetic and identifier shapes."""

from __future__ import annotations

import pytest

from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.pagination import Page, PageRequest


@pytest.mark.parametrize(
    ("total", "size", "pages"), [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2), (100, 1, 100)]
)
def test_total_pages(total: int, size: int, pages: int) -> None:
    page = Page[int].of([], total, PageRequest(page=1, page_size=size))
    assert page.total_pages == pages


def test_offset() -> None:
    assert PageRequest(page=3, page_size=25).offset == 50


def test_ids() -> None:
    value = new_id("case")
    assert looks_like_id(value)
    assert looks_like_id(value, "case")
    assert not looks_like_id(value, "usr")
    for absurd in (
        "",
        "case_",
        "case_" + "0" * 31,
        "CASE_" + "0" * 32,
        "case_" + "0" * 32 + "\x00",
        "x" * 300,
    ):
        assert not looks_like_id(absurd)
