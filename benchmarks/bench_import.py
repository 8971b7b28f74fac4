"""Measure `siyu import` throughput (rows/s) on SQLite, or PostgreSQL with SIYU_BENCH_POSTGRES_URL.

Reproduce:  .venv/bin/python benchmarks/bench_import.py [--rows 100000] [--repeats 3] [--mode in-process|reader]
            [--kinds events|orders|customers] [--statements]

Files are written from the demo generator's people (realistic identities and orders), then imported
through `run_import` exactly as the CLI does (chunks of 2,000 rows, one transaction each, through
the ingestion services' prepare and write halves), once in one process and once with the reader
process preparing chunks ahead (`--mode` picks one), each on a fresh database. Scenarios:

* events, first time: every row brings identities the database has never seen (creates customers);
* events, steady state: the same people's identities exist; new events only;
* orders, first time and steady state, likewise;
* re-import of the same file: everything is a duplicate;
* customers (CRM records) over existing identities, and of new people.

On SQLite each line also prints the time spent inside SQLite itself (every execute, executemany,
fetch and commit, timed through a connection subclass) and the rate that time alone allows: the
storage floor no amount of Python speed-up can pass with this schema on one writer. Every line
also prints the CPU time of the importing process per row, which other jobs on a shared machine
disturb much less than the wall-clock rate (with the reader process, the reader's is printed beside it).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event

from siyu.cli.import_cmds import run_import
from siyu.config import Settings
from siyu.db.engine import make_engine
from siyu.db.reset import reset_database
from siyu.demo.people import MINI
from siyu.demo.runner import window
from siyu.kit.runtime import tune_gc

SECRET = "bench-secret-key-0123456789abcdef0123456789"


def _people(rows: int) -> list[tuple[str, str, str]]:
    return [(f"o{i:012d}mini", f"13{i % 9 + 1}{i:08d}"[:11], f"u{i:012d}union") for i in range(rows)]


def write_events(path: Path, rows: int, tag: str) -> None:
    """Write an events CSV: one event per person (openid + unionid), with two properties."""
    start, _end = window(None)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event_id", "type", "occurred_at", "channel", f"id.{MINI}", "id.unionid", "prop.content_id",
                    "prop.topic"])
        for i, (openid, _phone, union) in enumerate(_people(rows)):
            w.writerow([f"{tag}-{i}", "content_viewed", start + i, "mini_program", openid, union, f"c{i % 10}", "茶"])


def write_orders(path: Path, rows: int, tag: str) -> None:
    """Write an orders JSON Lines file: one paid order per person with one line."""
    start, _end = window(None)
    with path.open("wb") as f:
        for i, (openid, phone, _u) in enumerate(_people(rows)):
            f.write(orjson.dumps({"order_id": f"{tag}-{i}", "status": "paid", "occurred_at": start + i,
                                  "amount": "38.00", "channel": "mini_program",
                                  "identities": {MINI: openid, "phone": phone},
                                  "items": [{"sku": "T001", "quantity": 2, "unit_price": "19.00"}]}) + b"\n")


def write_customers(path: Path, rows: int, new: bool = False) -> None:
    """Write a customers CSV over the same people's phones (``new``: people no file named before, phone + unionid)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id.phone", "name", "gender", "city", "attr.level", *(["id.unionid"] if new else [])])
        for i, (_o, phone, union) in enumerate(_people(rows)):
            if new:
                phone, union = f"15{i % 9 + 1}{i:08d}"[:11], union.replace("union", "crm")
            w.writerow([phone, f"客户{i}", "female" if i % 3 else "male", "上海", "gold" if i % 7 == 0 else "silver",
                        *([union] if new else [])])


IN_SQLITE = [0.0]
STATEMENTS = [False]
BY_STATEMENT: dict[str, float] = {}  # --statements: time inside SQLite per statement (fetches count for theirs)
_LAST = [""]


def _clocked(method: Any, label: str | None = None) -> Any:
    def call(self: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(self, *args)
        finally:
            spent = time.perf_counter() - started
            IN_SQLITE[0] += spent
            if label is None and args:
                _LAST[0] = re.sub(r"\?(, \?)+", "?…", " ".join(str(args[0]).split()))[:64]
            key = label or _LAST[0]
            BY_STATEMENT[key] = BY_STATEMENT.get(key, 0.0) + spent
    return call


class _Cursor(sqlite3.Cursor):
    execute = _clocked(sqlite3.Cursor.execute)
    executemany = _clocked(sqlite3.Cursor.executemany)
    fetchall = _clocked(sqlite3.Cursor.fetchall, "")
    fetchone = _clocked(sqlite3.Cursor.fetchone, "")
    fetchmany = _clocked(sqlite3.Cursor.fetchmany, "")


class _Connection(sqlite3.Connection):
    commit = _clocked(sqlite3.Connection.commit, "commit")
    rollback = _clocked(sqlite3.Connection.rollback, "rollback")

    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the reader process, once it has been joined
    return usage.ru_utime + usage.ru_stime


def _timed(kind: str, path: Path, url: str, settings: Settings, parallel: bool) -> tuple[float, str]:
    engine = make_engine(url)
    if url.startswith("sqlite"):
        event.listen(engine, "do_connect", lambda _d, _r, _a, params: params.update(factory=_Connection))
    IN_SQLITE[0] = 0.0
    BY_STATEMENT.clear()
    cpu, children = time.process_time(), _children_cpu()
    summary = run_import(kind, path, eng=engine, settings=settings, parallel=parallel)
    cpu, children = time.process_time() - cpu, _children_cpu() - children
    engine.dispose()
    detail = (f"accepted {summary.accepted:,} dup {summary.duplicates:,} rejected {summary.rejected:,}; "
              f"CPU of this process {cpu / summary.read * 1e6:.1f} µs/row")
    if parallel:
        detail += f" (of the reader process {children / summary.read * 1e6:.1f})"
    if IN_SQLITE[0]:
        detail += (f"; inside SQLite {IN_SQLITE[0]:.2f} of {summary.seconds:.2f} s, storage floor "
                   f"{summary.read / IN_SQLITE[0]:,.0f} rows/s")
        if STATEMENTS[0]:
            top = sorted(BY_STATEMENT.items(), key=lambda kv: -kv[1])[:10]
            detail += "".join(f"\n      {t / summary.read * 1e6:6.2f} µs/row  {k}" for k, t in top)
    return summary.rows_per_second, detail


def _median(runs: list[tuple[float, str]]) -> str:
    ranked = sorted(runs)
    rate, detail = ranked[len(ranked) // 2]
    return f"{rate:>9,.0f} rows/s  (median of {len(runs)}: {' · '.join(f'{r:,.0f}' for r, _d in runs)}; {detail})"


def scenarios(base: Path, url: str, rows: int, repeats: int, parallel: bool, kinds: str = "all") -> None:
    """Run every scenario on a fresh database, in-process or with the reader process, and print rows/s."""
    settings = Settings(data_dir=base, database_url=url, secret_key=SECRET)
    reset_database(url).dispose()
    write_events(base / "e0.csv", rows, "first")
    write_orders(base / "o0.jsonl", rows, "first")
    write_customers(base / "c.csv", rows)
    write_customers(base / "c_new.csv", rows, new=True)
    print(f" {'with the reader process' if parallel else 'in one process'} (load average before: "
          f"{os.getloadavg()[0]:.2f})")

    def once(label: str, kind: str, name: str) -> None:
        rate, detail = _timed(kind, base / name, url, settings, parallel)
        print(f"  {label:<43} {rate:>9,.0f} rows/s  ({detail})")

    def steady(label: str, kind: str, write: Callable[[Path, int, str], None], suffix: str) -> None:
        runs = []
        for r in range(repeats):
            write(base / f"{kind}{r + 1}{suffix}", rows, f"steady{r}")
            runs.append(_timed(kind, base / f"{kind}{r + 1}{suffix}", url, settings, parallel))
        print(f"  {label:<43} {_median(runs)}")

    if kinds in ("all", "events"):
        once("events CSV, first time (creates customers):", "events", "e0.csv")
        steady("events CSV, steady state:", "events", write_events, ".csv")
        once("events CSV, re-import (all duplicates):", "events", "e0.csv")
    if kinds in ("all", "orders"):
        first = "first phone per person" if kinds == "all" else "first time (creates customers)"  # no events before
        once(f"orders JSONL, {first}:", "orders", "o0.jsonl")
        steady("orders JSONL, steady state:", "orders", write_orders, ".jsonl")
        once("orders JSONL, re-import (all duplicates):", "orders", "o0.jsonl")
    if kinds == "customers":  # the people's phones first (not timed)
        _timed("orders", base / "o0.jsonl", url, settings, False)
    if kinds in ("all", "customers"):
        once("customers CSV over existing phones:", "customers", "c.csv")
        once("customers CSV again (nothing new):", "customers", "c.csv")
        once("customers CSV of new people (phone + unionid):", "customers", "c_new.csv")


def main() -> None:
    """Run every scenario in one process and with the reader process (the reference for each other)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", choices=("both", "in-process", "reader"), default="both")
    parser.add_argument("--kinds", choices=("all", "events", "orders", "customers"), default="all",
                        help="one kind's scenarios only (customers: after an untimed import of the people's phones)")
    parser.add_argument("--statements", action="store_true",
                        help="SQLite: print each scenario's time inside SQLite per statement (per row)")
    args = parser.parse_args()
    STATEMENTS[0] = args.statements
    tune_gc()  # as the `siyu` CLI does for every command
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        url = os.environ.get("SIYU_BENCH_POSTGRES_URL") or f"sqlite:///{base / 'bench.db'}"
        print(f"siyu import benchmark: {args.rows:,} rows per file on {url.split(':')[0]} "
              f"({os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
        for parallel in {"both": (False, True), "in-process": (False,), "reader": (True,)}[args.mode]:
            scenarios(base, url, args.rows, args.repeats, parallel, args.kinds)


if __name__ == "__main__":
    main()
