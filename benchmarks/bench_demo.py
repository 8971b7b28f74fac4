"""Measure `siyu demo`: wall time and facts/s of the service path and of the bulk path.

Reproduce:  .venv/bin/python benchmarks/bench_demo.py [--customers 20000] [--bulk-customers 100000]

Each run builds the brand into a fresh SQLite file (or PostgreSQL with SIYU_BENCH_POSTGRES_URL) with
seed 42, exactly as `siyu demo --customers N --seed 42 --reset --mode ingest|bulk` does, and prints
the counts it produced. The 1M-customer run of docs/PERFORMANCE.md is
`--bulk-customers 1000000` (several minutes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from siyu.config import Settings
from siyu.db.reset import reset_database
from siyu.demo.runner import DemoOptions, build

SECRET = "bench-secret-key-0123456789abcdef0123456789"


def run(customers: int, mode: str, base: Path) -> None:
    """Build the demo once and print what it took."""
    url = os.environ.get("SIYU_BENCH_POSTGRES_URL") or f"sqlite:///{base / f'demo-{mode}.db'}"
    settings = Settings(data_dir=base, database_url=url, secret_key=SECRET)
    engine = reset_database(url)
    report = build(engine, settings, DemoOptions(customers=customers, seed=42, until=date(2026, 11, 1), mode=mode))
    engine.dispose()
    c = report.counts
    print(f"  {mode:<6} {customers:>9,} customers: {report.seconds:7.1f} s, {report.facts / report.seconds:>8,.0f} "
          f"facts/s | live {c['customers']:,} merged {c['merged_customers']:,} identities {c['identities']:,} "
          f"orders {c['orders']:,} events {c['events']:,} review {c['review_items']:,}")


def main() -> None:
    """Run the service path at --customers and the bulk path at --bulk-customers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--bulk-customers", type=int, default=100_000)
    args = parser.parse_args()
    print(f"siyu demo benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{'postgresql' if os.environ.get('SIYU_BENCH_POSTGRES_URL') else 'sqlite'})")
    with tempfile.TemporaryDirectory() as tmp:
        if args.customers:
            run(args.customers, "ingest", Path(tmp))
        if args.bulk_customers:
            run(args.bulk_customers, "bulk", Path(tmp))


if __name__ == "__main__":
    main()
