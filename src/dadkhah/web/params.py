"""Parameters many routes share: paging through a list, and the ids of rows in a path.

One page of a list is asked for by ``page`` (from 1) and ``per_page`` (up to :data:`MAX_PER_PAGE`;
the application's page size when not given). A document function fetches one row more than it
shows, which tells whether there is a next page without counting them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam

MAX_PAGE = 1_000_000  # keeps the offset within a 64-bit integer whatever page is asked for
MAX_PER_PAGE = 200

# A row's id: positive and within the database's 64-bit integers (bigger ones are a 422, not a crash).
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


@dataclass(frozen=True)
class Page:
    """Which page of a list to show, and how many rows a page holds."""

    number: int = 1
    size: int = 50

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def fetch(self) -> int:
        """How many rows to ask for: one more than a page, to tell whether a next page exists."""
        return self.size + 1

    def document(self, key: str, rows: list) -> dict:
        """The page's rows under ``key``, with ``page``, ``per_page`` and ``has_next``."""
        return {key: rows[: self.size]} | self.describe(has_next=len(rows) > self.size)

    def describe(self, *, has_next: bool) -> dict:
        return {"page": self.number, "per_page": self.size, "has_next": has_next}


async def page_params(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE),
                      per_page: int | None = Query(None, ge=1, le=MAX_PER_PAGE)) -> Page:
    return Page(page, per_page or request.app.state.settings.page_size)


Paging = Annotated[Page, Depends(page_params)]
