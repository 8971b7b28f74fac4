"""The journey scheduler's job: feed triggers, then run due enrolments in batches, one transaction each.

``tick(now)`` is what ``siyu worker`` calls every second or so, with the real clock; tests pass their
own ``now`` and call it repeatedly instead of sleeping. Several schedulers may tick at once: feeding
is taken by one of them at a time (the watermark rows are locked with SKIP LOCKED), and on PostgreSQL
batches of enrolments are claimed with SKIP LOCKED, so each step runs in exactly one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.engine import Context, run_batch
from siyu.domains.journeys.triggers import daily_scan, feed_facts


@dataclass
class Tick:
    """What one tick did."""

    enrolled: int = 0
    exited: int = 0
    steps: int = 0
    batches: int = 0


def tick(unit: Callable[[], AbstractContextManager[Session]], ctx: Context, now: datetime, *,
         batch: int = 500, max_batches: int = 20) -> Tick:
    """Feed the triggers and run due enrolments; each part in its own unit of work from ``unit()``."""
    done = Tick()
    for _ in range(max_batches):
        with unit() as session:
            fed = feed_facts(session, ctx, now)
        if fed is None:
            break
        done.enrolled, done.exited = done.enrolled + fed.enrolled, done.exited + fed.exited
        done.steps += fed.steps
        if not fed.more:
            break
    with unit() as session:
        for entered, ran in daily_scan(session, ctx, now).values():
            done.enrolled, done.steps = done.enrolled + entered, done.steps + ran
    for _ in range(max_batches):
        with unit() as session:
            active = [j.id for j in repo.journeys(session, "active")]
            claimed, ran = run_batch(session, ctx, active, now, limit=batch)
        done.batches += 1
        done.steps += ran
        if claimed < batch:
            break
    return done
