"""AIPL: where each customer stands on Awareness → Interest → Purchase → Loyalty, from event rules.

A customer's stage as of a day is the **highest** stage whose rule holds over the window (the
``window_days`` days of the brand's calendar ending with the as-of day). A rule holds when any one of
its alternatives does: ``{"events": [types], "at_least": n}`` (n events of those types in the window)
or ``{"orders": n}`` (n paid orders in the window). Customers no rule holds for have no stage
(``none``) and are not counted, except as the source or target of a flow.

Default rules (:data:`DEFAULT`): Awareness, a content view, a mini-program visit or a follow of
the official account; Interest, a click, favourite or share of content, a lead, joining a group or
adding a staff member; Purchase, a paid order; Loyalty, two paid orders, or a paid order and an
invitation of a friend (``invited``) — repurchase or advocacy. Each rule is checked on its own,
so a customer who bought without any recorded view is still at Purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import ibis
from ibis import _

from siyu.analytics.engines import Facts
from siyu.analytics.rfm import RfmParams, window_epochs
from siyu.errors import ValidationFailed

STAGES = ("awareness", "interest", "purchase", "loyalty")
NAMES = {"awareness": ("认知", "Awareness"), "interest": ("兴趣", "Interest"), "purchase": ("购买", "Purchase"),
         "loyalty": ("忠诚", "Loyalty")}
NONE = "none"


class InvalidAipl(ValidationFailed):
    """AIPL rules that cannot be used; the message names the stage and what to fix."""

    code = "invalid_aipl_rules"


@dataclass(frozen=True)
class Alternative:
    """One way to meet a stage: ``at_least`` events of ``events`` and ``orders`` paid orders (0 = not asked)."""

    events: tuple[str, ...] = ()
    at_least: int = 0
    orders: int = 0


RULES = dict[str, tuple[Alternative, ...]]
DEFAULT: RULES = {
    "awareness": (Alternative(("content_viewed", "mini_program_opened", "followed"), 1),),
    "interest": (Alternative(("content_clicked", "content_favourited", "content_shared", "lead_submitted",
                              "group_joined", "contact_added"), 1),),
    "purchase": (Alternative(orders=1),),
    "loyalty": (Alternative(orders=2), Alternative(("invited",), 1, orders=1)),
}


def parse_rules(raw: Any) -> RULES:
    """Return rules from JSON: {stage: [{"events": [types], "at_least": n, "orders": n}, …]} for the four stages."""
    if not isinstance(raw, dict) or set(raw) != set(STAGES):
        raise InvalidAipl(f"rules must be a JSON object with exactly the stages {', '.join(STAGES)}")
    out: RULES = {}
    for stage in STAGES:
        alternatives = raw[stage]
        if not isinstance(alternatives, list) or not alternatives:
            raise InvalidAipl(f"{stage}: give a non-empty list of alternatives")
        parsed = []
        for n, alt in enumerate(alternatives, 1):
            where = f"{stage} alternative {n}"
            if not isinstance(alt, dict) or set(alt) - {"events", "at_least", "orders"}:
                raise InvalidAipl(f"{where}: use only events, at_least and orders")
            events, at_least, orders = alt.get("events", []), alt.get("at_least", 1 if alt.get("events") else 0), \
                alt.get("orders", 0)
            if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
                raise InvalidAipl(f"{where}: events must be a list of event types")
            for name, value in (("at_least", at_least), ("orders", orders)):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InvalidAipl(f"{where}: {name} must be a whole number ≥ 0")
            if not events and not orders:
                raise InvalidAipl(f"{where}: ask for events or orders (an empty alternative would always hold)")
            if events and at_least < 1:
                raise InvalidAipl(f"{where}: at_least must be ≥ 1 when events are given")
            parsed.append(Alternative(tuple(events), at_least if events else 0, orders))
        out[stage] = tuple(parsed)
    return out


def expression(facts: Facts, params: RfmParams, tz: ZoneInfo, rules: RULES = DEFAULT) -> ibis.Table:
    """Return one row per customer with a stage: ``customer_id`` and ``stage``."""
    start, end = window_epochs(params, tz)
    idents = facts.table("identities")
    ev = facts.table("events")
    ev = ev.filter((ev.occurred_at.epoch_seconds() >= start) & (ev.occurred_at.epoch_seconds() < end))
    orders = facts.table("orders")
    paid_s = orders.paid_at.epoch_seconds()
    paid = orders.filter(orders.paid_at.notnull() & (paid_s >= start) & (paid_s < end))
    sets = sorted({alt.events for alts in rules.values() for alt in alts if alt.events})
    counted = ev.inner_join(idents, ev.identity_id == idents.id)
    per_events = counted.group_by("customer_id").aggregate(
        **{f"e{i}": counted.type.isin(list(types)).ifelse(1, 0).sum() for i, types in enumerate(sets)})
    paid_c = paid.inner_join(idents, paid.identity_id == idents.id)
    per_orders = paid_c.group_by("customer_id").aggregate(orders=_.count())
    people = (per_events.select("customer_id").union(per_orders.select("customer_id"), distinct=True))
    t = (people.left_join(per_events, people.customer_id == per_events.customer_id).drop("customer_id_right")
         .left_join(per_orders, people.customer_id == per_orders.customer_id).drop("customer_id_right"))

    def holds(alt: Alternative) -> Any:
        condition = ibis.literal(True)
        if alt.events:
            condition = condition & (t[f"e{sets.index(alt.events)}"].fill_null(0) >= alt.at_least)
        if alt.orders:
            condition = condition & (t.orders.fill_null(0) >= alt.orders)
        return condition

    cases = []
    for stage in reversed(STAGES):  # the highest stage that holds
        any_alt = ibis.literal(False)
        for alt in rules[stage]:
            any_alt = any_alt | holds(alt)
        cases.append((any_alt, stage))
    staged = t.select("customer_id", stage=ibis.cases(*cases, else_=NONE))
    return staged.filter(staged.stage != NONE)


def distribution(facts: Facts, params: RfmParams, tz: ZoneInfo, rules: RULES = DEFAULT) -> dict[str, int]:
    """Return customers per stage as of ``params.as_of``."""
    rows = expression(facts, params, tz, rules).group_by("stage").aggregate(n=_.count()).to_pyarrow().to_pylist()
    found = {row["stage"]: int(row["n"]) for row in rows}
    return {stage: found.get(stage, 0) for stage in STAGES}


def flows(facts: Facts, before: RfmParams, after: RfmParams, tz: ZoneInfo, rules: RULES = DEFAULT) -> dict[tuple[str, str], int]:
    """Return customers per (stage as of ``before``, stage as of ``after``); ``none``: no stage then."""
    a = expression(facts, before, tz, rules).rename(stage_a="stage", cid_a="customer_id")
    b = expression(facts, after, tz, rules).rename(stage_b="stage", cid_b="customer_id")
    joined = a.outer_join(b, a.cid_a == b.cid_b)
    moved = (joined.select(stage_a=joined.stage_a.fill_null(NONE), stage_b=joined.stage_b.fill_null(NONE))
             .group_by("stage_a", "stage_b").aggregate(n=_.count()))
    return {(row["stage_a"], row["stage_b"]): int(row["n"]) for row in moved.to_pyarrow().to_pylist()}
