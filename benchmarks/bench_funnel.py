"""Measure a four-step funnel (target: ≤ 10 s on 1M customers / 50M events) beside a hand-written DuckDB query.

Reproduce (the issue-4 benchmark store of docs/PERFORMANCE.md, or any store):
  .venv/bin/python benchmarks/bench_funnel.py --database-url sqlite:////work/data-50m/siyu.db \
      --data-dir /work/data-50m --from 2026-10-01 --to 2026-10-31 \
      --steps mini_program_opened,product_viewed,cart_added,order [--window 7d] [--repeats 3]

Without a store (``--synthetic CUSTOMERS EVENTS --data-dir DIR``) it writes a mirror-shaped DuckDB
file of generated facts instead (customers, one identity each, events of ten types spread over two
years, orders with 3.5% refunded; stored in time order, as the mirror receives facts) and times the same
queries on it: the engine's part alone, for
when the benchmark store is not built yet.

Syncs the DuckDB mirror first (timed separately: a first sync copies everything, later ones only what
is new), then times on the same mirror, in the same run: Siyu's funnel in each mode
(``analytics/funnel.py``: one Ibis expression, per-step counts and median times to convert in one
query), and the ordered funnel written by hand as one DuckDB statement with the same definitions
(total order of facts, earliest next step, best run per customer). The hand query's per-step counts
must equal Siyu's. Prints medians and the load average at the time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import ibis

from siyu.analytics import funnel, mirror
from siyu.analytics.engines import Facts, open_facts
from siyu.analytics.funnel_spec import FunnelParams, Step, parse_steps, parse_window
from siyu.db.engine import make_engine


def _flag(step: Step, j: int, kind: str) -> str:
    if kind == "order":
        return f"(net > 0 AND net >= {step.min_amount_fen}) AS m{j}" if step.event is None else f"false AS m{j}"
    return f"(type = '{step.event}') AS m{j}" if step.event is not None else f"false AS m{j}"


def hand_sql(params: FunnelParams, low: int, after: int) -> str:
    """Return the ordered funnel as one DuckDB statement (steps without property filters)."""
    n, high, w = len(params.steps), after + params.window_s, params.window_s
    ts = {k: f"TIMESTAMP '{datetime.fromtimestamp(v, UTC).replace(tzinfo=None)}'" for k, v in (("low", low), ("high", high))}
    types = ", ".join(f"'{s.event}'" for s in params.steps if s.event is not None)
    ev_flags = ", ".join(_flag(s, j, "event") for j, s in enumerate(params.steps, 1))
    or_flags = ", ".join(_flag(s, j, "order") for j, s in enumerate(params.steps, 1))
    ms = [f"m{j}" for j in range(1, n + 1)]
    rank = "CASE " + " ".join(f"WHEN m{j} THEN {j}" for j in range(1, n + 1)) + f" ELSE {n + 1} END"
    nexts = ",\n".join(f"min(CASE WHEN m{j} THEN pos END) OVER (PARTITION BY customer_id ORDER BY t, rank, src, fid "
                       f"ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS nx{j}" for j in range(2, n + 1))
    joins, times = [], []
    for j in range(2, n + 1):
        prev = "s.nx2" if j == 2 else f"l{j - 1}.nx{j}"
        joins.append(f"LEFT JOIN ranked l{j} ON l{j}.customer_id = s.customer_id AND l{j}.pos = {prev}")
        times.append(f"l{j}.t AS c{j}")
    depth = " + ".join(["1"] + [f"(c{j} IS NOT NULL AND c{j} - entry <= {w})::INT" for j in range(2, n + 1)])
    return f"""
WITH refunds AS (SELECT order_pk, sum(amount_fen) AS refunded FROM order_facts
                 WHERE status = 'refunded' AND occurred_at < {ts["high"]} GROUP BY order_pk),
facts AS (
  SELECT customer_id, floor(epoch(occurred_at))::BIGINT AS t, 0 AS src, id AS fid, {ev_flags}
  FROM events WHERE type IN ({types or "''"}) AND customer_id IS NOT NULL
    AND occurred_at >= {ts["low"]} AND occurred_at < {ts["high"]}
  UNION ALL
  SELECT customer_id, paid_s, 1, id, {or_flags} FROM (
    SELECT o.customer_id, o.id, floor(epoch(o.paid_at))::BIGINT AS paid_s, o.amount_fen - coalesce(r.refunded, 0) AS net
    FROM orders o LEFT JOIN refunds r ON r.order_pk = o.id
    WHERE o.paid_at IS NOT NULL AND o.customer_id IS NOT NULL AND o.paid_at >= {ts["low"]}
      AND o.paid_at < {ts["high"]})),
tracked AS (SELECT *, {rank} AS rank FROM facts WHERE {" OR ".join(ms)}),
numbered AS (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY t, rank, src, fid) - 1 AS pos
             FROM tracked),
ranked AS (SELECT *, {nexts} FROM numbered),
runs AS (SELECT s.customer_id, s.pos, s.t AS entry, {", ".join(times)}
         FROM ranked s {" ".join(joins)} WHERE s.m1 AND s.t >= {low} AND s.t < {after}),
best AS (SELECT customer_id, max({depth}) AS depth FROM runs GROUP BY customer_id)
SELECT k, count(*) FILTER (WHERE depth >= k) FROM best, range(1, {n + 1}) AS ks(k) GROUP BY k ORDER BY k
"""


SYNTHETIC = """
INSERT INTO customers SELECT i, TIMESTAMP '2024-11-01' + to_seconds((hash(i) % (730 * 86400))::BIGINT), 'mini_program',
  CASE WHEN i % 3 = 0 THEN i % 40 END FROM range(1, $customers + 1) t(i);
INSERT INTO identities SELECT i, i FROM range(1, $customers + 1) t(i);
INSERT INTO events SELECT i, 1 + hash(i) % $customers,
  ['mini_program_opened', 'product_viewed', 'product_viewed', 'cart_added', 'page_viewed', 'content_viewed',
   'message_received', 'store_visited', 'points_earned', 'live_watched'][(1 + hash(i * 7) % 10)::BIGINT],
  TIMESTAMP '2024-11-01' + to_seconds((hash(i * 13) % (730 * 86400))::BIGINT), 'mini_program', '{"page": "home"}',
  1 + hash(i) % $customers FROM range(1, $events + 1) t(i) ORDER BY 4;
INSERT INTO orders SELECT i, 'o' || i, 1 + hash(i * 3) % $customers, 1000 + hash(i) % 50000,
  CASE WHEN hash(i * 29) % 1000 < 35 THEN 500 ELSE 0 END, 'paid',
  TIMESTAMP '2024-11-01' + to_seconds((hash(i * 17) % (730 * 86400))::BIGINT),
  TIMESTAMP '2024-11-01' + to_seconds((hash(i * 17) % (730 * 86400) + 60)::BIGINT), 1 + hash(i * 3) % $customers
  FROM range(1, $orders + 1) t(i) ORDER BY 8;
INSERT INTO order_facts SELECT i, i, 'refunded', 500, TIMESTAMP '2026-11-01' FROM range(1, $orders + 1) t(i)
  WHERE hash(i * 29) % 1000 < 35;
"""


def synthetic(path: Path, customers: int, events: int) -> None:
    """Write a mirror-shaped DuckDB file of generated facts (one order per five events)."""
    if path.exists():
        return
    con = mirror.connect(path)
    try:
        for statement in SYNTHETIC.split(";"):
            if statement.strip():
                con.execute(statement, {k: v for k, v in (("customers", customers), ("events", events),
                                                           ("orders", events // 5)) if f"${k}" in statement})
    finally:
        con.close()


def _median_run(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    """Sync the mirror, time Siyu's funnel per mode and the hand-written query, and check they agree."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", help="The store (SQLite); omit with --synthetic.")
    ap.add_argument("--synthetic", nargs=2, type=int, metavar=("CUSTOMERS", "EVENTS"))
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    ap.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    ap.add_argument("--steps", default="mini_program_opened,product_viewed,cart_added,order")
    ap.add_argument("--window", default="7d")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timezone", default="Asia/Shanghai")
    args = ap.parse_args()
    tz, steps = ZoneInfo(args.timezone), parse_steps(args.steps)
    started = time.perf_counter()
    if args.synthetic:
        synthetic(mirror.mirror_path(args.data_dir), *args.synthetic)
        print(f"synthetic mirror: {time.perf_counter() - started:.1f} s; load average {os.getloadavg()}")

        def facts_of() -> Facts:
            return Facts("duckdb", ibis.duckdb.connect(str(mirror.mirror_path(args.data_dir)), read_only=True))
    else:
        store = make_engine(args.database_url)
        open_facts(store, args.data_dir).close()
        print(f"mirror sync: {time.perf_counter() - started:.1f} s; load average {os.getloadavg()}")

        def facts_of() -> Facts:
            return open_facts(store, args.data_dir)  # synced above: nothing new to copy
    counts = {}
    for mode in ("ordered", "strict", "unordered"):
        params = FunnelParams(steps, args.start, args.end, parse_window(args.window), mode)  # type: ignore[arg-type]
        facts = facts_of()
        try:
            seconds, result = _median_run(lambda: funnel.compute(facts, params, tz), args.repeats)  # noqa: B023
        finally:
            facts.close()
        counts[mode] = [s.customers for s in result.steps]  # type: ignore[attr-defined]
        print(f"siyu {mode:<9} median {seconds:6.2f} s  steps {counts[mode]}  load {os.getloadavg()[0]:.2f}")
    params = FunnelParams(steps, args.start, args.end, parse_window(args.window))
    low, after = funnel.bounds(params, tz)
    con = duckdb.connect(str(mirror.mirror_path(args.data_dir)), read_only=True)
    try:
        sql = hand_sql(params, low, after)
        seconds, rows = _median_run(lambda: con.execute(sql).fetchall(), args.repeats)
    finally:
        con.close()
    hand = [int(n) for _k, n in rows]  # type: ignore[union-attr]
    print(f"hand SQL  ordered   median {seconds:6.2f} s  steps {hand}  load {os.getloadavg()[0]:.2f}")
    assert hand == counts["ordered"], "the hand-written query and Siyu's funnel disagree"
    print("per-step counts agree")


if __name__ == "__main__":
    main()
