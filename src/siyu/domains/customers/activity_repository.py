"""SQL of the listing's activity filters: customers who did something between two instants.

Part of the customers repository (:mod:`siyu.domains.customers.repository` calls it), kept apart
because it is long. Each filter is written twice, like the listing's other relational filters:

- ``probe``: a correlated EXISTS on the listed customer's id, answered from that customer's
  identities (a few index probes per customer), for walking the newest ids;
- ``members``: ``customers.id IN (…)``, the set of customers computed once from the facts' time
  indexes, for the older rest when the probe did not fill the page.

The definitions are those of the dashboard (:mod:`siyu.analytics.health`); a dashboard figure links
to the list filtered to exactly its customers, and the tests compare the two. A *connection* is a
follow relation ``[added_at, removed_at)`` or a group stay ``[joined_at, left_at)`` of any identity of
the customer; ``connected`` means a connection open at ``end`` (begun before, not ended before).
``entered`` and ``lost`` depend on all of a customer's connections at each moment; they are read
from the summaries' index of moves (:class:`siyu.domains.customers.activity.MovesIndex`), which the
service brings up to date first.

``active`` (any event) has no set form: events have no index on time alone (one would cost every
ingestion), so the older rest is walked with the probe as well; it stops as soon as the page is full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, union_all
from sqlalchemy.orm import aliased

from siyu.domains.customers.activity import MOVES
from siyu.domains.customers.models import Customer
from siyu.domains.customers.schemas import ActivityFilter
from siyu.domains.events import Event
from siyu.domains.groups import GroupMembership
from siyu.domains.identity import Identity
from siyu.domains.orders import Order
from siyu.domains.staff import Ownership

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
    if a.kind in MOVES:
        return a.moves.customers(a.kind, a.first_day, a.last_day, customer)  # type: ignore[no-any-return]
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
