"""What a funnel asks: its steps (events with property filters, or a paid order), mode and window.

The same text is read by the CLI, the API and the console: ``steps`` is a JSON list, or for steps
without filters a comma-separated list of event types (``content_viewed,contact_added,order``)::

    [{"event": "content_viewed", "where": {"topic": "护肤"}},
     {"event": "contact_added", "where": {"state": {"in": ["poster-a", "poster-b"]}}},
     {"event": "coupon_claimed", "where": {"value": {">=": 20}}},
     {"order": "paid", "min_amount": "99.00"}]

A property filter names a top-level property of the event; a plain value means equality (a string
compares as text, a number numerically, ``true``/``false`` as the JSON literal); an operator object
takes ``in`` (a list of strings), ``!=``, ``>``, ``>=``, ``<``, ``<=`` (numbers) or ``exists``
(true/false). Numeric operators compare properties whose text is a number ("3" and 3 alike, on every
engine) and never match other values. Properties are read on the engine with its own JSON function
(DuckDB ``json_extract_string``, PostgreSQL ``jsonb_extract_path_text``, Spark ``get_json_object``):
the one engine-specific primitive of the analyses, because Ibis's portable JSON access runs as a
Python UDF on Spark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import orjson

from siyu.errors import ValidationFailed
from siyu.kit.money import from_fen, to_fen

Mode = Literal["ordered", "strict", "unordered"]
MODES = ("ordered", "strict", "unordered")
BREAKDOWNS = ("channel_code", "staff", "platform", "segment")
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_.]{0,62})?$")
NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
NUMERIC_OPS = (">", ">=", "<", "<=")
MAX_STEPS = 10
MAX_WINDOW_S = 366 * 86400
_UNITS = {"d": 86400, "h": 3600, "m": 60}


class InvalidFunnel(ValidationFailed):
    """A funnel definition or parameter that cannot be used."""

    code = "invalid_funnel"


class InvalidStep(InvalidFunnel):
    """A step definition that cannot be used (reported on the ``steps`` field)."""

    def __init__(self, message: str, **details: Any):
        super().__init__(message, **{"field": "steps", **details})


@dataclass(frozen=True)
class Condition:
    """One property filter: ``key`` ``op`` ``value`` (op: =, !=, in, exists, >, >=, <, <=)."""

    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class Step:
    """An event type with property filters, or (``event`` None) a paid order of at least ``min_amount_fen``."""

    event: str | None
    where: tuple[Condition, ...] = ()
    min_amount_fen: int = 0

    def label(self) -> str:
        """Return a short human name of the step."""
        if self.event is None:
            return "paid order" + (f" >= {from_fen(self.min_amount_fen)}" if self.min_amount_fen else "")
        conds = ", ".join(f"{c.key} {c.op} {c.value}" for c in self.where)
        return f"{self.event} [{conds}]" if conds else self.event

    def to_json(self) -> dict[str, Any]:
        """Return the step as the JSON it can be read back from."""
        if self.event is None:
            return {"order": "paid", **({"min_amount": str(from_fen(self.min_amount_fen))} if self.min_amount_fen else {})}
        where = {c.key: (c.value if c.op == "=" else {c.op: list(c.value) if c.op == "in" else c.value}) for c in self.where}
        return {"event": self.event, **({"where": where} if where else {})}


@dataclass(frozen=True)
class FunnelParams:
    """A funnel: customers entering (doing step 1) from ``start`` to ``end`` (brand days, inclusive)."""

    steps: tuple[Step, ...]
    start: date
    end: date
    window_s: int = 7 * 86400
    mode: Mode = "ordered"
    breakdown: str | None = None
    segment_ids: tuple[int, ...] = field(default=())

    def check(self, today: date) -> None:
        """Raise InvalidFunnel when the parameters cannot give a meaningful answer."""
        if not 2 <= len(self.steps) <= MAX_STEPS:
            raise InvalidStep(f"a funnel has 2–{MAX_STEPS} steps, got {len(self.steps)}")
        if self.end > today:
            raise InvalidFunnel(f"to {self.end} is in the future (today is {today})", code="as_of_in_future", field="to")
        if self.start > self.end:
            raise InvalidFunnel(f"from {self.start} is after to {self.end}", field="from")
        if (self.end - self.start).days > 366:
            raise InvalidFunnel("the entry period spans at most 367 days", field="from")
        if self.mode not in MODES:
            raise InvalidFunnel(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}", field="mode")
        if not 1 <= self.window_s <= MAX_WINDOW_S:
            raise InvalidFunnel("the conversion window is 1 minute to 366 days", field="window")
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            raise InvalidFunnel(f"breakdown must be one of {', '.join(BREAKDOWNS)}, got {self.breakdown!r}",
                                field="breakdown")
        if (self.breakdown == "segment") != bool(self.segment_ids) or len(self.segment_ids) > 20:
            raise InvalidFunnel("a segment breakdown names 1–20 segments (segments=ID,ID…), and only it does",
                                field="segments")


def parse_window(raw: str) -> int:
    """Return the seconds of a window written ``7d``, ``36h`` or ``90m``."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([dhm])\s*", raw or "")
    if not match:
        raise InvalidFunnel(f"window {raw!r}: write a whole number of days, hours or minutes such as 7d, 36h or 90m",
                            field="window")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_steps(raw: str | list[Any]) -> tuple[Step, ...]:
    """Read steps from JSON (a list of step objects) or a comma-separated list of event types."""
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("["):
            return tuple(_step({"order": "paid"} if name.strip() == "order" else {"event": name.strip()}, n)
                         for n, name in enumerate(text.split(","), 1) if name.strip())
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidStep(f"steps are not valid JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise InvalidStep("steps must be a JSON list of step objects")
    return tuple(_step(item, n) for n, item in enumerate(raw, 1))


def _step(item: Any, n: int) -> Step:
    if not isinstance(item, dict):
        raise InvalidStep(f"step {n}: a step is an object such as {{\"event\": \"content_viewed\"}}")
    unknown = set(item) - {"event", "where", "order", "min_amount"}
    if unknown:
        raise InvalidStep(f"step {n}: unknown field(s) {', '.join(sorted(unknown))}; use event and where, "
                            "or order and min_amount")
    if "order" in item:
        if item["order"] != "paid" or "event" in item or "where" in item:
            raise InvalidStep(f"step {n}: an order step is {{\"order\": \"paid\"}} with an optional min_amount")
        try:
            fen = to_fen(item.get("min_amount", "0"))
        except ValueError as exc:
            raise InvalidStep(f"step {n}: min_amount: {exc}") from exc
        if fen < 0:
            raise InvalidStep(f"step {n}: min_amount cannot be negative")
        return Step(None, (), fen)
    event = item.get("event")
    if not isinstance(event, str) or not EVENT_TYPE.match(event):
        raise InvalidStep(f"step {n}: event must be an event type such as content_viewed, got {event!r}")
    if "min_amount" in item:
        raise InvalidStep(f"step {n}: min_amount applies to order steps only")
    where = item.get("where", {})
    if not isinstance(where, dict):
        raise InvalidStep(f"step {n}: where must be an object of property filters")
    return Step(event, tuple(_condition(key, value, n) for key, value in where.items()))


def _condition(key: str, value: Any, n: int) -> Condition:
    if not KEY.match(key):
        raise InvalidStep(f"step {n}: property {key!r} must be a top-level name of letters, digits and _")
    if not isinstance(value, dict):
        return _scalar(key, "=", value, n)
    if len(value) != 1:
        raise InvalidStep(f"step {n}: property {key}: give one operator per property, such as {{\">=\": 3}}")
    op, arg = next(iter(value.items()))
    if op == "in":
        if not isinstance(arg, list) or not arg or not all(isinstance(a, str) for a in arg):
            raise InvalidStep(f"step {n}: property {key}: in takes a non-empty list of strings")
        return Condition(key, "in", tuple(arg))
    if op == "exists":
        if not isinstance(arg, bool):
            raise InvalidStep(f"step {n}: property {key}: exists takes true or false")
        return Condition(key, "exists", arg)
    if op in NUMERIC_OPS:
        if isinstance(arg, bool) or not isinstance(arg, (int, float)):
            raise InvalidStep(f"step {n}: property {key}: {op} takes a number")
        return Condition(key, op, arg)
    if op == "!=":
        return _scalar(key, "!=", arg, n)
    raise InvalidStep(f"step {n}: property {key}: unknown operator {op!r}; use in, exists, !=, >, >=, <, <=")


def _scalar(key: str, op: str, value: Any, n: int) -> Condition:
    if isinstance(value, (str, bool, int, float)) and value is not None:
        return Condition(key, op, value)
    raise InvalidStep(f"step {n}: property {key}: compare with a string, a number or true/false")


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duckdb_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB: the text of a JSON path."""


@ibis.udf.scalar.builtin(name="jsonb_extract_path_text")
def _postgres_text(doc: dt.JSON(binary=True), key: str) -> str:  # type: ignore[empty-body, valid-type]
    """PostgreSQL: the text of a jsonb key."""


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark: the text of a JSON path."""


def property_text(engine: str, doc: Any, key: str) -> Any:
    """Return the text of property ``key`` of a JSON column on ``engine`` (NULL when absent)."""
    if engine == "postgres":
        return _postgres_text(doc, key)
    return (_duckdb_text if engine == "duckdb" else _spark_text)(doc, f"$.{key}")


def _number(text: Any) -> Any:
    return ibis.cases((text.re_search(NUMBER), text.cast("float64")), else_=ibis.null("float64"))


def _literal_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def condition_expr(engine: str, doc: Any, cond: Condition) -> Any:
    """Return the Ibis predicate of one property filter (never NULL: a missing property does not match)."""
    text = property_text(engine, doc, cond.key)
    if cond.op == "exists":
        return text.notnull() if cond.value else text.isnull()
    if cond.op == "in":
        pred = text.isin(list(cond.value))
    elif cond.op in NUMERIC_OPS or (isinstance(cond.value, (int, float)) and not isinstance(cond.value, bool)):
        num, val = _number(text), float(cond.value)
        pred = {">": num > val, ">=": num >= val, "<": num < val, "<=": num <= val, "=": num == val,
                "!=": num != val}[cond.op]
    else:
        pred = text == _literal_text(cond.value) if cond.op == "=" else text != _literal_text(cond.value)
    return pred.fill_null(False)
