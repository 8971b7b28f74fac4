"""Generate a store of N buyers whose purchases follow a BG/NBD process, for bench_clv.py when no demo store is at hand.

  .venv/bin/python benchmarks/clv_store.py --path /tmp/clv-1m/siyu.db --customers 1000000 [--seed 7]

Each customer's first purchase falls on a uniform day of the two years before 2026-11-01 (Asia/Shanghai);
while alive they buy as a Poisson process (rate ~ Gamma(0.9, 1/30 per day)), and after each repeat
purchase drop out with a probability ~ Beta(1.2, 8); amounts are Gamma(5) around a customer mean that
is log-normal around ¥150, and 3% of orders are refunded in full a few days later. The store is
migrated and written with plain executemany (one member_no identity per customer, one paid fact per
order), so the mirror, the analyses and the scores write-back read it like any store. It has no
events, staff or merges: it measures the CLV and scores paths at scale, not a brand.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from siyu.db.reset import reset_database

END = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 2026-11-01 00:00 in Shanghai
DAYS = 730


def _ts(seconds: np.ndarray) -> list[str]:
    """Return epoch seconds as the UTC text SQLAlchemy stores in SQLite."""
    base = datetime(1970, 1, 1)
    return [(base + timedelta(seconds=int(s))).strftime("%Y-%m-%d %H:%M:%S.000000") for s in seconds]


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (customer index, purchase epoch second, amount fen) of every purchase."""
    rng = np.random.default_rng(seed)
    end = END.timestamp()
    start = end - rng.uniform(1, DAYS, n) * 86_400
    rate = rng.gamma(0.9, 1 / 30, n) / 86_400
    dropout = rng.beta(1.2, 8.0, n)
    mean = np.exp(rng.normal(np.log(15_000), 0.6, n))
    who, when = [np.arange(n)], [start]
    t, alive = start.copy(), np.ones(n, bool)
    while alive.any():
        t = t + rng.exponential(1 / np.maximum(rate, 1e-12))
        alive &= t < end
        who.append(np.flatnonzero(alive))
        when.append(t[alive])
        alive &= rng.random(n) >= dropout
    customers, times = np.concatenate(who), np.concatenate(when)
    amounts = np.maximum(100, rng.gamma(5.0, mean[customers] / 5.0)).astype(np.int64)
    return customers, times.astype(np.int64), amounts


def build(path: Path, n: int, seed: int) -> dict[str, int]:
    """Create the store at ``path`` and fill it; return row counts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reset_database(f"sqlite:///{path}").dispose()
    customers, times, amounts = simulate(n, seed)
    order = np.lexsort((times, customers))
    customers, times, amounts = customers[order], times[order], amounts[order]
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, customers, times)
    rng = np.random.default_rng(seed + 1)
    refunded = rng.random(times.size) < 0.03
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    with con:
        stamps = _ts(first)
        con.executemany("INSERT INTO customers (id, gender, attributes, first_seen_at, created_at, updated_at) "
                        "VALUES (?, 'unknown', '{}', ?, ?, ?)", ((i + 1, s, s, s) for i, s in enumerate(stamps)))
        con.executemany("INSERT INTO identities (id, kind, lookup, value, masked, customer_id, origin_customer_id, "
                        "cause_type, cause_ref, created_at) VALUES (?, 'member_no', ?, ?, ?, ?, ?, 'import', '', ?)",
                        ((i + 1, f"m{i + 1}", f"M{i + 1}", f"M{i + 1}", i + 1, i + 1, s) for i, s in enumerate(stamps)))
        paid = _ts(times)
        back = _ts(times + 3 * 86_400)
        con.executemany("INSERT INTO orders (id, order_id, identity_id, currency, amount_fen, refunded_fen, status, "
                        "placed_at, paid_at, updated_at, properties) VALUES (?, ?, ?, 'CNY', ?, ?, ?, ?, ?, ?, '{}')",
                        ((k + 1, f"G{k + 1}", int(c) + 1, int(a), int(a) if r else 0, "refunded" if r else "paid",
                          p, p, p) for k, (c, a, r, p) in enumerate(zip(customers, amounts, refunded, paid))))
        con.executemany("INSERT INTO order_facts (id, order_pk, status, fact_key, amount_fen, occurred_at, received_at, "
                        "properties) VALUES (?, ?, 'paid', '', ?, ?, ?, '{}')",
                        ((k + 1, k + 1, int(a), p, p) for k, (a, p) in enumerate(zip(amounts, paid))))
        refunds = np.flatnonzero(refunded)
        con.executemany("INSERT INTO order_facts (id, order_pk, status, fact_key, amount_fen, occurred_at, received_at, "
                        "properties) VALUES (?, ?, 'refunded', 'r1', ?, ?, ?, '{}')",
                        ((times.size + j + 1, int(k) + 1, int(amounts[k]), back[k], back[k]) for j, k in enumerate(refunds)))
    con.close()
    return {"customers": n, "orders": int(times.size), "refunded": int(refunds.size)}


def main() -> None:
    """Build the store and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = build(args.path, args.customers, args.seed)
    print(f"{counts} in {time.perf_counter() - started:.1f} s at {args.path}")


if __name__ == "__main__":
    main()
