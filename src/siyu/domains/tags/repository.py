"""SQL for tags and the tags customers hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.domains.tags.models import CustomerTag, InterestScore, Tag, TagGroup, TagRule

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


# -- groups, rule tags, holds by tag ------------------------------------------------------------


def group_by_name(session: Session, name: str) -> TagGroup | None:
    """Return the tag group called ``name``."""
    return session.scalar(select(TagGroup).where(TagGroup.name == name))


def add_group(session: Session, group: TagGroup) -> None:
    """Stage a tag group and flush it."""
    session.add(group)
    session.flush()


def groups_with_counts(session: Session) -> list[tuple[TagGroup | None, str, int]]:
    """Return (group row or None for a name only tags carry, name, number of tags), by name."""
    counts = dict(session.execute(select(Tag.group_name, func.count()).group_by(Tag.group_name)).all())
    rows = {g.name: g for g in session.scalars(select(TagGroup))}
    return [(rows.get(name), name, int(counts.get(name, 0))) for name in sorted(set(counts) | set(rows))]


def rename_group(session: Session, old: str, new: str) -> None:
    """Rename a group and move its tags with it."""
    session.execute(update(TagGroup).where(TagGroup.name == old).values(name=new))
    session.execute(update(Tag).where(Tag.group_name == old).values(group_name=new))


def group_tag_ids(session: Session, group_name: str) -> list[int]:
    """Return the ids of the tags of a group."""
    return list(session.scalars(select(Tag.id).where(Tag.group_name == group_name)))


def holders(session: Session, tag_id: int, among: Sequence[int] | None = None, source: str | None = None) -> set[int]:
    """Return the customer rows holding a tag now (only those among ``among``; only from ``source``)."""
    query = select(CustomerTag.customer_id).where(CustomerTag.tag_id == tag_id, CustomerTag.removed_at.is_(None))
    if source is not None:
        query = query.where(CustomerTag.source == source)
    if among is None:
        return set(session.scalars(query))
    found: set[int] = set()
    for part in _parts(among):
        found.update(session.scalars(query.where(CustomerTag.customer_id.in_(part))))
    return found


def release_many(session: Session, tag_ids: Sequence[int], customer_ids: Iterable[int], at: datetime,
                 source: str | None = None) -> int:
    """End the holds of these tags by these customers (of one source when given); return how many."""
    total = 0
    for part in _parts(customer_ids):
        query = (update(CustomerTag).where(CustomerTag.tag_id.in_(list(tag_ids)), CustomerTag.customer_id.in_(part),
                                           CustomerTag.removed_at.is_(None)).values(removed_at=at)
                 .execution_options(synchronize_session=False))
        if source is not None:
            query = query.where(CustomerTag.source == source)
        total += int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]
    return total


def tag_counts(session: Session) -> dict[int, int]:
    """Return {tag_id: customer rows holding it now}."""
    return dict(session.execute(select(CustomerTag.tag_id, func.count()).where(CustomerTag.removed_at.is_(None))
                                .group_by(CustomerTag.tag_id)).all())


def rule_of(session: Session, tag_id: int) -> TagRule | None:
    """Return a rule tag's rule row."""
    return session.get(TagRule, tag_id)


def rule_body(session: Session, tag_id: int) -> dict[str, Any] | None:
    """Return a rule tag's stored rule (None: no rule)."""
    return session.scalar(select(TagRule.rule).where(TagRule.tag_id == tag_id))


def rules_with_tags(session: Session) -> list[tuple[TagRule, Tag]]:
    """Return every rule tag's rule with its tag, by tag id."""
    return [(r, t) for r, t in session.execute(select(TagRule, Tag).join(Tag, Tag.id == TagRule.tag_id)
                                               .order_by(Tag.id))]


def add_rule(session: Session, rule: TagRule) -> None:
    """Stage a rule tag's rule."""
    session.add(rule)
    session.flush()


def set_rule_state(session: Session, tag_id: int, **values: Any) -> None:
    """Write a rule tag's rule or freshness columns."""
    session.execute(update(TagRule).where(TagRule.tag_id == tag_id).values(**values)
                    .execution_options(synchronize_session=False))


def history(session: Session, tag_id: int, customer_id: int | None, limit: int) -> list[CustomerTag]:
    """Return holds of a tag (open and closed), newest first, of one customer row or all."""
    query = select(CustomerTag).where(CustomerTag.tag_id == tag_id).order_by(CustomerTag.id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(CustomerTag.customer_id == customer_id)
    return list(session.scalars(query))


def by_id(session: Session, tag_id: int) -> Tag | None:
    """Return one tag."""
    return session.get(Tag, tag_id)


def set_group(session: Session, tag_id: int, group_name: str) -> None:
    """Move a tag to another group."""
    session.execute(update(Tag).where(Tag.id == tag_id).values(group_name=group_name))


def replace_interest_scores(session: Session, customer_ids: Sequence[int] | None,
                            rows: Sequence[dict[str, Any]]) -> None:
    """Replace the interest scores of these customers (None: of everyone) with ``rows``."""
    if customer_ids is None:
        session.execute(delete(InterestScore))
    for part in _parts(customer_ids or []):
        session.execute(delete(InterestScore).where(InterestScore.customer_id.in_(part)))
    if rows:
        session.execute(insert(InterestScore.__table__), list(rows))


def interest_scores(session: Session, customer_ids: Sequence[int]) -> list[InterestScore]:
    """Return the interest scores of these customers, highest first."""
    out: list[InterestScore] = []
    for part in _parts(customer_ids):
        out.extend(session.scalars(select(InterestScore).where(InterestScore.customer_id.in_(part))))
    return sorted(out, key=lambda s: (s.customer_id, -s.score, s.topic))


def interest_customers(session: Session) -> set[int]:
    """Return the customers with interest scores or open interest holds."""
    scored = select(InterestScore.customer_id).distinct()
    holding = select(CustomerTag.customer_id).where(CustomerTag.source == "interest", CustomerTag.removed_at.is_(None))
    return set(session.scalars(scored.union(holding)))


def open_holds_from(session: Session, source: str, among: Sequence[int] | None) -> list[tuple[int, int]]:
    """Return (customer_id, tag_id) of the open holds from ``source`` (only of ``among`` when given)."""
    query = select(CustomerTag.customer_id, CustomerTag.tag_id).where(CustomerTag.source == source,
                                                                      CustomerTag.removed_at.is_(None))
    if among is None:
        return [(c, t) for c, t in session.execute(query)]
    out: list[tuple[int, int]] = []
    for part in _parts(among):
        out.extend((c, t) for c, t in session.execute(query.where(CustomerTag.customer_id.in_(part))))
    return out


def release_pairs(session: Session, pairs: Sequence[tuple[int, int]], at: datetime, source: str) -> None:
    """End the open holds (customer_id, tag_id) from ``source``."""
    by_tag: dict[int, list[int]] = {}
    for customer_id, tag_id in pairs:
        by_tag.setdefault(tag_id, []).append(customer_id)
    for tag_id, customers in by_tag.items():
        release_many(session, [tag_id], customers, at, source=source)
