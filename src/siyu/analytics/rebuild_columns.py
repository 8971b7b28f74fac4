"""A full rebuild's customer contributions from the fact columns: the sums and every customer's rows.

Applies the definitions of :mod:`siyu.analytics.contributions` and :meth:`siyu.analytics.spans.Delta.add`
to all customers at once with the column operations of :mod:`siyu.analytics.columnar`. Only live
customers contribute (a merged customer's contribution is empty), so facts of other customers are
left out first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from siyu.analytics import spans as sp
from siyu.analytics.columnar import IsoDays, Lists, Pieces, Sums, customer_rows, day_ordinals, moves, text
from siyu.analytics.fact_columns import NONE, FactColumns

Parts = dict[str, Pieces]


@dataclass
class Rebuilt:
    """Everything a full rebuild writes for the customers."""

    sums: Sums
    rows: Iterator[tuple[list[tuple[Any, ...]], int]]  # health_customers rows in chunks, customers covered
    moves: list[tuple[str, str, int]]  # health_moves rows, sorted (days as ISO text)
    count: int  # customers read


def compute(facts: FactColumns, tz: ZoneInfo) -> Rebuilt:
    """Return the sums and rows of every customer's contribution."""
    sums = Sums()

    def alive(customers: np.ndarray) -> np.ndarray:
        return facts.live[np.searchsorted(facts.customers, customers)] if len(customers) else customers.astype(bool)

    parts: Parts = {"active": _active(facts, tz, sums, alive), "paid": _paid(facts, tz, sums, alive)}
    rel, stay = alive(facts.rel_customer), alive(facts.stay_customer)
    parts["items"] = _items(facts, tz, sums, rel, stay)
    parts["moves"], move_rows = _moves(facts, tz, sums, rel, stay)
    parts["now_in"] = _now(facts, sums, rel, stay)
    first_days = _new_customers(facts, tz, sums)
    return Rebuilt(sums, customer_rows(facts, first_days, parts), move_rows, len(facts.customers))


def _single(sums: Sums, metric: str, n: int) -> np.ndarray:
    return np.full(n, sums.code(metric, ""), dtype=np.int64)


def _active(facts: FactColumns, tz: ZoneInfo, sums: Sums, alive: Any) -> Pieces:
    keep = alive(facts.event_customer)
    day = day_ordinals(facts.event_at[keep], tz, hour=True)
    lists = Lists(_single(sums, sp.ACTIVE, len(day)), facts.event_customer[keep], day, distinct=True)
    lists.add_to(sums)
    day = lists.day
    return Pieces(lists.customer, lambda a, b: text(day[a:b]))


def _paid(facts: FactColumns, tz: ZoneInfo, sums: Sums, alive: Any) -> Pieces:
    """Paid orders: one list item per order on the day it was placed; the text counts them per day.

    Also the day metrics: paid orders and GMV (net of refunds) per day, of every customer's orders.
    """
    every = day_ordinals(facts.order_at, tz, hour=True)
    sums.daily(_single(sums, "orders", len(every)), every)
    sums.daily(_single(sums, "gmv", len(every)), every, facts.order_net)
    keep = alive(facts.order_customer)
    day = every[keep]
    lists = Lists(_single(sums, sp.PAID, len(day)), facts.order_customer[keep], day, distinct=False)
    lists.add_to(sums, gaps=(1, 2))
    customer, day = lists.customer, lists.day
    change = np.ones(len(day), dtype=bool)
    change[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, len(day)))
    days = day[starts]
    return Pieces(customer[starts], lambda a, b: [f"{d}:{n}" for d, n in zip(days[a:b].tolist(), counts[a:b].tolist(),
                                                                            strict=True)])


def _items(facts: FactColumns, tz: ZoneInfo, sums: Sums, rel: np.ndarray, stay: np.ndarray) -> Pieces:
    """The stored item lists (staff added and deleted, codes, groups joined and left) and their unions."""
    rc, staff, code = facts.rel_customer[rel], facts.rel_staff[rel], facts.rel_code[rel]
    added = day_ordinals(facts.rel_added[rel], tz)
    adds = ~facts.rel_transfer[rel]
    deleted = (facts.rel_removed[rel] != NONE) & facts.rel_by_customer[rel]
    deleted_day = day_ordinals(facts.rel_removed[rel][deleted], tz)
    sc, group, left_at = facts.stay_customer[stay], facts.stay_group[stay], facts.stay_left[stay]
    joined = day_ordinals(facts.stay_joined[stay], tz)
    left = left_at != NONE
    left_day = day_ordinals(left_at[left], tz)
    stored = {sp.ADDED_STAFF: (staff[adds], rc[adds], added[adds]), sp.ADDED_CODE: (code[adds], rc[adds], added[adds]),
              sp.DELETED_STAFF: (staff[deleted], rc[deleted], deleted_day), sp.JOINED_GROUP: (group, sc, joined),
              sp.LEFT_GROUP: (group[left], sc[left], left_day)}
    lists = Lists(np.concatenate([sums.codes_for(m, ids) for m, (ids, _c, _d) in stored.items()]),
                  np.concatenate([c for _i, c, _d in stored.values()]),
                  np.concatenate([d for _i, _c, d in stored.values()]), distinct=True)
    lists.add_to(sums)
    unions = [(derived, *stored[base][1:]) for derived, base in sp.UNIONS.items()]
    Lists(np.concatenate([_single(sums, m, len(c)) for m, c, _d in unions]), np.concatenate([c for _m, c, _d in unions]),
          np.concatenate([d for _m, _c, d in unions]), distinct=True).add_to(sums)
    return _item_text(sums, lists)


def _item_text(sums: Sums, lists: Lists) -> Pieces:
    """Return each customer's ``metric/dim:day,day`` pieces, in (metric, dim) order."""
    rank = np.empty(len(sums.names), dtype=np.int64)
    rank[sorted(range(len(sums.names)), key=sums.names.__getitem__)] = np.arange(len(sums.names))
    order = np.lexsort((lists.day, rank[lists.key], lists.customer))
    key, customer, days = lists.key[order], lists.customer[order], lists.day[order]
    change = np.ones(len(key), dtype=bool)
    change[1:] = (key[1:] != key[:-1]) | (customer[1:] != customer[:-1])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], len(key))
    prefix = [f"{m}/{dim}:" for m, dim in sums.names]

    def make(a: int, b: int) -> list[str]:
        offset = int(starts[a])
        day_text = text(days[offset:int(ends[b - 1])])
        return [prefix[k] + ",".join(day_text[s - offset:e - offset])
                for k, s, e in zip(key[starts[a:b]].tolist(), starts[a:b].tolist(), ends[a:b].tolist(), strict=True)]

    return Pieces(customer[starts], make)


def _moves(facts: FactColumns, tz: ZoneInfo, sums: Sums, rel: np.ndarray, stay: np.ndarray,
           ) -> tuple[Pieces, list[tuple[str, str, int]]]:
    """Entries and exits: the moves text, the daily move counts, the entered and lost lists, ``health_moves``."""
    who, at, step = moves(np.concatenate([facts.rel_customer[rel], facts.stay_customer[stay]]),
                          np.concatenate([facts.rel_added[rel], facts.stay_joined[stay]]),
                          np.concatenate([facts.rel_removed[rel], facts.stay_left[stay]]))
    day = day_ordinals(at, tz)
    entry = step > 0
    sums.daily(_single(sums, sp.IN_MOVES, int(entry.sum())), day[entry])
    sums.daily(_single(sums, sp.OUT_MOVES, int((~entry).sum())), day[~entry])
    lists = Lists(np.where(entry, sums.code(sp.ENTERED, ""), sums.code(sp.LOST, "")), who, day, distinct=True)
    lists.add_to(sums)
    out = lists.key == sums.code(sp.LOST, "")  # (kind, day, customer) once each, "in" before "out"
    order = np.lexsort((lists.customer, lists.day, out))
    rows = list(zip(["out" if o else "in" for o in out[order].tolist()], IsoDays()(lists.day[order]),
                    lists.customer[order].tolist(), strict=True))
    values = day * step
    return Pieces(who, lambda a, b: text(values[a:b])), rows


def _now(facts: FactColumns, sums: Sums, rel: np.ndarray, stay: np.ndarray) -> Pieces:
    """What each customer counts in now (open follow relations and group stays), and the state counts."""
    open_rel = rel & (facts.rel_removed == NONE)
    open_stay = stay & (facts.stay_left == NONE)
    names = [f"{sp.FOLLOWED}{s}" for s in np.unique(facts.rel_staff[open_rel]).tolist()]
    names += [f"{sp.MEMBERS}{g}" for g in np.unique(facts.stay_group[open_stay]).tolist()]
    code = {name: i for i, name in enumerate(sorted(names))}  # codes in the names' text order
    customer = np.concatenate([facts.rel_customer[open_rel], facts.stay_customer[open_stay]])
    which = np.array([code[f"{sp.FOLLOWED}{s}"] for s in facts.rel_staff[open_rel].tolist()]
                     + [code[f"{sp.MEMBERS}{g}"] for g in facts.stay_group[open_stay].tolist()], dtype=np.int64)
    pairs = np.unique(np.stack([customer, which], axis=1), axis=0) if len(customer) else np.zeros((0, 2), np.int64)
    ordered = sorted(code)
    for c, n in zip(*np.unique(pairs[:, 1], return_counts=True), strict=True):
        sums.state[ordered[int(c)]] += int(n)
    codes = pairs[:, 1]
    return Pieces(pairs[:, 0], lambda a, b: [ordered[c] for c in codes[a:b].tolist()])


def _new_customers(facts: FactColumns, tz: ZoneInfo, sums: Sums) -> np.ndarray:
    """Count live customers by first day and platform; return every customer's first day ordinal (0: unknown)."""
    first = np.zeros(len(facts.customers), dtype=np.int64)
    known = facts.first_seen != NONE
    first[known] = day_ordinals(facts.first_seen[known], tz)
    new = np.flatnonzero(known & facts.live)
    platforms = [facts.platforms[i] or "" for i in new.tolist()]
    code = {p: sums.code(sp.NEW_CUSTOMERS, p) for p in set(platforms)}
    codes = np.array([code[p] for p in platforms], dtype=np.int64)
    sums.daily(codes, first[new])
    return first
