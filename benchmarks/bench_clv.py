"""Measure the CLV fit and the scores write-back on a large store (docs/PERFORMANCE.md, issue 4: fit ≤ 30 s at 1M).

Reproduce (the 1M-customer demo store; the store is only read):
  .venv/bin/python benchmarks/bench_clv.py --database-url sqlite:////work/data-1m/siyu.db \
      --data-dir /tmp/clv-bench --as-of 2026-10-31 [--repeats 3]

Syncs the DuckDB mirror under --data-dir (timed once: a first sync copies everything), then times, in the
same run, each a median of --repeats:

- ``summaries``: every buyer's (x, t_x, T, monetary) in days on the engine, fetched as Arrow;
- ``fit``: both models on the collapsed rows (collapsing included) — ``summaries + fit`` is the CLV
  fit the issue budgets at 30 s; the **reference** is the same two fits on every row, uncollapsed;
- ``predict``: every buyer's 12-month expected purchases, P(alive), expected spend and CLV;
- ``scores compute``: the whole write-back's engine query, fits and per-customer columns
  (:func:`siyu.analytics.scores.compute`), and ``scores write``: replacing ``customer_scores`` with
  those rows through the scores domain, into a scratch SQLite file holding that table and the customer
  ids its foreign key checks (the store is never written; ``--in-place`` runs :func:`scores.write_back` on the store itself instead: use a copy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from siyu.analytics import customer_value, mirror, scores
from siyu.analytics.clv import collapse_identical_rows, fit_bgnbd, fit_gamma_gamma, value_arrays
from siyu.analytics.engines import open_facts
from siyu.db.base import Base
from siyu.db.engine import make_engine, unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.scores import CustomerScore
from siyu.domains.scores import service as scores_service
from siyu.kit.time import utcnow


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Return the median seconds of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def clv_steps(store: Any, data_dir: Path, as_of: date, tz: ZoneInfo, repeats: int) -> dict[str, float]:
    """Time the summaries query, the fit, the uncollapsed reference fit and the predictions."""
    facts = open_facts(store, data_dir)
    try:
        query = customer_value.summaries(facts, as_of, tz, "day").select("frequency", "recency", "age", "monetary")
        t_query, table = timed(query.to_pyarrow, repeats)
    finally:
        facts.close()
    x, t_x, t, m = (np.asarray(table.column(c).to_numpy(), float) for c in ("frequency", "recency", "age", "monetary"))
    t_fit, (bgnbd, gamma, distinct) = timed(lambda: customer_value.fit_arrays(x, t_x, t, m), repeats)
    t_ref, (reference, _gamma) = timed(lambda: (fit_bgnbd(x, t_x, t), fit_gamma_gamma(x[x > 0], m[x > 0])), repeats)
    t_predict, _values = timed(lambda: value_arrays(bgnbd, gamma, x, t_x, t, m, time_unit="day"), repeats)
    print(f"buyers {x.size:,}, repeat buyers {int((x > 0).sum()):,}, distinct (x, t_x, T) rows {distinct:,} "
          f"(collapsed again: {collapse_identical_rows(x, t_x, t)[0][0].size:,})")
    print(f"BG/NBD r={bgnbd.r:.4f} alpha={bgnbd.alpha:.3f} a={bgnbd.a:.4f} b={bgnbd.b:.4f}; reference on every row "
          f"r={reference.r:.4f} alpha={reference.alpha:.3f} a={reference.a:.4f} b={reference.b:.4f}")
    print(f"Gamma-Gamma p={gamma.p:.4f} q={gamma.q:.4f} v={gamma.v:.1f}")
    return {"summaries": t_query, "fit": t_fit, "clv_fit_total": t_query + t_fit, "reference_fit_every_row": t_ref,
            "predict_12_months": t_predict}


def scores_steps(store: Any, data_dir: Path, as_of: date, tz: ZoneInfo, scratch: Path, in_place: bool) -> dict[str, float]:
    """Time the write-back: compute on the engine and in numpy, then replace customer_scores."""
    if in_place:
        result = scores.write_back(store, data_dir, as_of, tz, trigger="cli")
        print(f"write-back in place: {result.written:,} rows; {result.timings}")
        return {"scores_total": result.seconds, **{f"scores_{k}": v for k, v in result.timings.items()}}
    facts = open_facts(store, data_dir)
    started = time.perf_counter()
    try:
        computed = scores.compute(facts, as_of, tz, scores.ScoreConfig(), utcnow())
    finally:
        facts.close()
    t_compute = time.perf_counter() - started
    scratch.unlink(missing_ok=True)
    target = make_engine(f"sqlite:///{scratch}")
    Base.metadata.create_all(target, tables=[Customer.__table__, CustomerScore.__table__])
    with target.begin() as conn:  # the customers the scores' foreign key checks, as in the store
        now = utcnow().isoformat(" ")[:26]
        conn.exec_driver_sql("INSERT INTO customers (id, gender, attributes, first_seen_at, created_at, updated_at) "
                             "VALUES (?, 'unknown', '{}', ?, ?, ?)",
                             [(cid, now, now, now) for cid in computed.columns["customer_id"]])
    started = time.perf_counter()
    with unit_of_work(target) as session:
        written = scores_service.replace_scores(session, computed.batches())
    t_write = time.perf_counter() - started
    target.dispose()
    print(f"scores: {written:,} rows; counts {computed.counts}; compute steps {computed.timings}")
    return {"scores_compute": t_compute, "scores_write": t_write, "scores_total": t_compute + t_write}


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="where the DuckDB mirror is kept")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 31))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timezone", default="Asia/Shanghai")
    parser.add_argument("--in-place", action="store_true", help="write the scores into the store (use a copy)")
    args = parser.parse_args()
    tz = ZoneInfo(args.timezone)
    store = make_engine(args.database_url)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}")
    sync = mirror.sync(store, mirror.mirror_path(args.data_dir))
    print(f"mirror sync {sync.seconds:.1f} s: {sync.rows}")
    figures = clv_steps(store, args.data_dir, args.as_of, tz, args.repeats)
    figures.update(scores_steps(store, args.data_dir, args.as_of, tz, args.data_dir / "scores-scratch.db", args.in_place))
    for name, seconds in figures.items():
        print(f"{name:<26}{seconds:8.2f} s")
    print(f"CLV fit (summaries + fit) {'within' if figures['clv_fit_total'] <= 30 else 'OVER'} the 30 s budget; "
          f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
