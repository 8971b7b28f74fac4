"""SQL for tags and the tags customers hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.domains.tags.models import CustomerTag, Tag

CHUNK = 2000


def _parts(values: Iterable[Any]) -> list[list[Any]]:
    items = sorted(set(values))
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def add(session: Session, tag: Tag) -> None:
    """Stage a new tag and flush it so it has an id."""
    session.add(tag)
    session.flush()


def by_name(session: Session, name: str) -> Tag | None:
    """Return the tag called ``name``."""
    return session.scalar(select(Tag).where(Tag.name == name))


def ids_by_name(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Return {name: id} of the existing tags among ``names``."""
    found: dict[str, int] = {}
    for part in _parts(names):
        found.update((a, b) for a, b in session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(part))))
    return found


def insert_missing(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert tags, skipping names that exist (safe against a concurrent insert)."""
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 500):
        stmt = dialect_insert(Tag).values(list(rows[start:start + 500]))
        session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


def list_tags(session: Session, kind: str | None) -> list[Tag]:
    """Return every tag (optionally of one kind) by group, then name."""
    query = select(Tag).order_by(Tag.group_name, Tag.name)
    if kind:
        query = query.where(Tag.kind == kind)
    return list(session.scalars(query))


def held_pairs(session: Session, customer_ids: Iterable[int], tag_ids: Iterable[int]) -> set[tuple[int, int]]:
    """Return the (customer_id, tag_id) pairs currently held among the given customers and tags."""
    # Filter by customer in SQL and by tag here: a customer holds few tags, while one channel tag may be
    # held by millions, so the (customer_id, tag_id) index must drive the plan, never the tag index.
    tags = set(tag_ids)
    held: set[tuple[int, int]] = set()
    if not tags:
        return held
    for part in _parts(customer_ids):
        query = select(CustomerTag.customer_id, CustomerTag.tag_id).where(
            CustomerTag.customer_id.in_(part), CustomerTag.removed_at.is_(None))
        held.update((c, t) for c, t in session.execute(query) if t in tags)
    return held


def insert_held(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert customer-tag rows in bulk."""
    if rows:
        session.execute(insert(CustomerTag.__table__), list(rows))


def release(session: Session, customer_id: int, tag_id: int, at: datetime) -> int:
    """End the customer's hold of a tag; return how many rows were open."""
    result = session.execute(
        update(CustomerTag)
        .where(CustomerTag.customer_id == customer_id, CustomerTag.tag_id == tag_id, CustomerTag.removed_at.is_(None))
        .values(removed_at=at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def held_names(session: Session, customer_ids: Iterable[int]) -> list[tuple[int, str]]:
    """Return (customer_id, tag name) of the tags the customers hold now."""
    rows: list[tuple[int, str]] = []
    for part in _parts(customer_ids):
        query = (select(CustomerTag.customer_id, Tag.name).join(Tag, Tag.id == CustomerTag.tag_id)
                 .where(CustomerTag.customer_id.in_(part), CustomerTag.removed_at.is_(None)))
        rows.extend((a, b) for a, b in session.execute(query))
    return rows
