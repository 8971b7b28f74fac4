"""All SQL of the identity graph: bulk look-ups, inserts and the moves a merge or split makes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from siyu.db.bulk import allocate_ids, chunks, insert_ignore, insert_with_ids, is_postgres, select_in, write_rows
from siyu.domains.customers import Customer
from siyu.domains.identity.fresh import CUSTOMER_COLUMNS, IDENTITY_COLUMNS, LINK_COLUMNS
from siyu.domains.identity.models import Identity, IdentityBlock, IdentityIssue, IdentityLink, Merge

GRAPH_LOCK_KEY = 0x5159_0001  # one advisory lock serialises writers of the identity graph on PostgreSQL

IDENT_COLS = (Identity.id, Identity.kind, Identity.lookup, Identity.customer_id)


def lock_graph(session: Session) -> None:
    """Serialise identity-graph writers for this transaction (SQLite's BEGIN IMMEDIATE already does)."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": GRAPH_LOCK_KEY})


def identities_by_lookup(session: Session, lookups: Iterable[str]) -> list[Any]:
    """Return (id, kind, lookup, customer_id) of the identities with these blind indexes."""
    return select_in(session, "SELECT id, kind, lookup, customer_id FROM identities WHERE lookup IN ({marks})",
                     list(lookups))


def identities_of_kind(session: Session, customer_ids: Iterable[int], kind: str) -> list[Any]:
    """Return (customer_id, value, value_enc) of these customers' identities of ``kind``, oldest first.

    A merged-away id answers with its survivor's identities (a merge moves them there), under the id asked.
    """
    holder = func.coalesce(Customer.merged_into_id, Customer.id)
    rows: list[Any] = []
    for part in chunks(list(customer_ids)):
        rows.extend(session.execute(select(Customer.id, Identity.value, Identity.value_enc)
                                    .join(Identity, Identity.customer_id == holder)
                                    .where(Customer.id.in_(part), Identity.kind == kind)
                                    .order_by(Identity.id)).all())
    return rows


def identities_of_customers(session: Session, customer_ids: Iterable[int]) -> list[Any]:
    """Return (id, kind, lookup, customer_id) of every identity held by these customers."""
    ids = list(customer_ids)
    rows: list[Any] = []
    for part in chunks(ids):
        rows.extend(session.execute(select(*IDENT_COLS).where(Identity.customer_id.in_(part))).all())
    return rows


def block_pairs(session: Session, identity_ids: list[int]) -> set[tuple[int, int]]:
    """Return the operator blocks (a_id < b_id) touching any of these identities."""
    if not identity_ids:
        return set()
    pairs: set[tuple[int, int]] = set()
    for part in chunks(identity_ids, 1000):
        rows = session.execute(select(IdentityBlock.a_id, IdentityBlock.b_id).where(
            or_(IdentityBlock.a_id.in_(part), IdentityBlock.b_id.in_(part))))
        pairs.update((a, b) for a, b in rows)
    return pairs


def insert_customers(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert customers and return their ids in the order given."""
    return insert_with_ids(session, Customer.__table__, rows)


def new_customer_ids(session: Session, count: int) -> list[int]:
    """Reserve ids for ``count`` customers this transaction inserts."""
    return allocate_ids(session, Customer.__table__, count)


def new_identity_ids(session: Session, count: int) -> list[int]:
    """Reserve ids for ``count`` identities this transaction inserts."""
    return allocate_ids(session, Identity.__table__, count)


def write_customers(session: Session, rows: list[tuple[Any, ...]], now: Any) -> None:
    """Insert new customers given as tuples of ``fresh.CUSTOMER_COLUMNS`` in storage form (one executemany),
    created at ``now`` (storage form) with no profile yet."""
    if rows:
        write_rows(session, Customer.__tablename__, list(CUSTOMER_COLUMNS), rows,
                   constants={"created_at": now, "updated_at": now, "gender": "unknown", "attributes": "{}"})


def write_identities(session: Session, rows: list[tuple[Any, ...]], now: Any) -> None:
    """Insert identities given as tuples of ``fresh.IDENTITY_COLUMNS`` in storage form, created at ``now``."""
    if rows:
        write_rows(session, Identity.__tablename__, list(IDENTITY_COLUMNS), rows, constants={"created_at": now})


def write_links(session: Session, rows: list[tuple[Any, ...]], now: Any) -> None:
    """Insert links given as tuples of ``fresh.LINK_COLUMNS`` in storage form, created at ``now``, skipping pairs
    already linked."""
    if rows:
        write_rows(session, IdentityLink.__tablename__, list(LINK_COLUMNS), rows, ["a_id", "b_id"],
                   constants={"created_at": now})


def move_identities(session: Session, to_customer: dict[int, list[int]]) -> None:
    """Point identities at new customers: ``{customer_id: [identity ids]}`` (one executemany)."""
    rows = [{"iid": iid, "cid": cid} for cid, identity_ids in to_customer.items() for iid in identity_ids]
    if rows:
        table = Identity.__table__
        session.connection().execute(update(table).where(table.c.id == bindparam("iid"))
                                     .values(customer_id=bindparam("cid")), rows)


PROFILE_COLUMNS = ("name_enc", "name_idx", "name_masked", "gender", "birthday", "region", "city",
                   "source_platform", "source_channel_code_id", "first_seen_at")


def absorb_profiles(session: Session, pairs: list[tuple[int, int]], now: datetime) -> None:
    """Apply many (survivor, merged) absorbs in order with one read and one executemany.

    Each survivor keeps its profile fields and fills the empty ones (gender 'unknown' counts as
    empty) from the merged customer; first_seen_at becomes the earlier one.
    """
    if not pairs:
        return
    ids = sorted({x for pair in pairs for x in pair})
    cols = [getattr(Customer, c) for c in PROFILE_COLUMNS]
    profiles: dict[int, dict[str, Any]] = {}
    for part in chunks(ids):
        for row in session.execute(select(Customer.id, *cols).where(Customer.id.in_(part))):
            profiles[row[0]] = dict(zip(PROFILE_COLUMNS, row[1:], strict=True))
    touched: set[int] = set()
    for survivor, merged in pairs:
        into, src = profiles[survivor], profiles[merged]
        for col in PROFILE_COLUMNS[:-1]:
            if into[col] is None or (col == "gender" and into[col] == "unknown"):
                into[col] = src[col]
        into["first_seen_at"] = min(into["first_seen_at"], src["first_seen_at"])
        touched.add(survivor)
    table = Customer.__table__
    stmt = update(table).where(table.c.id == bindparam("cid")).values(
        **{c: bindparam(f"v_{c}") for c in PROFILE_COLUMNS}, updated_at=now)
    session.connection().execute(stmt, [{"cid": cid, **{f"v_{c}": profiles[cid][c] for c in PROFILE_COLUMNS}}
                                        for cid in sorted(touched)])


def mark_merged_many(session: Session, pairs: list[tuple[int, int]], now: datetime) -> None:
    """For each (merged, root): point the merged customer and its tombstones at the live root."""
    if not pairs:
        return
    table = Customer.__table__
    stmt = update(table).where(or_(table.c.id == bindparam("mid"), table.c.merged_into_id == bindparam("mid"))) \
        .values(merged_into_id=bindparam("root"), updated_at=now)
    session.connection().execute(stmt, [{"mid": m, "root": r} for m, r in pairs])


def revive(session: Session, customer_id: int, now: datetime) -> None:
    """Make a tombstone live again (after an unmerge)."""
    session.execute(update(Customer).where(Customer.id == customer_id).values(merged_into_id=None, updated_at=now))


def repoint_tombstones(session: Session, ids: list[int], root_id: int, now: datetime) -> None:
    """Point these tombstones at ``root_id``."""
    for part in chunks(ids):
        session.execute(update(Customer).where(Customer.id.in_(part)).values(merged_into_id=root_id, updated_at=now))


def insert_merges(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert merge records."""
    if rows:
        session.execute(Merge.__table__.insert(), rows)


def insert_links(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert identity links, skipping pairs already linked."""
    insert_ignore(session, IdentityLink.__table__, rows, ["a_id", "b_id"])


def insert_blocks(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert operator blocks, skipping pairs already blocked."""
    insert_ignore(session, IdentityBlock.__table__, rows, ["a_id", "b_id"])


def insert_issues(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert review-queue entries."""
    if rows:
        session.execute(IdentityIssue.__table__.insert(), rows)


def customer(session: Session, customer_id: int) -> Customer | None:
    """Return one customer row (live or tombstone)."""
    return session.get(Customer, customer_id)


def identities(session: Session, customer_id: int) -> list[Identity]:
    """Return the identity rows of one customer, oldest first."""
    return list(session.scalars(select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)))


def identity_rows(session: Session, identity_ids: list[int]) -> list[Identity]:
    """Return identity rows by id."""
    return list(session.scalars(select(Identity).where(Identity.id.in_(identity_ids))))


def identity_by_lookup(session: Session, lookup: str) -> Identity | None:
    """Return the identity with this blind index."""
    return session.scalar(select(Identity).where(Identity.lookup == lookup))


def links_among(session: Session, identity_ids: list[int]) -> list[IdentityLink]:
    """Return links touching any of these identities."""
    cond = or_(IdentityLink.a_id.in_(identity_ids), IdentityLink.b_id.in_(identity_ids))
    return list(session.scalars(select(IdentityLink).where(cond).order_by(IdentityLink.id)))


def blocks_among(session: Session, identity_ids: list[int]) -> list[IdentityBlock]:
    """Return blocks touching any of these identities."""
    cond = or_(IdentityBlock.a_id.in_(identity_ids), IdentityBlock.b_id.in_(identity_ids))
    return list(session.scalars(select(IdentityBlock).where(cond).order_by(IdentityBlock.id)))


def merges_of(session: Session, customer_ids: list[int]) -> list[Merge]:
    """Return merges where these customers survived or were merged, oldest first."""
    cond = or_(Merge.survivor_id.in_(customer_ids), Merge.merged_id.in_(customer_ids))
    return list(session.scalars(select(Merge).where(cond).order_by(Merge.id)))


def merge(session: Session, merge_id: int) -> Merge | None:
    """Return one merge record."""
    return session.get(Merge, merge_id)


def tombstones_of(session: Session, root_id: int) -> list[int]:
    """Return ids of customers merged (directly or not) into ``root_id``."""
    return list(session.scalars(select(Customer.id).where(Customer.merged_into_id == root_id)))


def active_merge_parents(session: Session, merged_ids: list[int]) -> dict[int, int]:
    """Return merged_id → direct survivor for merges not undone."""
    rows = session.execute(select(Merge.merged_id, Merge.survivor_id)
                           .where(Merge.merged_id.in_(merged_ids), Merge.undone_at.is_(None))).all()
    return {m: s for m, s in rows}


def issues(session: Session, *, status: str | None, category: str | None, limit: int, before: int | None) -> list[IdentityIssue]:
    """Return review-queue entries, newest first."""
    return list(session.scalars(issues_query(status=status, category=category, limit=limit, before=before)))


def issues_query(*, status: str | None, category: str | None, limit: int, before: int | None) -> Select[Any]:
    """Return the query of :func:`issues`: the page's ids first, then their rows.

    SQLite (no statistics) takes a status from the (status, created_at) index and sorts what it finds
    by id: selecting whole rows, it sorted every open entry's row for the first 50 (81k open on the 1M
    store: 167 ms); the ids alone come from the index and sort in 14 ms, and only the page's rows are read.
    """
    ids = select(IdentityIssue.id).order_by(IdentityIssue.id.desc()).limit(limit)
    if status:
        ids = ids.where(IdentityIssue.status == status)
    if category:
        ids = ids.where(IdentityIssue.category == category)
    if before:
        ids = ids.where(IdentityIssue.id < before)
    return select(IdentityIssue).where(IdentityIssue.id.in_(ids)).order_by(IdentityIssue.id.desc())


def issues_of(session: Session, customer_ids: list[int]) -> list[IdentityIssue]:
    """Return review entries naming these customers."""
    cond = or_(IdentityIssue.customer_id.in_(customer_ids), IdentityIssue.other_customer_id.in_(customer_ids))
    return list(session.scalars(select(IdentityIssue).where(cond).order_by(IdentityIssue.id)))


def issue(session: Session, issue_id: int) -> IdentityIssue | None:
    """Return one review entry."""
    return session.get(IdentityIssue, issue_id)
