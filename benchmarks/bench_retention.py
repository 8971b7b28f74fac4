"""Measure twelve-week retention against a hand-written DuckDB query and a plain pandas version.

Reproduce (the issue-4 store of docs/PERFORMANCE.md, built by benchmarks/bigdata.py):
  .venv/bin/python benchmarks/bench_retention.py --database-url sqlite:////work/data-50m/siyu.db \
      --data-dir /work/data-50m --to 2026-10-31 [--repeats 5]

Two triangles, each 12 weekly cohorts (Monday weeks of the brand's calendar whose week holds a day
of the 12 weeks ending ``--to``) followed for up to 12 weeks: cohorts by first paid order with paid
orders as coming back (``siyu analyze retention``'s default), and the same cohorts with any event as
coming back (every event type in the store: the case that reads the 50M events). Each is timed, on
the same synced mirror and in the same run, as Siyu's retention (`analytics/retention.py`, one Ibis
expression), as one hand-written DuckDB statement of the same definitions, and in plain pandas
(vectorised; its columns are loaded before timing). All three must give the same cells.
"""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from timing import timed  # benchmarks/, the script's own directory

from siyu.analytics import mirror, retention
from siyu.analytics.engines import open_facts
from siyu.db.engine import make_engine

Cells = dict[tuple[int, int], int]

HAND_SQL = """
WITH firsts AS (
  SELECT customer_id, ((floor(epoch(min(paid_at)))::BIGINT + $offset) // 86400 + 3) // 7 AS cohort
  FROM orders WHERE paid_at IS NOT NULL GROUP BY customer_id),
entries AS (SELECT * FROM firsts WHERE cohort BETWEEN $first AND $last),
active AS (
  SELECT DISTINCT customer_id, ((floor(epoch(seen_at))::BIGINT + $offset) // 86400 + 3) // 7 AS period
  FROM ({activity}) WHERE epoch(seen_at) >= $since AND epoch(seen_at) < $end)
SELECT e.cohort, a.period - e.cohort AS k, count(*) AS n
FROM entries e JOIN active a ON a.customer_id = e.customer_id
WHERE a.period - e.cohort BETWEEN 0 AND $periods GROUP BY ALL
"""
ORDERS = "SELECT customer_id, paid_at AS seen_at FROM orders WHERE paid_at IS NOT NULL"
EVENTS = "SELECT customer_id, occurred_at AS seen_at FROM events"


def bounds(params: retention.RetentionParams, tz: ZoneInfo) -> dict[str, int]:
    """Return the numbers the hand query and pandas need: zone offset, end, first period's start, periods."""
    end_local = datetime.combine(params.end + timedelta(days=1), dtime.min, tzinfo=tz)
    offset = int(end_local.utcoffset().total_seconds())  # type: ignore[union-attr]
    first = retention.period_number(params.start, "week")
    since = (retention.period_start(first, "week") - retention.EPOCH).days * 86400 - offset
    return {"offset": offset, "end": int(end_local.timestamp()), "first": first,
            "last": retention.period_number(params.end, "week"), "since": since, "periods": params.periods}


def hand_duckdb(con: duckdb.DuckDBPyConnection, activity: str, b: dict[str, int]) -> Cells:
    """Run the hand-written statement; return {(cohort, k): customers}."""
    return {(c, k): n for c, k, n in con.execute(HAND_SQL.format(activity=activity), b).fetchall()}


def plain_pandas(orders: pd.DataFrame, active: pd.DataFrame, b: dict[str, int]) -> Cells:
    """The same definitions in pandas: ``orders`` (customer_id, paid_s), ``active`` (customer_id, at_s)."""
    def week(seconds: pd.Series) -> pd.Series:
        return ((seconds + b["offset"]) // 86400 + 3) // 7

    firsts = orders.groupby("customer_id", sort=False)["paid_s"].min()
    cohort = week(firsts)
    entries = cohort[(cohort >= b["first"]) & (cohort <= b["last"])].rename("cohort")
    at = active["at_s"].to_numpy()
    keep = (at >= b["since"]) & (at < b["end"])
    seen = pd.DataFrame({"customer_id": active["customer_id"].to_numpy()[keep],
                         "period": week(pd.Series(at[keep])).to_numpy()}).drop_duplicates()
    pairs = seen.join(entries, on="customer_id", how="inner")
    pairs["k"] = pairs["period"] - pairs["cohort"]
    pairs = pairs[(pairs["k"] >= 0) & (pairs["k"] <= b["periods"])]
    return {(int(c), int(k)): int(n) for (c, k), n in pairs.groupby(["cohort", "k"]).size().items()}


def siyu_cells(result: retention.RetentionResult) -> Cells:
    """Return Siyu's result as {(cohort period, k): customers} (cells with none left out)."""
    out: Cells = {}
    for cohort in result.cohorts:
        number = retention.period_number(cohort["cohort"], "week")
        out.update({(number, k): n for k, n in enumerate(cohort["retained"]) if n})
    return out


def _epochs(con: duckdb.DuckDBPyConnection, sql: str, column: str) -> pd.DataFrame:
    return con.execute(f"SELECT customer_id, floor(epoch(seen_at))::BIGINT AS {column} FROM ({sql})").df()


def main() -> None:
    """Sync, then time the three implementations of both triangles on the same mirror."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--to", type=date.fromisoformat, required=True)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timezone", default="Asia/Shanghai")
    args = parser.parse_args()
    store, tz = make_engine(args.database_url), ZoneInfo(args.timezone)
    print(f"Retention benchmark (2 CPUs; load average {os.getloadavg()[0]:.2f}) on {args.database_url}")
    synced = mirror.sync(store, mirror.mirror_path(args.data_dir))
    print(f"  mirror sync: {synced.seconds:6.2f} s  {synced.rows}")
    con = duckdb.connect(str(mirror.mirror_path(args.data_dir)), read_only=True)
    types = tuple(r[0] for r in con.execute("SELECT DISTINCT type FROM events ORDER BY 1").fetchall())
    start = args.to - timedelta(weeks=args.weeks) + timedelta(days=1)
    orders = _epochs(con, ORDERS, "paid_s")
    events = _epochs(con, EVENTS, "at_s")
    print(f"  {len(orders):,} paid orders, {len(events):,} events loaded for pandas")
    for label, activity, table, sql in (("orders", (), orders, ORDERS), ("any event", types, events, EVENTS)):
        params = retention.RetentionParams(start=start, end=args.to, unit="week", periods=args.weeks, activity=activity)
        b = bounds(params, tz)
        print(f"{args.weeks}-week retention by first order, coming back = {label}:")
        facts = open_facts(store, args.data_dir, "duckdb", sync=False)
        siyu_s, siyu = timed("Siyu retention (Ibis on DuckDB)", lambda: siyu_cells(retention.compute(facts, params, tz)),
                              args.repeats)
        facts.close()
        hand_s, hand = timed("hand-written DuckDB SQL", lambda: hand_duckdb(con, sql, b), args.repeats)
        table = table.rename(columns={"paid_s": "at_s"})
        pandas_s, plain = timed("plain pandas", lambda: plain_pandas(orders, table, b), max(1, args.repeats // 2))
        print(f"  cells {len(siyu)}; same in all three: {siyu == hand == plain}; Siyu / hand = {siyu_s / hand_s:.2f}; "
              f"pandas / Siyu = {pandas_s / siyu_s:.1f}; Siyu ≤ 10 s: {siyu_s <= 10}")
    con.close()
    print(f"  load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
