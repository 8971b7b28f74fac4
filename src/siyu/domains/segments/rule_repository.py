"""A parsed rule compiled to SQL on the operational store (SQLite or PostgreSQL): the segment's members.

Every condition becomes a boolean over ``customers`` (live rows only). A condition on another table
is an uncorrelated ``customers.id IN (sub-query)``: the database computes each set once, so a full
evaluation costs one scan per condition, not one probe per customer. Facts anchor on identities, so
sets are built through ``identities.customer_id`` (merged customers' facts count for the survivor);
tags are held by customer rows and a merge leaves them on the tombstone, so a tombstone's tags count
for its survivor, as in the customers list.

``restrict`` (an incremental refresh: only the customers whose facts changed) is pushed into every
sub-query as well as the outer one, so each set is built from those customers' rows through the
per-identity and per-customer indexes rather than from the whole table.

Conditions whose answer for a customer with no rows at all would be true ("at most 2 orders",
"did not view") are written as ``NOT IN`` the customers whose rows make it false, so a customer
without any order matches "fewer than 3 orders". Every condition is NULL-safe (a missing value is
false, never unknown), so ``not`` is plain negation: ``ne`` and ``not_in`` match missing values.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Numeric, Select, String, and_, case, cast, func, literal, not_, or_, select, true
from sqlalchemy.orm import aliased

from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.groups import CustomerGroup, GroupMembership
from siyu.domains.identity import Identity
from siyu.domains.orders import Order, OrderItem
from siyu.domains.scores import CustomerScore
from siyu.domains.segments import rules as r
from siyu.domains.segments.models import SegmentMembership
from siyu.domains.staff import Ownership, Staff
from siyu.domains.tags import CustomerTag, Tag
from siyu.kit.time import day_bounds_utc

_Holder = aliased(Customer, name="seg_tag_holder")


@dataclass(frozen=True)
class Clock:
    """When a rule is evaluated and in which zone its days are cut."""

    now: datetime
    tz: ZoneInfo

    @property
    def today(self) -> date:
        """Return the brand-local day of ``now``."""
        return self.now.astimezone(self.tz).date()

    def start_of(self, day: date) -> datetime:
        """Return the UTC start of a brand-local day."""
        return day_bounds_utc(day, self.tz)[0]

    def window(self, w: r.Window) -> tuple[datetime | None, datetime | None]:
        """Return a window as UTC [start, end) (None: open)."""
        if w.last_days is not None:
            return self.start_of(self.today - timedelta(days=w.last_days - 1)), None
        return (self.start_of(w.start) if w.start else None,
                self.start_of(w.end + timedelta(days=1)) if w.end else None)


@dataclass(frozen=True)
class Compiler:
    """Compiles rule trees for one store dialect, clock and (optionally) set of customers."""

    clock: Clock
    postgres: bool
    restrict: Sequence[int] | None = None

    def members(self, node: r.Node) -> Select[tuple[int]]:
        """Return ``SELECT customers.id`` of the live customers (among ``restrict``) matching ``node``."""
        query = select(Customer.id).where(Customer.merged_into_id.is_(None), self.condition(node))
        return query.where(Customer.id.in_(self.restrict)) if self.restrict is not None else query

    def condition(self, node: r.Node) -> ColumnElement[bool]:
        """Return ``node`` as a NULL-safe boolean over ``customers``."""
        if isinstance(node, r.All):
            return and_(*(self.condition(n) for n in node.items))
        if isinstance(node, r.AnyOf):
            return or_(*(self.condition(n) for n in node.items))
        if isinstance(node, r.Not):
            return not_(self.condition(node.item))
        return getattr(self, "_" + type(node).__name__.lower())(node)

    def _in(self, sub: Select[Any], column: Any) -> Select[Any]:
        return sub.where(column.in_(self.restrict)) if self.restrict is not None else sub

    def _of_identities(self, sub: Select[Any]) -> ColumnElement[bool]:
        return Customer.id.in_(self._in(sub, Identity.customer_id))

    # -- profile -------------------------------------------------------------------------------

    def _attribute(self, node: r.Attribute) -> ColumnElement[bool]:
        if node.name == "attributes":
            return compare(json_value(Customer.attributes, node.key or "", node.kind, self.postgres), node.test,
                           self.postgres)
        if node.name == "age":
            return self._age(node.test)
        if node.name == "birthday" and node.within_days is not None:
            return self._anniversary(node.within_days)
        column = getattr(Customer, node.name)
        if node.name == "first_seen_at":
            return self._moment(column, node.test)
        if node.kind == "date":
            return self._day(column, node.test)
        return compare(column, node.test, self.postgres)

    def _day(self, column: Any, test: r.Compare) -> ColumnElement[bool]:
        """Compare a DATE column with a date test (relative tests count brand-local days back from today)."""
        if test.op in ("in_last_days", "more_than_days_ago"):
            return _relative_day(column, test, self.clock.today)
        ops = {"on": "eq", "before": "lt", "after": "gt"}
        return compare(column, r.Compare(ops.get(test.op, test.op), test.value), self.postgres)

    def _moment(self, column: Any, test: r.Compare) -> ColumnElement[bool]:
        """Compare a timestamp with a date test by the brand-local day it falls on."""
        clock = self.clock
        if test.op in ("is_set", "not_set"):
            return compare(column, test, self.postgres)
        if test.op == "in_last_days":
            return _safe(column, column >= clock.start_of(clock.today - timedelta(days=test.value - 1)))
        if test.op == "more_than_days_ago":
            return _safe(column, column < clock.start_of(clock.today - timedelta(days=test.value - 1)))
        if test.op == "between":
            low, high = test.value
            return _safe(column, and_(column >= clock.start_of(low), column < clock.start_of(high + timedelta(days=1))))
        day = test.value
        bounds = {"on": and_(column >= clock.start_of(day), column < clock.start_of(day + timedelta(days=1))),
                  "before": column < clock.start_of(day), "after": column >= clock.start_of(day + timedelta(days=1))}
        return _safe(column, bounds[test.op])

    def _age(self, test: r.Compare) -> ColumnElement[bool]:
        """Ages in whole years today, written as birthday bounds so no date arithmetic runs in SQL."""
        born = Customer.birthday
        if test.op in ("is_set", "not_set"):
            return compare(born, test, self.postgres)

        def at_least(years: Decimal) -> ColumnElement[bool]:
            return _safe(born, born <= years_before(self.clock.today, int(years)))

        if test.op == "between":
            low, high = test.value
            return and_(at_least(low), not_(at_least(high + 1)))
        v = test.value
        forms = {"gte": lambda: at_least(v), "gt": lambda: at_least(v + 1), "lt": lambda: _safe(born, not_(at_least(v))),
                 "lte": lambda: _safe(born, not_(at_least(v + 1))), "eq": lambda: and_(at_least(v), not_(at_least(v + 1))),
                 "ne": lambda: not_(and_(at_least(v), not_(at_least(v + 1))))}
        return forms[test.op]()

    def _anniversary(self, days: int) -> ColumnElement[bool]:
        """Birthdays whose month and day fall on today … today + ``days`` (29 Feb on 28 Feb in other years)."""
        born = Customer.birthday
        month_day = func.to_char(born, "MM-DD") if self.postgres else func.strftime("%m-%d", born)
        return _safe(born, month_day.in_(sorted(anniversary_days(self.clock.today, days))))

    # -- what the customer holds ------------------------------------------------------------------

    def _tagheld(self, node: r.TagHeld) -> ColumnElement[bool]:
        holder = func.coalesce(_Holder.merged_into_id, _Holder.id)
        sub = (select(holder).select_from(CustomerTag).join(Tag, Tag.id == CustomerTag.tag_id)
               .join(_Holder, _Holder.id == CustomerTag.customer_id)
               .where(Tag.name == node.name, CustomerTag.removed_at.is_(None)))
        if node.added_within_days is not None:
            sub = sub.where(CustomerTag.added_at >= self.clock.start_of(
                self.clock.today - timedelta(days=node.added_within_days - 1)))
        if node.held_for_days is not None:
            sub = sub.where(CustomerTag.added_at <= self.clock.now - timedelta(days=node.held_for_days))
        if self.restrict is not None:
            sub = sub.where(or_(CustomerTag.customer_id.in_(self.restrict), _Holder.merged_into_id.in_(self.restrict)))
        return Customer.id.in_(sub)

    def _identityheld(self, node: r.IdentityHeld) -> ColumnElement[bool]:
        if node.kind.endswith("*"):
            prefix = node.kind[:-1]
            match = func.substr(Identity.kind, 1, len(prefix)) == prefix
        else:
            match = Identity.kind == node.kind
        return self._of_identities(select(Identity.customer_id).where(match))

    def _owner(self, node: r.Owner) -> ColumnElement[bool]:
        sub = (select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id)
               .where(Ownership.removed_at.is_(None)))
        if node.userids is not None:
            sub = sub.where(Ownership.staff_id.in_(select(Staff.id).where(Staff.userid.in_(node.userids))))
        return self._of_identities(sub)

    def _channelcode(self, node: r.ChannelCode) -> ColumnElement[bool]:
        sub = (select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id)
               .where(Ownership.channel_code_id.in_(node.ids)))
        return or_(_safe(Customer.source_channel_code_id, Customer.source_channel_code_id.in_(node.ids)),
                   self._of_identities(sub))

    def _ingroup(self, node: r.InGroup) -> ColumnElement[bool]:
        sub = (select(Identity.customer_id).join(GroupMembership, GroupMembership.identity_id == Identity.id)
               .where(GroupMembership.left_at.is_(None)))
        if node.chat_ids is not None:
            sub = sub.where(GroupMembership.group_id.in_(select(CustomerGroup.id)
                                                        .where(CustomerGroup.chat_id.in_(node.chat_ids))))
        if node.joined_within_days is not None:
            sub = sub.where(GroupMembership.joined_at >= self.clock.start_of(
                self.clock.today - timedelta(days=node.joined_within_days - 1)))
        return self._of_identities(sub)

    def _insegment(self, node: r.InSegment) -> ColumnElement[bool]:
        sub = select(SegmentMembership.customer_id).where(SegmentMembership.segment_id == node.segment_id,
                                                          SegmentMembership.exited_at.is_(None))
        return Customer.id.in_(self._in(sub, SegmentMembership.customer_id))

    def _score(self, node: r.Score) -> ColumnElement[bool]:
        column = getattr(CustomerScore, node.field)
        negated = {"ne": "eq", "not_in": "in", "not_set": "is_set"}.get(node.test.op)
        if negated:  # a customer without scores differs from any value too
            return not_(self._score(r.Score(node.field, node.kind, r.Compare(negated, node.test.value))))
        sub = select(CustomerScore.customer_id).where(compare(column, node.test, self.postgres))
        return Customer.id.in_(self._in(sub, CustomerScore.customer_id))

    # -- facts -------------------------------------------------------------------------------------

    def _eventdone(self, node: r.EventDone) -> ColumnElement[bool]:
        start, end = self.clock.window(node.window)
        base = (select(Identity.customer_id).select_from(Event).join(Identity, Identity.id == self._event_identity())
                .where(self._event_type() == node.type, *(property_filter(Event.properties, f, self.postgres) for f in node.where)))
        base = self._in(base, Identity.customer_id).group_by(Identity.customer_id)
        if node.op == "first_did":  # the first such event ever falls in the window
            return Customer.id.in_(base.having(and_(true(), *_between(func.min(Event.occurred_at), start, end))))
        timed = base.where(*_between(Event.occurred_at, start, end))
        test = r.Compare("eq", 0) if node.op == "did_not" else node.count
        return self._counted(timed, func.count(), test)

    def _event_identity(self) -> Any:
        """Return the events' identity column to join on, hiding its index from SQLite when unrestricted.

        Over every customer the set is best built from the events of the rule's type in its window
        (``ix_events_type_occurred``), each joined to its identity by primary key. SQLite's planner
        instead walks every identity in customer order (to group without sorting) and probes its
        events by (identity_id, occurred_at): 3.8M probes on the 1M store, ~50 s against ~3 s.
        ``+ 0`` keeps it off that index; restricted to a few customers, that plan is the right one.
        """
        if self.restrict is None and not self.postgres:
            return Event.identity_id + 0
        return Event.identity_id

    def _event_type(self) -> Any:
        """Return the events' type column to filter on, hiding its index from SQLite when restricted.

        For a few customers the set is best built from their identities' events through
        ``ix_events_identity_occurred``; given the covering (type, occurred_at, identity_id) index,
        SQLite would rather read every event of the type in the window (686k entries on the 50M store:
        2.9 s for an incremental refresh of 1,000 customers against 0.4 s).
        """
        if self.restrict is not None and not self.postgres:
            return Event.type.concat("")
        return Event.type

    def _counted(self, grouped: Select[Any], measure: Any, test: r.Compare) -> ColumnElement[bool]:
        """Customers whose ``measure`` over their rows passes ``test``; customers without rows have 0."""
        passes = _count_test(measure, test)
        if _count_holds(test, 0):
            return Customer.id.not_in(grouped.having(not_(passes)))
        return Customer.id.in_(grouped.having(passes))

    def _ordercond(self, node: r.OrderCond) -> ColumnElement[bool]:
        start, end = self.clock.window(node.window)
        paid = (select(Identity.customer_id).select_from(Order).join(Identity, Identity.id == Order.identity_id)
                .where(Order.paid_at.is_not(None), *_between(Order.paid_at, start, end)))
        paid = self._in(paid, Identity.customer_id)
        if node.metric in ("product", "category"):
            column = OrderItem.sku if node.metric == "product" else OrderItem.category
            return Customer.id.in_(paid.join(OrderItem, OrderItem.order_pk == Order.id).where(column.in_(node.test.value)))
        grouped = paid.group_by(Identity.customer_id)
        if node.metric == "count":
            return self._counted(grouped, func.count(), node.test)
        if node.metric == "total":
            return self._counted(grouped, func.sum(Order.amount_fen - Order.refunded_fen), node.test)
        return Customer.id.in_(grouped.having(self._last_paid(func.max(Order.paid_at), node.test)))

    def _last_paid(self, last: Any, test: r.Compare) -> ColumnElement[bool]:
        clock = self.clock
        if test.op == "in_last_days":
            return last >= clock.start_of(clock.today - timedelta(days=test.value - 1))
        if test.op == "more_than_days_ago":
            return last < clock.start_of(clock.today - timedelta(days=test.value - 1))
        if test.op == "between":
            return and_(last >= clock.start_of(test.value[0]), last < clock.start_of(test.value[1] + timedelta(days=1)))
        day = test.value
        return {"on": and_(last >= clock.start_of(day), last < clock.start_of(day + timedelta(days=1))),
                "before": last < clock.start_of(day), "after": last >= clock.start_of(day + timedelta(days=1))}[test.op]


def years_before(day: date, years: int) -> date:
    """Return the last birthday that makes someone ``years`` old on ``day``.

    Someone born on 29 February turns a year older on 28 February in a common year (as their
    anniversary is kept then), so on 28 February of a common year the bound reaches 29 February.
    """
    year = day.year - years
    if (day.month, day.day) == (2, 29):
        return date(year, 2, 29) if calendar.isleap(year) else date(year, 2, 28)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year) and calendar.isleap(year):
        return date(year, 2, 29)
    return day.replace(year=year)


def anniversary_days(today: date, days: int) -> set[str]:
    """Return the MM-DD of today … today + ``days``; 29 Feb is celebrated on 28 Feb in a common year."""
    out = set()
    for n in range(days + 1):
        d = today + timedelta(days=n)
        out.add(d.strftime("%m-%d"))
        if d.month == 2 and d.day == 28 and (d + timedelta(days=1)).month == 3:
            out.add("02-29")
    return out


def _safe(column: Any, predicate: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return ``predicate`` made false (not unknown) when ``column`` is NULL."""
    return and_(column.is_not(None), predicate)


def _relative_day(column: Any, test: r.Compare, today: date) -> ColumnElement[bool]:
    edge = today - timedelta(days=test.value - 1)
    return _safe(column, column >= edge if test.op == "in_last_days" else column < edge)


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    return [c for c in (column >= start if start else None, column < end if end else None) if c is not None]


def _count_test(measure: Any, test: r.Compare) -> ColumnElement[bool]:
    v = test.value
    return {"eq": measure == v, "gt": measure > v, "gte": measure >= v, "lt": measure < v, "lte": measure <= v}[test.op]


def _count_holds(test: r.Compare, n: int) -> bool:
    v = test.value
    return {"eq": n == v, "gt": n > v, "gte": n >= v, "lt": n < v, "lte": n <= v}[test.op]


def _bindable(value: Any) -> Any:
    """Return a rule value as the drivers bind it (sqlite3 cannot bind Decimal)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def compare(expr: Any, test: r.Compare, postgres: bool) -> ColumnElement[bool]:
    """Return ``expr <op> value`` NULL-safely; ``ne``/``not_in``/``not_set`` are negations (missing matches)."""
    op = test.op
    if op in ("ne", "not_in", "not_set", "not_exists"):
        positive = {"ne": "eq", "not_in": "in", "not_set": "is_set", "not_exists": "exists"}[op]
        return not_(compare(expr, r.Compare(positive, test.value), postgres))
    if op in ("is_set", "exists"):
        return expr.is_not(None)
    v = test.value
    if op == "in":
        return _safe(expr, expr.in_([_bindable(x) for x in v]))
    if op == "between":
        return _safe(expr, expr.between(_bindable(v[0]), _bindable(v[1])))
    if op in ("contains", "starts_with", "ends_with"):
        return _safe(expr, _text_test(expr, op, v, postgres))
    v = _bindable(v)
    forms = {"eq": lambda: expr == v, "gt": lambda: expr > v, "gte": lambda: expr >= v, "lt": lambda: expr < v,
             "lte": lambda: expr <= v}
    return _safe(expr, forms[op]())


def _text_test(expr: Any, op: str, v: str, postgres: bool) -> ColumnElement[bool]:
    """Case-sensitive substring tests written the same on both stores (LIKE differs: SQLite folds ASCII case)."""
    if op == "contains":
        return (func.strpos(expr, v) if postgres else func.instr(expr, v)) > 0
    if op == "starts_with":
        return func.substr(expr, 1, len(v)) == v
    return func.substr(expr, func.length(expr) - len(v) + 1) == v


def json_value(doc: Any, key: str, kind: str, postgres: bool) -> Any:
    """Return ``doc[key]`` when it holds a ``kind`` value (string, number, bool, any), else NULL."""
    if postgres:
        node = doc.op("->")(literal(key, String))
        typeof = func.jsonb_typeof(node)
        raw = doc.op("->>")(literal(key, String))
        wanted = {"string": "string", "number": "number", "bool": "boolean"}.get(kind)
        if kind == "any":
            return case((typeof.is_not(None) & (typeof != "null"), raw))
        value = cast(raw, Numeric) if kind == "number" else (raw == "true" if kind == "bool" else raw)
        return case((typeof == wanted, value))
    path = literal(f"$.{key}", String)
    typeof = func.json_type(doc, path)
    if kind == "any":
        return case((typeof.is_not(None) & (typeof != "null"), func.json_extract(doc, path)))
    if kind == "bool":
        return case((typeof.in_(("true", "false")), typeof == "true"))
    wanted = ("integer", "real") if kind == "number" else ("text",)
    return case((typeof.in_(wanted), func.json_extract(doc, path)))


def property_filter(doc: Any, f: r.PropertyFilter, postgres: bool) -> ColumnElement[bool]:
    """Return an event property filter over the event's ``properties``."""
    return compare(json_value(doc, f.key, f.kind, postgres), f.test, postgres)


