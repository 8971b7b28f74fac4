"""Lifecycle tiers (new, 忠实, 优质, 普通, 低频, 流失) and new vs returning buyers, from configurable rules.

Every customer who ever paid by the as-of day gets four measures (defined in the brand's calendar,
as-of day included, refunds known by its end deducted):

- ``orders``: paid orders in the last ``window_days`` days; ``spend_fen``: their value net of refunds;
- ``days_since_last``: days from the last paid order (any time up to as-of) to as-of;
- ``days_since_first``: days from the first paid order to as-of.

A tier is the first rule, in order, whose every condition holds; a buyer no rule matches falls into
the last tier. Conditions compare one measure with ``>=`` / ``<=`` / ``==``. The default rules
(:data:`DEFAULT_RULES`) read: new if the first order is at most 30 days old; 流失 (lapsed) if the last
is over 180 days old; 忠实 (loyal) with at least 4 orders in the window and one in the last 60 days;
优质 (high value) with at least ¥1,000 spent in the window; 低频 (low frequency) with one order in the
window; 普通 (regular) otherwise. **New vs returning** splits the window's buyers by whether they
had paid before the window.

The rules compile into one Ibis ``CASE`` over the measures, so they run on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import ibis
from ibis import _

from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_orders
from siyu.analytics.rfm import DAY, InvalidRfm, RfmParams, window_epochs
from siyu.errors import ValidationFailed

MEASURES = ("orders", "spend_fen", "days_since_last", "days_since_first")
OPERATORS = (">=", "<=", "==")


class InvalidRules(ValidationFailed):
    """Lifecycle rules that cannot be used; the message names the rule and what to fix."""

    code = "invalid_lifecycle_rules"


@dataclass(frozen=True)
class Rule:
    """One tier: its code, names, and conditions ``(measure, operator, value)`` that must all hold."""

    tier: str
    name_zh: str
    name_en: str
    conditions: tuple[tuple[str, str, int], ...]


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("new", "新客", "New", (("days_since_first", "<=", 30),)),
    Rule("lapsed", "流失", "Lapsed", (("days_since_last", ">=", 181),)),
    Rule("loyal", "忠实", "Loyal", (("orders", ">=", 4), ("days_since_last", "<=", 60))),
    Rule("high_value", "优质", "High value", (("spend_fen", ">=", 100_000),)),
    Rule("low_frequency", "低频", "Low frequency", (("orders", "<=", 1),)),
    Rule("regular", "普通", "Regular", ()),
)


def parse_rules(raw: Any) -> tuple[Rule, ...]:
    """Return rules from JSON data (a list of {tier, name_zh, name_en, when: {measure: {op: value}}})."""
    if not isinstance(raw, list) or not raw:
        raise InvalidRules("rules must be a non-empty JSON list of {tier, name_zh, name_en, when}")
    rules, seen = [], set()
    for n, item in enumerate(raw):
        where = f"rule {n + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("tier"), str) or not item["tier"]:
            raise InvalidRules(f"{where}: needs a non-empty 'tier'")
        if item["tier"] in seen:
            raise InvalidRules(f"{where}: tier {item['tier']!r} appears twice")
        seen.add(item["tier"])
        unknown = set(item) - {"tier", "name_zh", "name_en", "when"}
        if unknown:
            raise InvalidRules(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        conditions = []
        for measure, ops in (item.get("when") or {}).items():
            if measure not in MEASURES:
                raise InvalidRules(f"{where}: unknown measure {measure!r}; use one of {', '.join(MEASURES)}")
            if not isinstance(ops, dict) or not ops:
                raise InvalidRules(f"{where}: {measure} needs {{\">=\"|\"<=\"|\"==\": number}}")
            for op, value in ops.items():
                if op not in OPERATORS or not isinstance(value, int) or isinstance(value, bool):
                    raise InvalidRules(f"{where}: {measure} {op} {value!r}: use >=, <= or == with a whole number")
                conditions.append((measure, op, value))
        rules.append(Rule(item["tier"], str(item.get("name_zh") or item["tier"]), str(item.get("name_en") or item["tier"]),
                          tuple(conditions)))
    return tuple(rules)


def measures(facts: Facts, params: RfmParams, tz: ZoneInfo) -> ibis.Table:
    """Return one row per customer who paid by the as-of day: the four measures and ``returning``."""
    start, end = window_epochs(params, tz)
    rows = paid_orders(facts, end)
    inside = rows.paid_s >= start
    per = rows.group_by("customer_id").aggregate(
        orders=inside.ifelse(1, 0).sum(), spend_fen=inside.ifelse(rows.net, 0).sum(),
        first_s=rows.paid_s.min(), last_s=rows.paid_s.max())
    return per.select("customer_id", "orders", "spend_fen",
                      days_since_last=(end - per.last_s - 1) // DAY, days_since_first=(end - per.first_s - 1) // DAY,
                      returning=per.first_s < start)


def _holds(t: ibis.Table, measure: str, op: str, value: int) -> Any:
    col = t[measure]
    return col >= value if op == ">=" else col <= value if op == "<=" else col == value


def expression(facts: Facts, params: RfmParams, tz: ZoneInfo, rules: tuple[Rule, ...]) -> ibis.Table:
    """Return the measures with each customer's ``tier``."""
    t = measures(facts, params, tz)
    cases = []
    for rule in rules[:-1]:
        condition = ibis.literal(True)
        for measure, op, value in rule.conditions:
            condition = condition & _holds(t, measure, op, value)
        cases.append((condition, rule.tier))
    return t.mutate(tier=ibis.cases(*cases, else_=rules[-1].tier) if cases else ibis.literal(rules[-1].tier))


@dataclass
class LifecycleResult:
    """Customers per tier, and the window's buyers split into new and returning."""

    params: RfmParams
    engine: str
    rules: tuple[Rule, ...]
    tiers: dict[str, int]
    new_buyers: int
    returning_buyers: int


def compute(facts: Facts, params: RfmParams, tz: ZoneInfo, rules: tuple[Rule, ...] = DEFAULT_RULES) -> LifecycleResult:
    """Count customers per lifecycle tier as of ``params.as_of`` and the window's new vs returning buyers."""
    if params.window_days < 1:
        raise InvalidRfm(f"window must be 1–3660 days, got {params.window_days}")
    t = expression(facts, params, tz, rules)
    counts = t.group_by("tier").aggregate(n=_.count()).to_pyarrow().to_pylist()
    split = (t.filter(t.orders > 0).group_by("returning").aggregate(n=_.count()).to_pyarrow().to_pylist())
    tiers = {rule.tier: 0 for rule in rules}
    for row in counts:
        tiers[row["tier"]] = int(row["n"])
    by = {bool(row["returning"]): int(row["n"]) for row in split}
    return LifecycleResult(params, facts.engine, rules, tiers, by.get(False, 0), by.get(True, 0))

