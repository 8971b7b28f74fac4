"""Measure `siyu demo`: wall time, time per phase and database size of the service path and of the bulk path.

Reproduce:  .venv/bin/python benchmarks/bench_demo.py [--customers 20000] [--bulk-customers 100000]
The 1M run of docs/PERFORMANCE.md:  .venv/bin/python benchmarks/bench_demo.py --customers 0 --bulk-customers 1000000

Each run builds the brand into a fresh SQLite file (or PostgreSQL with SIYU_BENCH_POSTGRES_URL) with
seed 42 and history ending 2026-11-01, exactly as `siyu demo --customers N --seed 42 --reset
--until 2026-11-01 --mode ingest|bulk` does, and prints the counts it produced. With
--bulk-customers it also prints the bulk path's phases (the two processes' phases overlap) and how
much of the graph side identity resolution took (``resolver``: time inside ``Resolver.resolve`` on
the service path, inside the bulk loader's in-memory ``MemoryGraph.resolve`` on the bulk path).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from siyu.config import Settings
from siyu.db.reset import reset_database
from siyu.db.engine import long_writes_expected
from siyu.demo.runner import DemoOptions, build
from siyu.domains.identity import resolver
from siyu.domains.ingest import bulk_graph

SECRET = "bench-secret-key-0123456789abcdef0123456789"
RESOLVER = {"seconds": 0.0, "cpu": 0.0, "calls": 0, "facts": 0}


def _timed(resolve: Any) -> Any:
    @functools.wraps(resolve)
    def wrapper(self: Any, facts: list[Any], *args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return resolve(self, facts, *args, **kwargs)
        finally:
            RESOLVER["seconds"] += time.perf_counter() - started
            RESOLVER["cpu"] += time.process_time() - cpu
            RESOLVER["calls"] += 1
            RESOLVER["facts"] += len(facts)
    return wrapper


def run(customers: int, mode: str, base: Path) -> None:
    """Build the demo once and print what it took."""
    url = os.environ.get("SIYU_BENCH_POSTGRES_URL") or f"sqlite:///{base / f'demo-{mode}.db'}"
    settings = Settings(data_dir=base, database_url=url, secret_key=SECRET)
    engine = reset_database(url)
    RESOLVER.update(seconds=0.0, cpu=0.0, calls=0, facts=0)
    with long_writes_expected():  # as `siyu demo`: the build's long transactions are expected
        report = build(engine, settings, DemoOptions(customers=customers, seed=42, until=date(2026, 11, 1), mode=mode))
    engine.dispose()
    c = report.counts
    print(f"  {mode:<6} {customers:>9,} customers: {report.seconds:7.1f} s, {report.facts / report.seconds:>9,.0f} "
          f"facts/s | live {c['customers']:,} merged {c['merged_customers']:,} identities {c['identities']:,} "
          f"orders {c['orders']:,} order facts {c['order_facts']:,} events {c['events']:,} "
          f"follow relations {c['ownerships']:,} review {c['review_items']:,}")
    if report.phases:
        print("         phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report.phases.items()))
    cpu = getattr(report, "cpu", {})  # absent before 23 Nov 2026: the same script can time an older checkout
    if cpu:
        print("         phases, CPU of their process (s): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    print(f"         resolver: {RESOLVER['seconds']:.1f} s ({RESOLVER['cpu']:.1f} s CPU) in {RESOLVER['calls']:,} calls "
          f"for {RESOLVER['facts']:,} facts; load average {os.getloadavg()[0]:.1f}")
    if url.startswith("sqlite"):
        size = sum(p.stat().st_size for p in base.glob(f"demo-{mode}.db*"))
        print(f"         database: {size / 1e9:.2f} GB")


def main() -> None:
    """Run the service path at --customers and the bulk path at --bulk-customers (0 skips either)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--bulk-customers", type=int, default=100_000)
    args = parser.parse_args()
    resolver.Resolver.resolve = _timed(resolver.Resolver.resolve)  # type: ignore[method-assign]
    bulk_graph.MemoryGraph.resolve = _timed(bulk_graph.MemoryGraph.resolve)  # type: ignore[method-assign]
    print(f"siyu demo benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{'postgresql' if os.environ.get('SIYU_BENCH_POSTGRES_URL') else 'sqlite'})")
    with tempfile.TemporaryDirectory(dir=os.environ.get("SIYU_BENCH_DIR")) as tmp:
        if args.customers:
            run(args.customers, "ingest", Path(tmp))
        if args.bulk_customers:
            run(args.bulk_customers, "bulk", Path(tmp))


if __name__ == "__main__":
    main()
