"""Who a scan reaches: working hours, daily caps, the four strategies and the backup fallback.

Pure functions over a :class:`Plan` and the counts the caller loaded, so the HTTP call
(``next_assignee``) and a 10,000-event ingestion batch share one set of rules and the batch can
keep counts in memory instead of querying per event.

- Working hours are read in the brand's time zone; an empty table means always open.
- A pool member is eligible while the ownerships opened today (brand day) through this code for it
  are below its ``daily_cap`` (no cap: always).
- fixed: the first eligible member in pool order.
- round_robin: the first eligible member at or after the cursor; the cursor moves past it, so a
  capped member is skipped without losing the rotation, and the cursor survives restarts.
- weighted: a random eligible member with probability proportional to weight (injectable RNG).
- least_loaded: the eligible member with the fewest active follow relations overall, ties in pool
  order.
- Outside working hours, or when every member is capped, the backup with the fewest additions
  through this code today takes the customer (ties in list order); backups have no cap, since
  they are the last resort.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from siyu.kit.working_hours import is_working


@dataclass(frozen=True, slots=True)
class Candidate:
    """An active pool member."""

    staff_id: int
    weight: int = 1
    daily_cap: int | None = None


@dataclass(slots=True)
class Plan:
    """A code's assignment settings with only active staff; ``cursor`` advances as picks are made."""

    code_id: int
    strategy: str
    working_hours: dict[str, Any]
    pool: list[Candidate]
    backups: list[int] = field(default_factory=list)
    cursor: int = 0


@dataclass(frozen=True, slots=True)
class Pick:
    """The chosen staff member and whether they came from the pool or the backups."""

    staff_id: int
    via: str  # pool | backup


def eligible(pool: Sequence[Candidate], added_today: Mapping[int, int]) -> list[Candidate]:
    """Return the pool members still under their daily cap, in pool order."""
    return [c for c in pool if c.daily_cap is None or added_today.get(c.staff_id, 0) < c.daily_cap]


def choose(plan: Plan, added_today: Mapping[int, int], active: Mapping[int, int],
           rng: random.Random) -> int | None:
    """Return the pool member the strategy picks (advancing a round-robin cursor), or None if all are capped."""
    open_ = eligible(plan.pool, added_today)
    if not open_:
        return None
    if plan.strategy == "round_robin":
        size = len(plan.pool)
        allowed = {c.staff_id for c in open_}
        for step in range(size):
            index = (plan.cursor + step) % size
            if plan.pool[index].staff_id in allowed:
                plan.cursor = (index + 1) % size
                return plan.pool[index].staff_id
    if plan.strategy == "weighted":
        return rng.choices(open_, weights=[c.weight for c in open_])[0].staff_id
    if plan.strategy == "least_loaded":
        order = {c.staff_id: i for i, c in enumerate(open_)}
        return min(open_, key=lambda c: (active.get(c.staff_id, 0), order[c.staff_id])).staff_id
    return open_[0].staff_id  # fixed


def pick(plan: Plan, now: datetime, tz: ZoneInfo, added_today: Mapping[int, int], active: Mapping[int, int],
         rng: random.Random) -> Pick | None:
    """Return who takes a scan at ``now``: a pool member in working hours, else a backup, else None."""
    if plan.pool and is_working(plan.working_hours, now, tz):
        chosen = choose(plan, added_today, active, rng)
        if chosen is not None:
            return Pick(chosen, "pool")
    if plan.backups:
        order = {sid: i for i, sid in enumerate(plan.backups)}
        return Pick(min(plan.backups, key=lambda sid: (added_today.get(sid, 0), order[sid])), "backup")
    return None
