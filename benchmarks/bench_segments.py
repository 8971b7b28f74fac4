"""Measure segments on a demo store: a three-condition rule with an event-history condition, and the
incremental refresh after 1,000 new events, each beside a reference measured in the same run.

Reproduce (a demo store built with `siyu demo --customers 1000000 --seed 42 --until 2026-11-01`):
  .venv/bin/python benchmarks/bench_segments.py --database-url sqlite:////work/data-1m/siyu.db [--repeats 5]
  .venv/bin/python benchmarks/bench_segments.py --database-url postgresql://siyu@127.0.0.1:54329/siyu_1m

The store is left as it was: everything that writes (the segments, their members, the new events)
happens in one transaction that is rolled back at the end.

What it times, as of 2026-11-01 12:00 in Asia/Shanghai (the demo's last day):
1. **Rule** (``RULE``: women, in three cities, who viewed content at least twice in the last 90
   days): the compiled rule counted (a preview's count) and its members fetched (a full
   evaluation); beside it, the same definition written by hand as one SQL statement on the same
   store (the reference; both must select the same customers).
2. **Incremental refresh**: with ``RULE`` and two more segments and a rule tag defined and evaluated,
   1,000 new ``content_viewed`` events for 1,000 customers are inserted, then
   :func:`siyu.domains.segments.refresh.refresh_incremental` re-evaluates those customers for every
   target. The reference is a full refresh of the same targets, in the same transaction.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from siyu.db.base import UTCDateTime
from siyu.db.engine import make_engine, session_factory
from siyu.domains.events.models import Event
from siyu.domains.identity.models import Identity
from siyu.domains.segments import refresh, rules
from siyu.domains.segments.models import Segment
from siyu.domains.segments.rule_repository import Clock, Compiler

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 1, 12, tzinfo=TZ)
RULE = {"all": [{"attribute": "gender", "op": "eq", "value": "female"},
                {"attribute": "city", "op": "in", "value": ["上海", "杭州", "北京"]},
                {"event": "content_viewed", "count": {"op": "gte", "value": 2}, "window": {"last_days": 90}}]}
MORE = [{"any": [{"order": "total", "op": "gte", "value": "300", "window": {"last_days": 365}},
                 {"order": "category", "op": "in", "value": ["礼盒"], "window": {"last_days": 90}}]},
        {"all": [{"owner": "*"}, {"event": "message_received", "op": "did_not", "window": {"last_days": 30}}]}]
HAND = """
SELECT c.id FROM customers c
WHERE c.merged_into_id IS NULL AND c.gender = 'female' AND c.city IN ('上海', '杭州', '北京')
  AND c.id IN (SELECT i.customer_id FROM events e JOIN identities i ON i.id = e.identity_id
               WHERE e.type = 'content_viewed' AND e.occurred_at >= :start
               GROUP BY i.customer_id HAVING count(*) >= 2)
"""


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Return (median seconds, all runs, last result) of ``fn``."""
    runs, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs, result


def _show(label: str, median: float, runs: list[float]) -> None:
    print(f"{label:<58} median {median:7.3f} s   runs {' '.join(f'{r:.3f}' for r in runs)}")


def bench_rule(s: Session, repeats: int) -> None:
    postgres = s.get_bind().dialect.name == "postgresql"
    node = rules.parse(RULE)
    query = Compiler(Clock(NOW, TZ), postgres).members(node)
    start = Clock(NOW, TZ).window(rules.Window(last_days=90))[0]
    hand_query = text(HAND).bindparams(bindparam("start", type_=UTCDateTime()))
    m_count, r_count, n = timed(lambda: s.scalar(select(func.count()).select_from(query.subquery())), repeats)
    m_ids, r_ids, ids = timed(lambda: set(s.scalars(query)), repeats)
    m_hand, r_hand, hand = timed(lambda: set(s.scalars(hand_query, {"start": start})), repeats)
    assert ids == hand and n == len(ids), "the compiled rule and the hand-written SQL disagree"
    print(f"rule: {json_of(RULE)}\n  selects {n:,} customers")
    _show("  Siyu, compiled rule: count (a preview's count)", m_count, r_count)
    _show("  Siyu, compiled rule: members (a full evaluation)", m_ids, r_ids)
    _show("  reference: the same definition by hand, one SQL statement", m_hand, r_hand)
    print(f"  ratio Siyu members / hand-written: {m_ids / m_hand:.2f}")


def json_of(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _define(s: Session) -> None:
    for n, rule in enumerate([RULE, *MORE]):
        s.add(Segment(name=f"bench-{n}", rule=rule, created_by="bench", created_at=NOW, updated_at=NOW, members=0))
    s.flush()


def _new_events(s: Session, count: int, seed: int = 7) -> None:
    top = s.scalar(select(func.max(Identity.id))) or 0
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(1, top + 1), count))
    rows = [{"event_id": f"bench-seg-{i}", "type": "content_viewed", "occurred_at": NOW, "received_at": NOW,
             "identity_id": ident, "channel": "mini_program", "properties": {"topic": "新品"}}
            for i, ident in enumerate(picked)]
    s.execute(insert(Event.__table__), rows)


def bench_incremental(s: Session, events: int) -> None:
    _define(s)
    started = time.perf_counter()
    full = refresh.refresh_full(s, TZ, now=NOW)
    first = time.perf_counter() - started
    members = {k: v for k, v in full.entered.items()}
    print(f"incremental refresh: {len(members)} targets, first evaluation (every customer) {first:.2f} s, "
          f"members {members}")
    _new_events(s, events)
    started = time.perf_counter()
    outcome = refresh.refresh_incremental(s, TZ, now=NOW)
    took = time.perf_counter() - started
    assert outcome is not None
    print(f"  after {events:,} new events: {outcome.customers:,} customers re-evaluated for every target in "
          f"{took:.3f} s (entered {sum(outcome.entered.values())}, exited {sum(outcome.exited.values())})")
    started = time.perf_counter()
    refresh.refresh_full(s, TZ, now=NOW)
    print(f"  reference, a full refresh of the same targets: {time.perf_counter() - started:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    with session_factory(engine)() as s:
        customers = s.scalar(select(func.count()).select_from(select(Identity.customer_id).distinct().subquery()))
        print(f"store: {args.database_url} ({customers:,} customers with identities)")
        bench_rule(s, args.repeats)
        try:
            bench_incremental(s, args.events)
        finally:
            s.rollback()  # leave the store as it was


if __name__ == "__main__":
    main()
