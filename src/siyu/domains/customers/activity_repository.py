"""SQL of the listing's activity filters: customers who did something between two instants.

Part of the customers repository (:mod:`siyu.domains.customers.repository` calls it), kept apart
because it is long. Each filter is written twice, like the listing's other relational filters:

- ``probe``: a correlated EXISTS on the listed customer's id, answered from that customer's
  identities (a few index probes per customer), for walking the newest ids;
- ``members``: ``customers.id IN (…)``, the set of customers computed once from the facts' time
  indexes, for the older rest when the probe did not fill the page.

The definitions are those of the dashboard (:mod:`siyu.analytics.health`, moves in and out of the
private domain in :mod:`siyu.analytics.contributions`); a dashboard figure links to the list filtered
to exactly its customers, and the tests compare the two. A *connection* is a follow relation
``[added_at, removed_at)`` or a group stay ``[joined_at, left_at)`` of any identity of the customer:

- ``connected``: a connection open at ``end`` (open just before it: begun before, not ended before);
- ``entered``: a connection began in [start, end) while none was open just before that moment;
- ``lost``: a non-empty connection ended in [start, end) and none was open at that moment.

``active`` (any event) has no set form: events have no index on time alone (one would cost every
ingestion), so the older rest is walked with the probe as well; it stops as soon as the page is full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, union_all
from sqlalchemy.orm import aliased

from siyu.domains.customers.models import Customer
from siyu.domains.customers.schemas import ActivityFilter
from siyu.domains.events.models import Event
from siyu.domains.groups.models import GroupMembership
from siyu.domains.identity import Identity
from siyu.domains.orders.models import Order
from siyu.domains.staff.models import Ownership

PROBE_ONLY = frozenset({"active"})


@dataclass(frozen=True, slots=True)
class ActivityKeys:
    """The ids an activity filter's names stand for (None: not narrowed)."""

    staff: int | None = None
    group: int | None = None


def _held_by(ident: Any, customer: Any) -> list[ColumnElement[bool]]:
    return [] if customer is None else [ident.customer_id == customer]


CONNECTIONS = ((Ownership, "added_at", "removed_at"), (GroupMembership, "joined_at", "left_at"))


def _connections(customer: Any, condition: Callable[[Any, Any, Any], Any]) -> list[Select[Any]]:
    """Return, per kind of connection, the ids of customers with one meeting ``condition(identity, begins, ends)``."""
    out = []
    for table, begins, ends in CONNECTIONS:
        i, c = aliased(Identity), aliased(table)
        out.append(select(i.customer_id).select_from(i).join(c, c.identity_id == i.id)
                   .where(*_held_by(i, customer), condition(i, getattr(c, begins), getattr(c, ends))))
    return out


def _covers(start: Any, end: Any, at: Any, just_before: bool) -> ColumnElement[bool]:
    if just_before:
        return and_(start < at, or_(end.is_(None), end >= at))
    return and_(start <= at, or_(end.is_(None), end > at))


def _open_at(identity: Any, at: Any, *, just_before: bool) -> ColumnElement[bool]:
    """Return "a connection of the customer holding ``identity`` is open at ``at``" (or just before it).

    The identity's own connections are tested first: they settle almost every case (a customer's
    follow relations usually hang on one WeCom identity, and a transfer's successor always hangs on
    the same identity as the relation it ends) in one index range, before the customer's other
    identities are looked at.
    """
    parts = []
    for table, begins, ends in CONNECTIONS:  # correlate_except: ``identity`` may be several levels up
        c = aliased(table)
        parts.append(exists(select(1).select_from(c).where(
            c.identity_id == identity.id, _covers(getattr(c, begins), getattr(c, ends), at, just_before))
            .correlate_except(c)))
    for table, begins, ends in CONNECTIONS:
        i, c = aliased(Identity), aliased(table)
        parts.append(exists(select(1).select_from(i).join(c, c.identity_id == i.id).where(
            i.customer_id == identity.customer_id, _covers(getattr(c, begins), getattr(c, ends), at, just_before))
            .correlate_except(i, c)))
    return or_(*parts)


def _moved(a: ActivityFilter) -> Callable[[Any, Any, Any], Any]:
    """Return the condition "this connection's beginning (or end) is an entry (or a loss) in [start, end)"."""
    entering = a.kind == "entered"

    def moved(identity: Any, start: Any, end: Any) -> Any:
        at = start if entering else end
        not_empty = or_(end.is_(None), end > start) if entering else end > start
        return and_(at >= a.start, at < a.end, not_empty, ~_open_at(identity, at, just_before=entering))

    return moved


def _moves(a: ActivityFilter, customer: Any) -> Select[Any]:
    """Return the ids of customers with an entry (or a loss) in [start, end)."""
    return union_all(*_connections(customer, _moved(a)))  # type: ignore[return-value]


def _moves_probe(a: ActivityFilter) -> ColumnElement[bool]:
    """Return "the listed customer has an entry (or a loss) in [start, end)", reading its identities once."""
    moved, i = _moved(a), aliased(Identity)
    parts = []
    for table, begins, ends in CONNECTIONS:
        c = aliased(table)
        parts.append(exists(select(1).select_from(c).where(c.identity_id == i.id,
                                                            moved(i, getattr(c, begins), getattr(c, ends)))
                            .correlate_except(c)))
    return exists(select(1).select_from(i).where(i.customer_id == Customer.id, or_(*parts)))


def _off(column: Any, unindexed: bool) -> Any:
    """Return ``column``, or ``column + 0`` (the same value, which no index serves) when ``unindexed``."""
    return column + 0 if unindexed else column


def _contacts(a: ActivityFilter, keys: ActivityKeys, customer: Any, unindexed: bool) -> Select[Any]:
    i, o = aliased(Identity), aliased(Ownership)
    added = a.kind == "contact_added"
    at = o.added_at if added else o.removed_at
    where = [at >= a.start, at < a.end, o.source != "transfer" if added else o.removed_by == "customer"]
    if keys.staff is not None:
        where.append(_off(o.staff_id, unindexed) == keys.staff)
    if a.no_code:
        where.append(o.channel_code_id.is_(None))
    elif a.code is not None:
        where.append(_off(o.channel_code_id, unindexed) == a.code)
    return select(i.customer_id).select_from(i).join(o, o.identity_id == i.id).where(*_held_by(i, customer), *where)


def _groups(a: ActivityFilter, keys: ActivityKeys, customer: Any, unindexed: bool) -> Select[Any]:
    i, g = aliased(Identity), aliased(GroupMembership)
    at = g.joined_at if a.kind == "group_joined" else g.left_at
    where = [at >= a.start, at < a.end]
    if keys.group is not None:
        where.append(_off(g.group_id, unindexed) == keys.group)
    return select(i.customer_id).select_from(i).join(g, g.identity_id == i.id).where(*_held_by(i, customer), *where)


def _facts(a: ActivityFilter, customer: Any) -> Select[Any]:
    i = aliased(Identity)
    if a.kind == "active":
        e = aliased(Event)
        return (select(i.customer_id).select_from(i).join(e, e.identity_id == i.id)
                .where(*_held_by(i, customer), e.occurred_at >= a.start, e.occurred_at < a.end))
    o = aliased(Order)
    return (select(i.customer_id).select_from(i).join(o, o.identity_id == i.id)
            .where(*_held_by(i, customer), o.paid_at.is_not(None), o.placed_at >= a.start, o.placed_at < a.end))


def _connected(a: ActivityFilter, customer: Any) -> Select[Any]:
    def open_at_end(_identity: Any, start: Any, end: Any) -> Any:
        return and_(start < a.end, or_(end.is_(None), end >= a.end))

    return union_all(*_connections(customer, open_at_end))  # type: ignore[return-value]


def _who(a: ActivityFilter, keys: ActivityKeys, customer: Any, unindexed: bool = False) -> Select[Any]:
    """Return the ids of customers who did ``a`` (only ``customer`` when correlated; ``unindexed``: the staff
    member, code or group it names is tested without an index)."""
    if a.kind == "connected":
        return _connected(a, customer)
    if a.kind in ("entered", "lost"):
        return _moves(a, customer)
    if a.kind in ("contact_added", "contact_deleted"):
        return _contacts(a, keys, customer, unindexed)
    if a.kind in ("group_joined", "group_left"):
        return _groups(a, keys, customer, unindexed)
    return _facts(a, customer)


def probe(a: ActivityFilter, keys: ActivityKeys, *, postgres: bool) -> ColumnElement[bool]:
    """Return the filter as a test of the listed customer (a correlated sub-query on ``customers.id``).

    On SQLite the staff member, code or group named is tested unindexed: given ``staff_id = ?``, SQLite
    (no statistics) would walk every relation of the staff member for each customer probed, instead of
    the customer's few relations (as the repository's other probes do).
    """
    if a.kind == "repurchased":
        orders = _facts(a, Customer.id).with_only_columns(func.count()).scalar_subquery()
        return orders >= 2
    if a.kind in ("entered", "lost"):
        return _moves_probe(a)
    return exists(_who(a, keys, Customer.id, unindexed=not postgres))


def members(a: ActivityFilter, keys: ActivityKeys, *, postgres: bool) -> ColumnElement[bool]:
    """Return the filter as ``customers.id IN (the set)``, the set computed once from the facts."""
    if a.kind in PROBE_ONLY:
        return probe(a, keys, postgres=postgres)
    who = _who(a, keys, None)
    if a.kind == "repurchased":
        sub = who.subquery()
        who = select(sub.c.customer_id).group_by(sub.c.customer_id).having(func.count() >= 2)
    return Customer.id.in_(who)
