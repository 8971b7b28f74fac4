"""All SQL of the customers domain: profile writes, source attribution and scoped reads.

Staff scoping lives here, not in services or endpoints: every read of a customer takes
``staff_scope`` (the caller's ``Principal.scoped_staff_id``) as a required keyword and adds the
visibility predicate (an active follow relation of that staff member over any identity of the
customer) to the same statement, so no caller can forget it. A scoped caller asking for a customer
it does not follow gets the same "not found" as for an id that does not exist.

Single-customer reads check visibility with a correlated EXISTS that starts from the customer's
identities (a few index probes). SQLite has no statistics here, and given ``staff_id = ? AND
removed_at IS NULL`` it prefers the (staff_id, removed_at) index and walks every contact of the staff
member (0.3 s for one with 229k contacts at 1M customers); the probe's predicates on the follow side
are therefore written ``column + 0 = ?``, which no index can serve, so the join runs
customer → identities → ownerships.

Listings are keyset-paginated on ``id`` (newest first) and answered in up to two steps when a
relational filter (staff scope, owner, group, channel code, tag) is set:

1. a *probe* of the newest ``PROBE_WINDOW`` ids below the cursor, each filter a correlated EXISTS
   (per customer, a few index probes; walking ids newest first stops as soon as the page is full).
   A filter that holds for more than a few percent of the customers (a busy staff member's
   contacts, a popular tag or code) fills the page here;
2. otherwise, the older rest with every filter an uncorrelated ``id IN (sub-query)``, computed once:
   its cost grows with the size of the set, which step 1 not filling the page says is small (or
   old). A correlated EXISTS over the whole table would make a sparse filter probe every customer.

Both steps return the newest matches in their id range, so their concatenation is exactly the
page a single query would give. A selective look-up (identity, name) skips step 1. Measured at 1M
customers (SQLite): a page of the busiest staff member's customers 1 ms (was 0.39 s with the set
alone), an empty window of 20k ids ~15 ms; a narrow, old ``added_from``/``added_to`` window still
walks ids newest first (~0.2 s).

Tags are held by customer rows, and a merge leaves them on the tombstone (so an unmerge takes them
back): the tag filter therefore counts the tags of a customer's tombstones as its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, any_, bindparam, exists, func, literal, select, true, union_all, update
from sqlalchemy.orm import Session, aliased

from siyu.db.bulk import chunks, fast_update, select_in
from siyu.domains.customers import activity_repository as activity
from siyu.domains.customers.models import Consent, Customer, FollowUpNote
from siyu.domains.customers.schemas import NONE, CustomerFilter
from siyu.domains.groups import CustomerGroup, GroupMembership
from siyu.domains.identity import Identity
from siyu.domains.staff import Ownership, Staff
from siyu.domains.tags import CustomerTag, Tag

_Holder = aliased(Customer, name="tag_holder")
PROBE_WINDOW = 20_000  # ids probed per page before the set-based step (see the docstring)


def live_root_id(session: Session, customer_id: int) -> int | None:
    """Return the live customer a (possibly merged) id stands for, or None if the id is unknown."""
    return session.scalar(select(func.coalesce(Customer.merged_into_id, Customer.id)).where(Customer.id == customer_id))


def live_roots(session: Session, customer_ids: Iterable[int]) -> dict[int, int]:
    """Return {id: live root id} for the known ids among ``customer_ids``."""
    session.flush()  # a driver-level look-up (hot in imports): nothing pending may be missed
    sql = 'SELECT id, COALESCE(merged_into_id, id) FROM customers WHERE id IN ({marks})'
    return dict(select_in(session, sql, sorted(set(customer_ids))))  # type: ignore[arg-type]


def roots_and_attributes(session: Session, customer_ids: Iterable[int]) -> tuple[dict[int, int], dict[int, Any]]:
    """Return {id: live root id} for the known ids, and the stored custom attributes of those that are live roots
    (as stored: JSON text on SQLite; read them with :func:`decoded_attributes`), in one look-up."""
    session.flush()  # a driver-level look-up (hot in imports): nothing pending may be missed
    rows = select_in(session, 'SELECT id, merged_into_id, attributes FROM customers WHERE id IN ({marks})',
                     sorted(set(customer_ids)))
    return ({cid: merged or cid for cid, merged, _a in rows},
            {cid: attrs for cid, merged, attrs in rows if merged is None})


PROFILE_COLUMNS = ("attributes", "name_idx", "gender", "birthday", "region", "city")


def roots_and_profiles(session: Session, customer_ids: Iterable[int]) -> tuple[dict[int, int], dict[int, tuple[Any, ...]]]:
    """Return {id: live root id} for the known ids, and the stored PROFILE_COLUMNS of those that are live roots
    (as stored: attributes as :func:`roots_and_attributes` gives them, birthday as text on SQLite), in one look-up."""
    session.flush()  # a driver-level look-up (hot in imports): nothing pending may be missed
    rows = select_in(session, f'SELECT id, merged_into_id, {", ".join(PROFILE_COLUMNS)} FROM customers '
                     'WHERE id IN ({marks})', sorted(set(customer_ids)))
    return ({row[0]: row[1] or row[0] for row in rows}, {row[0]: row[2:] for row in rows if row[1] is None})


def decoded_attributes(stored: Any) -> dict[str, Any]:
    """Return custom attributes as :func:`roots_and_attributes` read them, decoded."""
    # SQLite hands JSON over as text, PostgreSQL's driver as the decoded value
    return (orjson.loads(stored) if isinstance(stored, str) else stored) or {}


def attributes_of(session: Session, customer_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Return {id: custom attributes} of these customers."""
    session.flush()  # a driver-level look-up (hot in imports): nothing pending may be missed
    rows = select_in(session, 'SELECT id, attributes FROM customers WHERE id IN ({marks})', list(customer_ids))
    return {cid: decoded_attributes(attrs) for cid, attrs in rows}


def set_source_if_empty(session: Session, customer_id: int, channel_code_id: int | None,
                        platform: str | None, now: datetime) -> bool:
    """Record the source on a customer that has none yet; return whether a row changed."""
    result = session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.source_platform.is_(None),
               Customer.source_channel_code_id.is_(None))
        .values(source_channel_code_id=channel_code_id, source_platform=platform, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def set_sources_if_empty(session: Session, rows: list[tuple[int, int | None, str | None]], now: datetime) -> None:
    """Record (customer, code, platform) sources on customers that have none yet, in one executemany."""
    if not rows:
        return
    table = Customer.__table__
    stmt = (update(table)
            .where(table.c.id == bindparam("cid"), table.c.source_platform.is_(None),
                   table.c.source_channel_code_id.is_(None))
            .values(source_channel_code_id=bindparam("code"), source_platform=bindparam("platform"), updated_at=now))
    session.connection().execute(stmt, [{"cid": c, "code": code, "platform": p} for c, code, p in rows])


def update_fields(session: Session, customer_id: int, values: dict[str, Any]) -> None:
    """Write profile columns of one customer."""
    session.execute(update(Customer).where(Customer.id == customer_id).values(**values)
                    .execution_options(synchronize_session=False))


def _followed_by(staff_id: Any) -> Select[tuple[int]]:
    return (select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id)
            .where(Ownership.staff_id == staff_id, Ownership.removed_at.is_(None)))


def update_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write profile columns of many customers: dicts of ``id`` and the columns to set."""
    session.flush()  # the driver-level statement below does not autoflush
    fast_update(session, Customer.__table__, rows)  # type: ignore[arg-type]  # one executemany per set of columns


def _unindexed(column: Any) -> ColumnElement[Any]:
    """Return ``column + 0``: the same value, but no index can serve a predicate on it (see the docstring)."""
    return column + 0


def visible(staff_scope: int | None) -> ColumnElement[bool]:
    """Return "the scoped staff member actively follows this customer" as a correlated EXISTS (true if unscoped)."""
    if staff_scope is None:
        return true()
    return exists(select(1).select_from(Identity).join(Ownership, Ownership.identity_id == Identity.id)
                  .where(Identity.customer_id == Customer.id, _unindexed(Ownership.staff_id) == staff_scope,
                         Ownership.removed_at.is_(None)))


def get_live(session: Session, customer_id: int, *, staff_scope: int | None) -> Customer | None:
    """Return the live customer ``customer_id`` stands for (following a merge) if the caller may see it."""
    root = select(func.coalesce(Customer.merged_into_id, Customer.id)).where(Customer.id == customer_id)
    query = select(Customer).where(Customer.id == root.scalar_subquery(), Customer.merged_into_id.is_(None),
                                   visible(staff_scope))
    return session.scalar(query)


def _bounded_set(sub: Select[tuple[int]], postgres: bool) -> ColumnElement[bool]:
    """Return ``customers.id IN (sub)`` for a set bounded by platform limits (a staff member's contacts,
    a group's members). On PostgreSQL it is written ``= ANY(ARRAY(sub))`` so the set is computed once
    and drives the primary-key scan: otherwise the planner, misjudging a small staff member for an
    average one, walks the whole table backwards hoping to fill the page early."""
    if postgres:
        return Customer.id == any_(func.array(sub.scalar_subquery()))
    return Customer.id.in_(sub)


def _tagged(name: str) -> ColumnElement[bool]:
    holders = (select(func.coalesce(_Holder.merged_into_id, _Holder.id))
               .select_from(CustomerTag).join(Tag, Tag.id == CustomerTag.tag_id)
               .join(_Holder, _Holder.id == CustomerTag.customer_id)
               .where(Tag.name == name, CustomerTag.removed_at.is_(None)))
    return Customer.id.in_(holders)


def _relational(f: CustomerFilter, keys: _Keys | None, staff_scope: int | None,
                postgres: bool) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if staff_scope is not None and f.identity_lookup is not None:
        out.append(visible(staff_scope))  # at most one customer: probe it rather than build the set
    elif staff_scope is not None:
        out.append(_bounded_set(_followed_by(staff_scope), postgres))
    if f.owner is not None:
        out.append(_bounded_set(_followed_by(select(Staff.id).where(Staff.userid == f.owner).scalar_subquery()),
                                postgres))
    if f.group is not None:
        group = select(CustomerGroup.id).where(CustomerGroup.chat_id == f.group).scalar_subquery()
        members = (select(Identity.customer_id).join(GroupMembership, GroupMembership.identity_id == Identity.id)
                   .where(GroupMembership.group_id == group, GroupMembership.left_at.is_(None)))
        out.append(_bounded_set(members, postgres))
    if f.identity_lookup is not None:
        out.append(Customer.id.in_(select(Identity.customer_id).where(Identity.lookup == f.identity_lookup)))
    if f.channel_code is not None:
        out.append(Customer.id.in_(select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id)
                                   .where(Ownership.channel_code_id == f.channel_code)))
    if f.tag is not None:
        out.append(_tagged(f.tag))
    if f.activity is not None and keys is not None:
        out.append(activity.members(f.activity, keys.activity, postgres=postgres))
    return out


@dataclass(frozen=True, slots=True)
class _Keys:
    """The ids a filter's names stand for, looked up before the probe (None: the filter is not set)."""

    owner: int | None
    group: int | None
    tag: int | None
    activity: activity.ActivityKeys = activity.ActivityKeys()


def _keys(session: Session, f: CustomerFilter) -> _Keys | None:
    """Return the ids of the filter's owner, group and tag, or None when one of them names nothing (no match)."""
    owner = group = tag = None
    if f.owner is not None and (owner := session.scalar(select(Staff.id).where(Staff.userid == f.owner))) is None:
        return None
    if f.group is not None and (group := session.scalar(
            select(CustomerGroup.id).where(CustomerGroup.chat_id == f.group))) is None:
        return None
    if f.tag is not None and (tag := session.scalar(select(Tag.id).where(Tag.name == f.tag))) is None:
        return None
    acts = activity.ActivityKeys()
    if f.activity is not None and f.activity.staff is not None:
        acts = activity.ActivityKeys(staff=session.scalar(select(Staff.id).where(Staff.userid == f.activity.staff)))
        if acts.staff is None:
            return None
    if f.activity is not None and f.activity.group is not None:
        acts = activity.ActivityKeys(group=session.scalar(
            select(CustomerGroup.id).where(CustomerGroup.chat_id == f.activity.group)))
        if acts.group is None:
            return None
    return _Keys(owner=owner, group=group, tag=tag, activity=acts)


def _probes(f: CustomerFilter, keys: _Keys, staff_scope: int | None, postgres: bool) -> list[ColumnElement[bool]]:
    """Return the relational filters as correlated EXISTS, each answered from the row's customer id.

    On SQLite the columns naming the wanted staff member, group, code or tag are unindexed (see the
    module docstring); PostgreSQL plans them from its statistics (walking customers newest first in a
    merge semi-join) and is given them as they are.
    """
    off = (lambda column: column) if postgres else _unindexed
    out: list[ColumnElement[bool]] = []
    for staff_id in (staff_scope, keys.owner):
        if staff_id is not None:
            out.append(exists(select(1).select_from(Identity).join(Ownership, Ownership.identity_id == Identity.id)
                              .where(Identity.customer_id == Customer.id, off(Ownership.staff_id) == staff_id,
                                     Ownership.removed_at.is_(None))))
    if keys.group is not None:
        out.append(exists(select(1).select_from(Identity)
                          .join(GroupMembership, GroupMembership.identity_id == Identity.id)
                          .where(Identity.customer_id == Customer.id, off(GroupMembership.group_id) == keys.group,
                                 GroupMembership.left_at.is_(None))))
    if f.channel_code is not None:
        out.append(exists(select(1).select_from(Identity).join(Ownership, Ownership.identity_id == Identity.id)
                          .where(Identity.customer_id == Customer.id,
                                 off(Ownership.channel_code_id) == f.channel_code)))
    if keys.tag is not None:
        held = (off(CustomerTag.tag_id) == keys.tag, CustomerTag.removed_at.is_(None))
        # one EXISTS over both holders (the customer, its tombstones): an OR of two would let
        # PostgreSQL hash each whole set instead of probing this customer
        own = select(literal(1)).where(CustomerTag.customer_id == Customer.id, *held)
        tombstones = (select(literal(1)).select_from(_Holder).join(CustomerTag, CustomerTag.customer_id == _Holder.id)
                      .where(_Holder.merged_into_id == Customer.id, *held))
        out.append(exists(union_all(own, tombstones)))
    if f.activity is not None:
        out.append(activity.probe(f.activity, keys.activity, postgres=postgres))
    return out


def _columns(f: CustomerFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.name_lookup is not None:
        out.append(Customer.name_idx == f.name_lookup)
    if f.source == NONE:
        out.append(Customer.source_platform.is_(None))
    elif f.source is not None:
        out.append(Customer.source_platform == f.source)
    if f.added_from is not None:
        out.append(Customer.first_seen_at >= f.added_from)
    if f.added_to is not None:
        out.append(Customer.first_seen_at < f.added_to)
    return out


def list_query(f: CustomerFilter, keys: _Keys | None, *, staff_scope: int | None, before_id: int | None, limit: int,
               postgres: bool) -> Select[Any]:
    """Return the SELECT of one listing page: live, visible, filtered customers with id < before_id, newest first.

    With a relational filter, the sets it computes drive the query (primary-key look-ups of their ids,
    already in id order): ``merged_into_id`` is tested unindexed, since walking the (merged_into_id)
    index newest first probes every customer when the sets hold few (0.3 s at 1M on SQLite).
    """
    relational = _relational(f, keys, staff_scope, postgres)
    live = (_unindexed(Customer.merged_into_id) if relational else Customer.merged_into_id).is_(None)
    query = select(Customer).where(live, *relational, *_columns(f))
    if before_id is not None:
        query = query.where(Customer.id < before_id)
    return query.order_by(Customer.id.desc()).limit(limit)


def probe_query(f: CustomerFilter, keys: _Keys, *, staff_scope: int | None, below_id: int, from_id: int,
                limit: int, postgres: bool) -> Select[Any]:
    """Return the SELECT of step 1: live, visible, filtered customers with from_id <= id < below_id, newest first."""
    return (select(Customer)
            .where(Customer.merged_into_id.is_(None), Customer.id < below_id, Customer.id >= from_id,
                   *_probes(f, keys, staff_scope, postgres), *_columns(f))
            .order_by(Customer.id.desc()).limit(limit))


def _probed_first(f: CustomerFilter, staff_scope: int | None) -> bool:
    """Return whether a listing starts with the probe (step 1 in the docstring): a relational filter is set
    and no selective look-up is."""
    relational = any(v is not None for v in (staff_scope, f.owner, f.group, f.channel_code, f.tag, f.activity))
    return f.identity_lookup is None and f.name_lookup is None and relational


def list_page(session: Session, f: CustomerFilter, *, staff_scope: int | None, before_id: int | None,
              limit: int) -> list[Customer]:
    """Return one listing page: the newest live, visible, filtered customers with id < before_id."""
    postgres = session.get_bind().dialect.name == "postgresql"
    rows: list[Customer] = []
    keys = _keys(session, f) if f.activity is not None or _probed_first(f, staff_scope) else None
    if keys is None and f.activity is not None:
        return []  # it names a staff member or group that does not exist
    if _probed_first(f, staff_scope):
        if keys is None:
            return []
        below = before_id if before_id is not None else (session.scalar(select(func.max(Customer.id))) or 0) + 1
        before_id = max(below - PROBE_WINDOW, 0)
        rows = list(session.scalars(probe_query(f, keys, staff_scope=staff_scope, below_id=below, from_id=before_id,
                                                limit=limit, postgres=postgres)))
        if len(rows) >= limit or before_id <= 0:
            return rows
    query = list_query(f, keys, staff_scope=staff_scope, before_id=before_id, limit=limit - len(rows),
                       postgres=postgres)
    return rows + list(session.scalars(query))


def tombstone_ids(session: Session, customer_id: int) -> list[int]:
    """Return the ids of customers merged into ``customer_id``."""
    return list(session.scalars(select(Customer.id).where(Customer.merged_into_id == customer_id)))


def identity_pairs(session: Session, customer_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Return (identity id, customer id) of every identity the given live customers hold."""
    query = select(Identity.id, Identity.customer_id).where(Identity.customer_id.in_(list(customer_ids)))
    return [(a, b) for a, b in session.execute(query)]


def tombstone_pairs(session: Session, customer_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Return (tombstone id, survivor id) of the customers merged into the given ones."""
    query = select(Customer.id, Customer.merged_into_id).where(Customer.merged_into_id.in_(list(customer_ids)))
    return [(a, b) for a, b in session.execute(query)]


def insert_consents(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append consent facts."""
    if rows:
        session.execute(Consent.__table__.insert(), rows)


def latest_consents(session: Session, identity_ids: list[int]) -> list[Consent]:
    """Return the newest consent fact per (channel, purpose) given through any of these identities."""
    rows = session.scalars(select(Consent).where(Consent.identity_id.in_(identity_ids))
                           .order_by(Consent.recorded_at, Consent.id))
    latest: dict[tuple[str, str], Consent] = {}
    for row in rows:
        latest[(row.channel, row.purpose)] = row
    return sorted(latest.values(), key=lambda c: (c.channel, c.purpose))


def add_note(session: Session, note: FollowUpNote) -> None:
    """Stage a follow-up note and flush it so it has an id."""
    session.add(note)
    session.flush()


def notes_of(session: Session, customer_ids: list[int], limit: int) -> list[FollowUpNote]:
    """Return the newest follow-up notes written on these customer rows."""
    query = (select(FollowUpNote).where(FollowUpNote.customer_id.in_(customer_ids))
             .order_by(FollowUpNote.id.desc()).limit(limit))
    return list(session.scalars(query))
