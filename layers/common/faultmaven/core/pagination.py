"""Pagination for every list: `page`, `page_size` (1-100) in, a `Page` envelope out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

MAX_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = 20
    # Clients that page by limit/offset may start anywhere, not only on a page boundary.
    start: int | None = None

    @property
    def offset(self) -> int:
        return self.start if self.start is not None else (self.page - 1) * self.page_size

    @classmethod
    def window(cls, offset: int, limit: int) -> PageRequest:
        return cls(page=offset // limit + 1, page_size=limit, start=offset)


async def page_params(
    page: int = Query(1, ge=1, le=1_000_000, description="1-based page number"),
    page_size: int = Query(20, ge=1, le=MAX_PAGE_SIZE, description="items per page"),
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    total_pages: int

    @classmethod
    def of(cls, items: Sequence[T], total: int, request: PageRequest) -> Page[T]:
        return cls(
            items=list(items),
            total=total,
            page=request.page,
            page_size=request.page_size,
            total_pages=math.ceil(total / request.page_size) if total else 0,
        )
