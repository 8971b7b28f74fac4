"""The plain reference: a parsed rule evaluated customer by customer over a :class:`brand.World`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domains.segments.brand import NOW, World, in_window, local, test_value, today, typed

from siyu.domains.segments import rules as r


def members(world: World, node: r.Node, among: set[int] | None = None) -> set[int]:
    """Return the live customers (among ``among``) matching ``node``."""
    live = {cid for cid, c in world.customers.items() if c.merged_into_id is None}
    return {cid for cid in (live if among is None else live & among) if holds(world, node, cid)}


def holds(world: World, node: r.Node, cid: int) -> bool:
    """Return whether customer ``cid`` matches ``node``."""
    if isinstance(node, r.All):
        return all(holds(world, n, cid) for n in node.items)
    if isinstance(node, r.AnyOf):
        return any(holds(world, n, cid) for n in node.items)
    if isinstance(node, r.Not):
        return not holds(world, node.item, cid)
    return LEAF[type(node)](world, node, cid)


def _idents(world: World, cid: int) -> set[int]:
    return {i for i, c, _k in world.identities if c == cid}


def _age(born: date | None) -> int | None:
    if born is None:
        return None
    t = today()
    return t.year - born.year - ((t.month, t.day) < (born.month, born.day if (born.month, born.day) != (2, 29) or
                                                      _leap(t.year) else 28))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _anniversary(born: date | None, days: int) -> bool:
    if born is None:
        return False
    for n in range(days + 1):
        d = today() + timedelta(days=n)
        month_day = (born.month, born.day)
        if month_day == (2, 29) and not _leap(d.year):
            month_day = (2, 28)
        if (d.month, d.day) == month_day:
            return True
    return False


def _date_test(day: date | None, test: r.Compare) -> bool:
    if test.op in ("is_set", "not_set"):
        return test_value(day, test)
    if day is None:
        return False
    v = test.value
    if test.op == "in_last_days":
        return day >= today() - timedelta(days=v - 1)
    if test.op == "more_than_days_ago":
        return day < today() - timedelta(days=v - 1)
    return {"on": lambda: day == v, "before": lambda: day < v, "after": lambda: day > v,
            "between": lambda: v[0] <= day <= v[1]}[test.op]()


def _attribute(world: World, node: r.Attribute, cid: int) -> bool:
    c = world.customers[cid]
    if node.name == "attributes":
        return test_value(typed(c.attributes or {}, node.key or "", node.kind), node.test)
    if node.name == "age":
        age = _age(c.birthday)
        return test_value(None if age is None else Decimal(age), node.test)
    if node.within_days is not None:
        return _anniversary(c.birthday, node.within_days)
    if node.name == "birthday":
        return _date_test(c.birthday, node.test)
    if node.name == "first_seen_at":
        return _date_test(local(c.first_seen_at), node.test)
    return test_value(getattr(c, node.name), node.test)


def _tag(world: World, node: r.TagHeld, cid: int) -> bool:
    rows = [(holder, added) for holder, name, added, removed in world.tags if name == node.name and removed is None]
    for holder, added in rows:
        owner = world.customers[holder].merged_into_id or holder
        if owner != cid:
            continue
        if node.added_within_days and local(added) < today() - timedelta(days=node.added_within_days - 1):
            continue
        if node.held_for_days and added > NOW - timedelta(days=node.held_for_days):
            continue
        return True
    return False


def _identity(world: World, node: r.IdentityHeld, cid: int) -> bool:
    kinds = {k for _i, c, k in world.identities if c == cid}
    if node.kind.endswith("*"):
        return any(k.startswith(node.kind[:-1]) for k in kinds)
    return node.kind in kinds


def _owner(world: World, node: r.Owner, cid: int) -> bool:
    mine = _idents(world, cid)
    return any(i in mine and removed is None and (node.userids is None or who in node.userids)
               for i, who, _code, removed in world.ownerships)


def _code(world: World, node: r.ChannelCode, cid: int) -> bool:
    if world.customers[cid].source_channel_code_id in node.ids:
        return True
    mine = _idents(world, cid)
    return any(i in mine and code in node.ids for i, _who, code, _removed in world.ownerships)


def _group(world: World, node: r.InGroup, cid: int) -> bool:
    mine = _idents(world, cid)
    edge = today() - timedelta(days=(node.joined_within_days or 1) - 1)
    return any(i in mine and left is None and (node.chat_ids is None or chat in node.chat_ids)
               and (node.joined_within_days is None or local(joined) >= edge)
               for i, chat, joined, left in world.stays)


def _event(world: World, node: r.EventDone, cid: int) -> bool:
    mine = _idents(world, cid)
    times = [t for i, etype, t, props in world.events if i in mine and etype == node.type
             and all(test_value(typed(props, f.key, f.kind), f.test) for f in node.where)]
    if node.op == "first_did":
        return bool(times) and in_window(min(times), node.window)
    n = sum(1 for t in times if in_window(t, node.window))
    test = r.Compare("eq", 0) if node.op == "did_not" else node.count
    return _count(n, test)


def _count(n: int, test: r.Compare) -> bool:
    v = test.value
    return {"eq": n == v, "gt": n > v, "gte": n >= v, "lt": n < v, "lte": n <= v}[test.op]


def _order(world: World, node: r.OrderCond, cid: int) -> bool:
    mine = _idents(world, cid)
    paid = [(pk, t, amount - refunded) for pk, i, t, amount, refunded in world.orders
            if i in mine and t is not None and in_window(t, node.window)]
    if node.metric == "count":
        return _count(len(paid), node.test)
    if node.metric == "total":
        return _count(sum(net for _pk, _t, net in paid), node.test)
    if node.metric == "last_at":
        return bool(paid) and _date_test(local(max(t for _pk, t, _n in paid)), node.test)
    position = 0 if node.metric == "product" else 1
    return any(item[position] in node.test.value for pk, _t, _n in paid for item in world.items.get(pk, []))


def _score(world: World, node: r.Score, cid: int) -> bool:
    row = world.scores.get(cid)
    value: Any = None if row is None else getattr(row, node.field)
    if isinstance(value, float):
        value = Decimal(str(value))
    return test_value(value, node.test)


def _segment(world: World, node: r.InSegment, cid: int) -> bool:
    return any(s == node.segment_id and c == cid and exited is None for s, c, exited in world.memberships)


LEAF: dict[type, Any] = {r.Attribute: _attribute, r.TagHeld: _tag, r.IdentityHeld: _identity, r.Owner: _owner,
                         r.ChannelCode: _code, r.InGroup: _group, r.EventDone: _event, r.OrderCond: _order,
                         r.Score: _score, r.InSegment: _segment}
_ = datetime
