"""The segment rule language: JSON in, a checked tree of conditions out (docs/segments.md).

A rule is a tree. Inner nodes combine: ``{"all": [...]}`` (AND), ``{"any": [...]}`` (OR) and
``{"not": {...}}`` (NOT). Leaves name what they test by their first key: ``attribute``, ``tag``,
``identity``, ``owner``, ``channel_code``, ``group``, ``event``, ``order``, ``score`` or
``segment``. :func:`parse` checks the whole tree and reports every problem at once, each with the
JSON path of the bad node (``$.all[1].event.window.last_days``), a stable code and what is expected,
so the API answers 422 ``invalid_rule``, the CLI exits 2 and the console marks the field.

The parsed tree holds only plain values (dates, integers, fen): it says nothing about SQL, so one
tree is compiled for every store (:mod:`siyu.domains.segments.compiler`) and evaluated by the plain
reference of the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Union

from siyu.errors import ValidationFailed

MAX_DEPTH = 10
MAX_NODES = 200
MAX_LIST = 500
MAX_DAYS = 3660
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")

STRING_OPS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "is_set", "not_set")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_set", "not_set")
DATE_OPS = ("on", "before", "after", "between", "in_last_days", "more_than_days_ago", "is_set", "not_set")
COUNT_OPS = ("eq", "gt", "gte", "lt", "lte")
PROPERTY_OPS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "gt", "gte", "lt", "lte",
                "exists", "not_exists")
PRESENCE_OPS = ("is_set", "not_set", "exists", "not_exists")
EVENT_OPS = ("did", "did_not", "first_did")

# attribute → its type; ``attributes.<key>`` (custom attributes) take their type from the value
PROFILE: dict[str, str] = {"gender": "string", "region": "string", "city": "string", "source_platform": "string",
                           "birthday": "date", "first_seen_at": "date", "age": "number"}
SCORES: dict[str, str] = {"rfm_segment": "string", "aipl_stage": "string", "lifecycle_tier": "string",
                          "rfm_r": "number", "rfm_f": "number", "rfm_m": "number", "clv": "number",
                          "expected_purchases": "number", "p_alive": "number"}
ORDER_METRICS = ("count", "total", "last_at", "product", "category")


class InvalidRule(ValidationFailed):
    """A rule that cannot be used; ``details["errors"]`` lists each problem with its path."""

    code = "invalid_rule"


@dataclass(frozen=True)
class RuleError:
    """One problem: where it is (JSON path), its stable code, and what is expected there."""

    path: str
    code: str
    message: str


@dataclass(frozen=True)
class Window:
    """Brand-local days: the last ``last_days`` days (today included), or ``start``..``end`` (either open)."""

    last_days: int | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Compare:
    """``op`` with its value: a scalar, a tuple (``in``/``between``) or None (presence)."""

    op: str
    value: Any = None


@dataclass(frozen=True)
class All:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Attribute:
    """A profile attribute (``key`` set for a custom attribute ``attributes.<key>``)."""

    name: str
    kind: str  # string | number | date | bool
    test: Compare
    key: str | None = None
    within_days: int | None = None  # anniversary_within_days (birthday)


@dataclass(frozen=True)
class TagHeld:
    name: str
    added_within_days: int | None = None
    held_for_days: int | None = None


@dataclass(frozen=True)
class IdentityHeld:
    kind: str  # a kind, or a prefix ending with ``*``


@dataclass(frozen=True)
class Owner:
    userids: tuple[str, ...] | None  # None: any staff member


@dataclass(frozen=True)
class ChannelCode:
    ids: tuple[int, ...]


@dataclass(frozen=True)
class InGroup:
    chat_ids: tuple[str, ...] | None  # None: any group
    joined_within_days: int | None = None


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    kind: str  # string | number | bool | any
    test: Compare


@dataclass(frozen=True)
class EventDone:
    type: str
    op: str  # did | did_not | first_did
    count: Compare = field(default_factory=lambda: Compare("gte", 1))
    window: Window = field(default_factory=Window)
    where: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True)
class OrderCond:
    metric: str
    test: Compare
    window: Window = field(default_factory=Window)


@dataclass(frozen=True)
class Score:
    field: str
    kind: str
    test: Compare


@dataclass(frozen=True)
class InSegment:
    segment_id: int


Node = Union[All, AnyOf, Not, Attribute, TagHeld, IdentityHeld, Owner, ChannelCode, InGroup, EventDone, OrderCond,
             Score, InSegment]


class _Fail(Exception):
    """Stop checking the current node (its error is already recorded)."""


class _Checker:
    def __init__(self) -> None:
        self.errors: list[RuleError] = []
        self.nodes = 0

    def fail(self, path: str, code: str, message: str) -> _Fail:
        self.errors.append(RuleError(path, code, message))
        return _Fail()

    def obj(self, raw: Any, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(path, "invalid_type", f"expected an object, got {_type(raw)}")
        for key in sorted(set(raw) - allowed):
            self.fail(f"{path}.{key}", "unknown_field", f"unknown field; expected one of {', '.join(sorted(allowed))}")
        for key in required:
            if key not in raw:
                raise self.fail(f"{path}.{key}", "missing_field", "this field is required")
        return raw

    def integer(self, raw: Any, path: str, low: int, high: int) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            raise self.fail(path, "invalid_value", f"expected a whole number from {low} to {high}, got {raw!r}")
        return raw

    def text(self, raw: Any, path: str, limit: int = 200) -> str:
        if not isinstance(raw, str) or not raw.strip() or len(raw) > limit:
            raise self.fail(path, "invalid_value", f"expected a non-empty string of at most {limit} characters")
        return raw

    def day(self, raw: Any, path: str) -> date:
        try:
            return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else _bad()
        except ValueError:
            raise self.fail(path, "invalid_value", f"expected a date YYYY-MM-DD, got {raw!r}") from None

    def texts(self, raw: Any, path: str, limit: int = 200) -> tuple[str, ...]:
        if not isinstance(raw, list) or not raw or len(raw) > MAX_LIST:
            raise self.fail(path, "invalid_value", f"expected a non-empty list of at most {MAX_LIST} strings")
        return tuple(self.text(v, f"{path}[{i}]", limit) for i, v in enumerate(raw))


def _bad() -> Any:
    raise ValueError


def _type(raw: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(raw), "a number")


HEADS = ("all", "any", "not", "attribute", "tag", "identity", "owner", "channel_code", "group", "event", "order",
         "score", "segment")


def parse(raw: Any) -> Node:
    """Check a rule and return its tree, or raise :class:`InvalidRule` listing every problem."""
    checker = _Checker()
    try:
        node = _node(checker, raw, "$", 1)
    except _Fail:
        node = None
    if checker.errors or node is None:
        first = checker.errors[0]
        raise InvalidRule(f"{first.path}: {first.message}" + (f" (and {len(checker.errors) - 1} more)"
                                                              if len(checker.errors) > 1 else ""),
                          errors=[e.__dict__ for e in checker.errors])
    return node


def _node(c: _Checker, raw: Any, path: str, depth: int) -> Node:
    c.nodes += 1
    if c.nodes > MAX_NODES:
        raise c.fail(path, "too_many_nodes", f"a rule may have at most {MAX_NODES} conditions")
    if depth > MAX_DEPTH:
        raise c.fail(path, "too_deep", f"conditions may nest at most {MAX_DEPTH} levels")
    if not isinstance(raw, dict):
        raise c.fail(path, "invalid_type", f"expected a condition object, got {_type(raw)}")
    heads = [k for k in HEADS if k in raw]
    if len(heads) != 1:
        found = f"found {', '.join(heads)}" if heads else f"found {', '.join(sorted(raw)) or 'nothing'}"
        raise c.fail(path, "invalid_condition", f"a condition needs exactly one of {', '.join(HEADS)}; {found}")
    head = heads[0]
    if head in ("all", "any"):
        c.obj(raw, path, {head})
        items = raw[head]
        if not isinstance(items, list) or not items:
            raise c.fail(f"{path}.{head}", "invalid_value", "expected a non-empty list of conditions")
        parsed = []
        for i, item in enumerate(items):
            try:
                parsed.append(_node(c, item, f"{path}.{head}[{i}]", depth + 1))
            except _Fail:
                continue
        if len(parsed) != len(items):
            raise _Fail()
        return All(tuple(parsed)) if head == "all" else AnyOf(tuple(parsed))
    if head == "not":
        c.obj(raw, path, {"not"})
        return Not(_node(c, raw["not"], f"{path}.not", depth + 1))
    return LEAVES[head](c, raw, path)


def _compare(c: _Checker, raw: dict[str, Any], path: str, kind: str, ops: tuple[str, ...]) -> Compare:
    """Check ``op`` and ``value`` of a leaf whose value has type ``kind``."""
    op = raw.get("op")
    if op not in ops:
        raise c.fail(f"{path}.op", "unknown_operator", f"expected one of {', '.join(ops)}, got {op!r}")
    value = raw.get("value")
    vpath = f"{path}.value"
    if op in PRESENCE_OPS:
        if "value" in raw:
            raise c.fail(vpath, "unexpected_value", f"{op} takes no value")
        return Compare(op)
    if "value" not in raw:
        raise c.fail(vpath, "missing_field", f"{op} needs a value")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise c.fail(vpath, "invalid_value", f"{op} needs a non-empty list of at most {MAX_LIST} values")
        return Compare(op, tuple(_scalar(c, v, f"{vpath}[{i}]", kind) for i, v in enumerate(value)))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise c.fail(vpath, "invalid_value", "between needs a list of two values [low, high], both included")
        low, high = (_scalar(c, v, f"{vpath}[{i}]", kind) for i, v in enumerate(value))
        if low > high:
            raise c.fail(vpath, "invalid_value", "between needs low <= high")
        return Compare(op, (low, high))
    if op in ("in_last_days", "more_than_days_ago"):
        return Compare(op, c.integer(value, vpath, 1, 36_600))  # a birthday may be a century back
    if op in ("contains", "starts_with", "ends_with"):
        return Compare(op, c.text(value, vpath))
    return Compare(op, _scalar(c, value, vpath, kind))


def _scalar(c: _Checker, value: Any, path: str, kind: str) -> Any:
    if kind == "date":
        return c.day(value, path)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise c.fail(path, "invalid_value", f"expected a number, got {_type(value)}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise c.fail(path, "invalid_value", f"expected a number, got {value!r}") from None
        if not number.is_finite():
            raise c.fail(path, "invalid_value", "expected a finite number")
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise c.fail(path, "invalid_value", f"expected true or false, got {_type(value)}")
        return value
    return c.text(value, path)


def _kind_of_value(raw: dict[str, Any]) -> str:
    """Return the type a custom attribute or event property is compared as, from the operator and value."""
    op, value = raw.get("op"), raw.get("value")
    sample = value[0] if isinstance(value, list) and value else value
    if op in ("gt", "gte", "lt", "lte", "between"):
        return "number"
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, (int, float)):
        return "number"
    return "string"


def _attribute(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"attribute", "op", "value"}, ("attribute", "op"))
    name = raw["attribute"]
    if isinstance(name, str) and name.startswith("attributes."):
        key = name.split(".", 1)[1]
        if not KEY.match(key):
            raise c.fail(f"{path}.attribute", "invalid_value", "a custom attribute is attributes.<key>, the key made "
                                                                "of letters, digits and _")
        kind = _kind_of_value(raw)
        ops = {"string": STRING_OPS, "number": NUMBER_OPS, "bool": ("eq", "ne", "is_set", "not_set")}[kind]
        return Attribute("attributes", kind, _compare(c, raw, path, kind, ops), key=key)
    if name not in PROFILE:
        raise c.fail(f"{path}.attribute", "unknown_attribute",
                     f"expected one of {', '.join(PROFILE)} or attributes.<key>, got {name!r}")
    kind = PROFILE[name]
    if kind == "date" and raw.get("op") == "anniversary_within_days":
        if name != "birthday":
            raise c.fail(f"{path}.op", "unknown_operator", "anniversary_within_days applies to birthday only")
        return Attribute(name, kind, Compare("anniversary_within_days"),
                         within_days=c.integer(raw.get("value"), f"{path}.value", 0, 365))
    ops = {"string": STRING_OPS, "number": NUMBER_OPS, "date": DATE_OPS}[kind]
    if name == "birthday":
        ops = (*ops, "anniversary_within_days")
    if name == "age":
        ops = tuple(o for o in NUMBER_OPS if o not in ("in", "not_in"))
    test = _compare(c, raw, path, kind, ops)
    if name == "age" and test.value is not None:
        for v in test.value if isinstance(test.value, tuple) else (test.value,):
            if v != v.to_integral_value() or not 0 <= v <= 150:
                raise c.fail(f"{path}.value", "invalid_value", "an age is a whole number of years from 0 to 150")
    return Attribute(name, kind, test)


def _tag(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"tag", "added_within_days", "held_for_days"}, ("tag",))
    name = c.text(raw["tag"], f"{path}.tag", 64).strip()
    added = raw.get("added_within_days")
    held = raw.get("held_for_days")
    if added is not None and held is not None:
        raise c.fail(path, "invalid_condition", "use added_within_days or held_for_days, not both")
    return TagHeld(name, None if added is None else c.integer(added, f"{path}.added_within_days", 1, MAX_DAYS),
                   None if held is None else c.integer(held, f"{path}.held_for_days", 1, MAX_DAYS))


def _identity(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"identity"})
    kind = c.text(raw["identity"], f"{path}.identity", 80)
    if "*" in kind[:-1]:
        raise c.fail(f"{path}.identity", "invalid_value", "a kind, or a prefix ending with * (openid:*)")
    return IdentityHeld(kind)


def _owner(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"owner"})
    value = raw["owner"]
    return Owner(None if value == "*" else c.texts(value, f"{path}.owner", 64))


def _channel_code(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"channel_code"})
    value = raw["channel_code"]
    if not isinstance(value, list) or not value or len(value) > MAX_LIST:
        raise c.fail(f"{path}.channel_code", "invalid_value", "expected a non-empty list of channel code ids")
    return ChannelCode(tuple(c.integer(v, f"{path}.channel_code[{i}]", 1, 2**62) for i, v in enumerate(value)))


def _group(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"group", "joined_within_days"}, ("group",))
    value = raw["group"]
    within = raw.get("joined_within_days")
    return InGroup(None if value == "*" else c.texts(value, f"{path}.group", 80),
                   None if within is None else c.integer(within, f"{path}.joined_within_days", 1, MAX_DAYS))


def _window(c: _Checker, raw: Any, path: str) -> Window:
    if raw is None:
        return Window()
    c.obj(raw, path, {"last_days", "between", "since", "before"})
    if len(raw) != 1:
        raise c.fail(path, "invalid_value", "a window is one of last_days, between, since or before")
    if "last_days" in raw:
        return Window(last_days=c.integer(raw["last_days"], f"{path}.last_days", 1, MAX_DAYS))
    if "since" in raw:
        return Window(start=c.day(raw["since"], f"{path}.since"))
    if "before" in raw:
        return Window(end=c.day(raw["before"], f"{path}.before") - timedelta(days=1))
    pair = raw["between"]
    if not isinstance(pair, list) or len(pair) != 2:
        raise c.fail(f"{path}.between", "invalid_value", "expected two dates [first, last], both included")
    first, last = c.day(pair[0], f"{path}.between[0]"), c.day(pair[1], f"{path}.between[1]")
    if first > last:
        raise c.fail(f"{path}.between", "invalid_value", "the first date must not be after the last")
    return Window(start=first, end=last)


def _count(c: _Checker, raw: Any, path: str) -> Compare:
    c.obj(raw, path, {"op", "value"}, ("op", "value"))
    if raw["op"] not in COUNT_OPS:
        raise c.fail(f"{path}.op", "unknown_operator", f"expected one of {', '.join(COUNT_OPS)}, got {raw['op']!r}")
    return Compare(raw["op"], c.integer(raw["value"], f"{path}.value", 0, 1_000_000))


def _property(c: _Checker, raw: Any, path: str) -> PropertyFilter:
    c.obj(raw, path, {"property", "op", "value"}, ("property", "op"))
    key = raw["property"]
    if not isinstance(key, str) or not KEY.match(key):
        raise c.fail(f"{path}.property", "invalid_value", "a property name is letters, digits and _ (at most 64)")
    if raw["op"] in ("exists", "not_exists"):
        return PropertyFilter(key, "any", _compare(c, raw, path, "string", ("exists", "not_exists")))
    kind = _kind_of_value(raw)
    ops = {"string": PROPERTY_OPS, "number": ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"),
           "bool": ("eq", "ne")}[kind]
    return PropertyFilter(key, kind, _compare(c, raw, path, kind, ops))


def _event(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"event", "op", "where", "count", "window"}, ("event",))
    etype = raw["event"]
    if not isinstance(etype, str) or not EVENT_TYPE.match(etype) or len(etype) > 80:
        raise c.fail(f"{path}.event", "invalid_value", "expected an event type such as content_viewed or acme.quiz_done")
    op = raw.get("op", "did")
    if op not in EVENT_OPS:
        raise c.fail(f"{path}.op", "unknown_operator", f"expected one of {', '.join(EVENT_OPS)}, got {op!r}")
    where = raw.get("where", [])
    if not isinstance(where, list) or len(where) > 20:
        raise c.fail(f"{path}.where", "invalid_value", "expected a list of at most 20 property filters")
    filters = tuple(_property(c, f, f"{path}.where[{i}]") for i, f in enumerate(where))
    if op != "did" and "count" in raw:
        raise c.fail(f"{path}.count", "unexpected_value", f"{op} takes no count")
    count = _count(c, raw["count"], f"{path}.count") if "count" in raw else Compare("gte", 1)
    return EventDone(etype, op, count, _window(c, raw.get("window"), f"{path}.window"), filters)


def _order(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"order", "op", "value", "window"}, ("order", "op"))
    metric = raw["order"]
    if metric not in ORDER_METRICS:
        raise c.fail(f"{path}.order", "unknown_metric", f"expected one of {', '.join(ORDER_METRICS)}, got {metric!r}")
    window = _window(c, raw.get("window"), f"{path}.window")
    if metric == "count":
        test = _compare(c, raw, path, "number", COUNT_OPS)
        return OrderCond(metric, Compare(test.op, c.integer(raw.get("value"), f"{path}.value", 0, 1_000_000)), window)
    if metric == "total":
        test = _compare(c, raw, path, "number", COUNT_OPS)
        if test.value != test.value.quantize(Decimal("0.01")) or test.value < 0:
            raise c.fail(f"{path}.value", "invalid_value", "a total is yuan with at most two decimals, e.g. \"199.90\"")
        return OrderCond(metric, Compare(test.op, int(test.value * 100)), window)
    if metric == "last_at":
        if "window" in raw:
            raise c.fail(f"{path}.window", "unexpected_value", "last_at is the last paid order ever; compare it instead")
        ops = tuple(o for o in DATE_OPS if o not in ("is_set", "not_set"))
        return OrderCond(metric, _compare(c, raw, path, "date", ops), window)
    return OrderCond(metric, _compare(c, raw, path, "string", ("in",)), window)


def _score(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"score", "op", "value"}, ("score", "op"))
    name = raw["score"]
    if name not in SCORES:
        raise c.fail(f"{path}.score", "unknown_score", f"expected one of {', '.join(SCORES)}, got {name!r}")
    kind = SCORES[name]
    ops = tuple(o for o in (STRING_OPS if kind == "string" else NUMBER_OPS)
                if o not in ("contains", "starts_with", "ends_with"))
    return Score(name, kind, _compare(c, raw, path, kind, ops))


def _segment(c: _Checker, raw: dict[str, Any], path: str) -> Node:
    c.obj(raw, path, {"segment"})
    return InSegment(c.integer(raw["segment"], f"{path}.segment", 1, 2**62))


LEAVES = {"attribute": _attribute, "tag": _tag, "identity": _identity, "owner": _owner,
          "channel_code": _channel_code, "group": _group, "event": _event, "order": _order, "score": _score,
          "segment": _segment}


def walk(node: Node) -> list[Node]:
    """Return every node of the tree, parents before children."""
    out: list[Node] = [node]
    if isinstance(node, (All, AnyOf)):
        for item in node.items:
            out.extend(walk(item))
    elif isinstance(node, Not):
        out.extend(walk(node.item))
    return out


def segment_refs(node: Node) -> set[int]:
    """Return the ids of the segments the rule reads."""
    return {n.segment_id for n in walk(node) if isinstance(n, InSegment)}


def tag_refs(node: Node) -> set[str]:
    """Return the names of the tags the rule reads."""
    return {n.name for n in walk(node) if isinstance(n, TagHeld)}


def staff_refs(node: Node) -> set[str]:
    """Return the staff userids the rule names."""
    return {u for n in walk(node) if isinstance(n, Owner) and n.userids for u in n.userids}


def is_relative(node: Node) -> bool:
    """Return whether the rule's answer moves with the clock (relative windows, ages, anniversaries)."""
    for n in walk(node):
        if isinstance(n, Attribute) and (n.name == "age" or n.test.op in ("in_last_days", "more_than_days_ago",
                                                                          "anniversary_within_days")):
            return True
        if isinstance(n, (EventDone, OrderCond)) and (n.window.last_days or
                                                      (isinstance(n, OrderCond) and n.test.op in ("in_last_days",
                                                                                                  "more_than_days_ago"))):
            return True
        if isinstance(n, (TagHeld, InGroup)) and any(getattr(n, a, None) for a in ("added_within_days", "held_for_days",
                                                                                    "joined_within_days")):
            return True
    return False


def locate(raw: Any, head: str, wanted: Any, path: str = "$") -> str | None:
    """Return the JSON path of the first leaf whose ``head`` is (or lists) ``wanted``, for error messages."""
    if isinstance(raw, dict):
        value = raw.get(head)
        if value == wanted or (isinstance(value, list) and wanted in value):
            return f"{path}.{head}"
        for key in ("all", "any"):
            for i, item in enumerate(raw.get(key) or [] if isinstance(raw.get(key), list) else []):
                if (found := locate(item, head, wanted, f"{path}.{key}[{i}]")) is not None:
                    return found
        if "not" in raw:
            return locate(raw["not"], head, wanted, f"{path}.not")
    return None
