"""Keyset pagination: stable, fast at millions of rows (no OFFSET scans)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items and the cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: int | None


def clamp_limit(limit: int | None, default: int = 50) -> int:
    """Return a page size between 1 and MAX_LIMIT."""
    if limit is None:
        return default
    return max(1, min(int(limit), MAX_LIMIT))
