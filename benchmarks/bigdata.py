"""Build the issue-4 benchmark store: 1M customers, ~10M orders, 50M events, deterministically.

Reproduce (about 35-45 minutes on the 2-CPU machine; ~30 GB under the data directory):
  .venv/bin/python benchmarks/bigdata.py --data-dir /work/data-50m
  # faster when a demo store of the same parameters exists (copied, never written):
  .venv/bin/python benchmarks/bigdata.py --data-dir /work/data-50m --from-store /work/data-1m/siyu.db

Then use it like any store: SIYU_DATA_DIR=/work/data-50m SIYU_SECRET_KEY=<the key below> siyu analyze …,
or ``--database-url sqlite:////work/data-50m/siyu.db --data-dir /work/data-50m`` in the benchmarks.

Why this shape: the analyses read the DuckDB mirror, but incremental segment refresh, the console and
the mirror's own sync read the operational SQLite store, so the benchmark data is a real store and the
mirror is synced from it like any other. Steps (each recorded in ``bigdata.json`` beside the store, so
an interrupted build resumes at the step that did not finish):

1. ``demo``: ``siyu demo --customers 1000000 --seed 42 --until 2026-11-01`` (the documented 1M store:
   1.67M live customers after 126k merges, 3.77M identities, 8.2M orders, 4.5M events), or a copy of it.
2. ``orders``: repeat purchases of real paid orders (same identity, lines and amount, 3 days to a few
   months later, 3.5% refunded) up to ``--orders`` orders, with their lines and order facts.
3. ``events``: events derived from every customer's real activity up to ``--events`` in total
   (``bigdata_gen.py`` says how), written in time order with the store's event-id scheme ``bx…``.
4. ``mirror``: the first sync of ``analytics.duckdb`` (later syncs are incremental); the analyses'
   benchmarks can run from here on.
5. ``summaries``: ``siyu analytics refresh --full`` (the dashboard's summaries count the new facts).

Never point it at /work/data-1m: it writes into the store it builds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bigdata_gen as gen  # noqa: E402  (the benchmarks directory is not a package)

from siyu.analytics import mirror  # noqa: E402
from siyu.db.engine import make_engine  # noqa: E402
from siyu.demo.runner import window  # noqa: E402

BENCH_KEY = "bench-secret-key-0123456789abcdef0123456789"
STEPS = ("demo", "orders", "events", "mirror", "summaries")
TS = "strftime('%Y-%m-%d %H:%M:%S.000000', {}, 'unixepoch')"  # how SQLAlchemy stores a UTC DATETIME
EPOCH = "CAST(strftime('%s', {}) AS INTEGER)"
BATCH = 100_000


class Manifest:
    """``bigdata.json``: the parameters, and per step its state, figures and seconds."""

    def __init__(self, path: Path, params: dict[str, Any]):
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"params": params, "steps": {}}
        if self.data["params"] != params:
            raise SystemExit(f"{path} was built with {self.data['params']}; use another --data-dir or delete it")

    def done(self, step: str) -> bool:
        """Return whether ``step`` finished."""
        return self.data["steps"].get(step, {}).get("state") == "done"

    def mark(self, step: str, **values: Any) -> None:
        """Record (and write at once) the state and figures of ``step``."""
        self.data["steps"].setdefault(step, {}).update(values)
        self.path.write_text(json.dumps(self.data, indent=2, ensure_ascii=False))


def _open_store(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = OFF")  # a build: a crash means building again, not a torn store
    con.execute("PRAGMA cache_size = -1000000")  # 1 GB: index rebuilds sort in memory
    return con


def _tops(store: sqlite3.Connection) -> dict[str, int]:
    return {t: store.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
            for t in ("orders", "order_items", "order_facts", "events")}


def _undo(store: sqlite3.Connection, tops: dict[str, int]) -> None:
    """Delete what an interrupted step appended past the tops it started from."""
    store.execute("BEGIN")
    for table, top in tops.items():
        store.execute(f"DELETE FROM {table} WHERE id > ?", (top,))
    store.execute("COMMIT")


def _load(con: duckdb.DuckDBPyConnection, store: sqlite3.Connection, name: str, types: dict[str, pa.DataType],
          sql: str) -> int:
    """Copy the rows of ``sql`` from the store into a new DuckDB table ``name`` with ``types``."""
    names = list(types)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM "
                f"(SELECT {', '.join(f'NULL::{_duck(t)} AS {n}' for n, t in types.items())}) WHERE false")
    cursor, copied = store.execute(sql), 0
    while rows := cursor.fetchmany(BATCH * 5):
        batch = pa.table({n: pa.array([r[i] for r in rows], types[n]) for i, n in enumerate(names)})
        con.register("batch", batch)
        con.execute(f"INSERT INTO {name} SELECT * FROM batch")
        con.unregister("batch")
        copied += len(rows)
    return copied


def _duck(t: pa.DataType) -> str:
    return "BIGINT" if pa.types.is_integer(t) else "VARCHAR"


I64, STR = pa.int64(), pa.string()


def load_anchors(con: duckdb.DuckDBPyConnection, store: sqlite3.Connection) -> dict[str, int]:
    """Read what the generator derives from: identities, live customers, orders, first lines, contacts, stays."""
    events = "SELECT identity_id, json_extract(properties, '$.{}'), " + EPOCH.format("occurred_at") + \
             " FROM events WHERE type = '{}'"
    return {
        "idents": _load(con, store, "idents", {"id": I64, "customer_id": I64, "kind": STR},
                        "SELECT id, customer_id, kind FROM identities"),
        "customers": _load(con, store, "customers", {"id": I64, "first_s": I64},
                           f"SELECT id, {EPOCH.format('first_seen_at')} FROM customers WHERE merged_into_id IS NULL"),
        "orders": _load(con, store, "orders", {"id": I64, "identity_id": I64, "channel": STR, "store": STR,
                                               "amount_fen": I64, "paid_s": I64},
                        f"SELECT id, identity_id, channel, store, amount_fen, {EPOCH.format('paid_at')} FROM orders"),
        # SQLite takes a bare column from the row min() picks: each order's first line
        "first_items": _load(con, store, "first_items", {"order_pk": I64, "first_id": I64, "sku": STR, "category": STR},
                             "SELECT order_pk, min(id), sku, category FROM order_items GROUP BY order_pk"),
        "contacts": _load(con, store, "contacts", {"identity_id": I64, "staff": STR, "t": I64},
                          events.format("staff_userid", "contact_added")),
        "stays": _load(con, store, "stays", {"identity_id": I64, "chat_id": STR, "t": I64},
                       events.format("chat_id", "group_joined")),
    }


def step_demo(args: argparse.Namespace, store_path: Path) -> dict[str, Any]:
    """Build (or copy) the 1M-customer demo store."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    if args.from_store:
        shutil.copyfile(args.from_store, store_path)
        return {"copied_from": str(args.from_store)}
    env = {**os.environ, "SIYU_DATA_DIR": str(args.data_dir), "SIYU_DATABASE_URL": f"sqlite:///{store_path}",
           "SIYU_SECRET_KEY": os.environ.get("SIYU_SECRET_KEY", BENCH_KEY)}
    subprocess.run([str(Path(sys.executable).with_name("siyu")), "demo", "--customers", str(args.customers),
                    "--seed", str(args.seed), "--until", args.until.isoformat(), "--reset", "--no-progress"],
                   env=env, check=True)
    return {}


def step_orders(args: argparse.Namespace, store: sqlite3.Connection, con: duckdb.DuckDBPyConnection,
                end: int) -> dict[str, Any]:
    """Append repeat purchases (orders, their lines and facts) up to ``--orders`` orders."""
    tops = _tops(store)
    needed = args.orders - store.execute("SELECT count(*) FROM orders").fetchone()[0]
    added = gen.repeat_orders(con, needed, end)
    rows = con.execute(f"""SELECT {tops['orders']} + 1 + n, n, identity_id, channel, store, amount_fen,
                                  CASE WHEN refund_t IS NULL THEN 0 ELSE amount_fen END,
                                  CASE WHEN refund_t IS NULL THEN 'paid' ELSE 'refunded' END, t, coalesce(refund_t, t),
                                  template
                           FROM new_orders ORDER BY n""").fetchall()
    store.execute("BEGIN")
    store.executemany(f"INSERT INTO orders (id, order_id, identity_id, channel, store, currency, amount_fen, refunded_fen, "
                      f"status, placed_at, paid_at, updated_at, properties) VALUES (?1, printf('BX%09d', ?2), ?3, ?4, ?5, "
                      f"'CNY', ?6, ?7, ?8, {TS.format('?9')}, {TS.format('?9')}, {TS.format('?10')}, '{{}}')",
                      [r[:10] for r in rows])
    store.execute("CREATE TEMP TABLE repeat_of (pk INTEGER PRIMARY KEY, template INTEGER)")
    store.executemany("INSERT INTO repeat_of VALUES (?, ?)", [(r[0], r[10]) for r in rows])
    store.execute("INSERT INTO order_items (order_pk, sku, name, category, quantity, unit_price_fen, amount_fen) "
                  "SELECT r.pk, i.sku, i.name, i.category, i.quantity, i.unit_price_fen, i.amount_fen "
                  "FROM repeat_of r JOIN order_items i ON i.order_pk = r.template ORDER BY r.pk, i.id")
    store.execute(f"""INSERT INTO order_facts (order_pk, status, fact_key, amount_fen, occurred_at, received_at, properties)
                      SELECT pk, status, '', amount_fen, at, at, '{{}}' FROM (
                          SELECT id AS pk, 'paid' AS status, amount_fen, paid_at AS at FROM orders WHERE id > ?1
                          UNION ALL SELECT id, 'refunded', refunded_fen, updated_at FROM orders
                          WHERE id > ?1 AND status = 'refunded') ORDER BY at, pk, status""", (tops["orders"],))
    store.execute("COMMIT")
    store.execute("DROP TABLE temp.repeat_of")
    return {"added_orders": added, "refunded": sum(1 for r in rows if r[7] == "refunded")}


def step_events(args: argparse.Namespace, store: sqlite3.Connection, con: duckdb.DuckDBPyConnection,
                end: int) -> dict[str, Any]:
    """Generate the events up to ``--events`` and append them in time order, indexes rebuilt after."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    order_top = store.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0]
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'new_orders'").fetchone()[0]:
        con.execute("CREATE TABLE new_orders (n BIGINT, template BIGINT, identity_id BIGINT, channel VARCHAR, "
                    "store VARCHAR, amount_fen BIGINT, t BIGINT, refund_t BIGINT)")
    if con.execute("SELECT count(*) FROM new_orders").fetchone()[0]:
        order_top -= con.execute("SELECT count(*) FROM new_orders").fetchone()[0]  # their ids follow the demo's
    gen.anchors(con, order_top, end)
    gen.journeys(con)
    gen.wecom(con)
    gen.official_account(con)
    con.execute(f"DELETE FROM gen WHERE t >= {end} OR identity_id IS NULL")
    have = store.execute("SELECT count(*) FROM events").fetchone()[0]
    needed = args.events - have - con.execute("SELECT count(*) FROM gen").fetchone()[0]
    scale = gen.session_scale(con, needed)
    gen.sessions(con, scale, needed)
    kinds = dict(con.execute("SELECT type, count(*) FROM gen GROUP BY 1 ORDER BY 2 DESC").fetchall())
    timings["generate"] = time.perf_counter() - clock
    written = _write_events(store, con, timings)
    return {"events_before": have, "added_events": written, "session_scale": scale, "by_type": kinds,
            "phases": {k: round(v, 1) for k, v in timings.items()}}


def _write_events(store: sqlite3.Connection, con: duckdb.DuckDBPyConnection, timings: dict[str, float]) -> int:
    clock = time.perf_counter()
    indexes = store.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
                            "AND sql IS NOT NULL").fetchall()
    for name, _sql in indexes:
        store.execute(f"DROP INDEX {name}")  # rebuilt from the same DDL below: far cheaper than kept during the load
    top = store.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    insert = (f"INSERT INTO events (id, event_id, type, occurred_at, received_at, identity_id, channel, properties) "
              f"VALUES (?1, printf('bx%010d', ?2), ?3, {TS.format('?4')}, {TS.format('?4 + ?5')}, ?6, ?7, ?8)")
    lo, hi = con.execute("SELECT min(t), max(t) FROM gen").fetchone()
    written, month = 0, 30 * 86_400
    for start in range(lo - lo % month, hi + 1, month):  # a month at a time: each sort fits in memory
        cursor = con.execute(f"""
            SELECT {top} + {written} + row_number() OVER w, {written} + row_number() OVER w - 1, type, t,
                   1 + hash(t, identity_id, k1, k2) % 120, identity_id, channel, props
            FROM gen WHERE t >= {start} AND t < {start + month}
            WINDOW w AS (ORDER BY t, identity_id, type, k1, k2, props) ORDER BY t, identity_id, type, k1, k2, props""")
        store.execute("BEGIN")
        while rows := cursor.fetchmany(BATCH):
            store.executemany(insert, rows)
            written += len(rows)
        store.execute("COMMIT")
    timings["insert"] = time.perf_counter() - clock
    clock = time.perf_counter()
    for _name, sql in indexes:
        store.execute(sql)
    store.execute("ANALYZE events")
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    timings["indexes"] = time.perf_counter() - clock
    return written


def step_summaries(args: argparse.Namespace, store_path: Path) -> dict[str, Any]:
    """Rebuild the dashboard's summaries over every fact."""
    env = {**os.environ, "SIYU_DATA_DIR": str(args.data_dir), "SIYU_DATABASE_URL": f"sqlite:///{store_path}",
           "SIYU_SECRET_KEY": os.environ.get("SIYU_SECRET_KEY", BENCH_KEY)}
    subprocess.run([str(Path(sys.executable).with_name("siyu")), "analytics", "refresh", "--full", "--quiet"],
                   env=env, check=True)
    return {}


def step_mirror(args: argparse.Namespace, store_path: Path) -> dict[str, Any]:
    """Sync the DuckDB mirror from scratch."""
    engine = make_engine(f"sqlite:///{store_path}")
    try:
        result = mirror.sync(engine, mirror.mirror_path(args.data_dir))
    finally:
        engine.dispose()
    return {"rows": result.rows}


def counts(store: sqlite3.Connection) -> dict[str, int]:
    """Return the sizes the issue's targets name."""
    return {"live_customers": store.execute("SELECT count(*) FROM customers WHERE merged_into_id IS NULL").fetchone()[0],
            "merged_customers": store.execute("SELECT count(*) FROM customers WHERE merged_into_id IS NOT NULL")
            .fetchone()[0],
            **{t: store.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("identities", "orders", "order_items", "order_facts", "events")}}


def _run(manifest: Manifest, step: str, fn: Callable[[], dict[str, Any]], store_path: Path) -> None:
    if manifest.done(step):
        print(f"{step}: done before ({manifest.data['steps'][step].get('seconds')} s)")
        return
    state = manifest.data["steps"].get(step, {})
    if step in ("orders", "events") and state.get("state") == "started":
        with closing(_open_store(store_path)) as store:
            _undo(store, state["tops"])
    if step in ("orders", "events"):
        with closing(_open_store(store_path)) as store:
            manifest.mark(step, state="started", tops=_tops(store))
    print(f"{step}: running (load average {os.getloadavg()[0]:.2f})", flush=True)
    started = time.perf_counter()
    figures = fn()
    seconds = round(time.perf_counter() - started, 1)
    manifest.mark(step, state="done", seconds=seconds, **figures)
    print(f"{step}: {seconds} s {json.dumps(figures, ensure_ascii=False)}", flush=True)


def main() -> None:
    """Build the store step by step, then print its sizes and where the time went."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("/work/data-50m"))
    parser.add_argument("--from-store", type=Path, help="copy this demo store (same customers, seed, until)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--until", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--memory", default="6GB", help="DuckDB's memory limit while generating")
    args = parser.parse_args()
    if args.data_dir.resolve() == Path("/work/data-1m"):
        raise SystemExit("never build into /work/data-1m: other work reads that store")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store_path = args.data_dir / "siyu.db"
    params = {k: str(v) for k, v in vars(args).items() if k in ("customers", "seed", "until", "orders", "events")}
    manifest = Manifest(args.data_dir / "bigdata.json", params)
    _start, end = window(args.until)
    scratch = args.data_dir / "bigdata-scratch.duckdb"
    con = duckdb.connect(str(scratch))
    con.execute(f"SET memory_limit = '{args.memory}'")
    con.execute("SET preserve_insertion_order = false")
    gen.macros(con, args.seed, end)
    started = time.perf_counter()
    _run(manifest, "demo", lambda: step_demo(args, store_path), store_path)
    with closing(_open_store(store_path)) as store:
        if not (manifest.done("orders") and manifest.done("events")):
            clock = time.perf_counter()
            if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'idents'").fetchone()[0]:
                manifest.mark("anchors", rows=load_anchors(con, store), seconds=round(time.perf_counter() - clock, 1))
        _run(manifest, "orders", lambda: step_orders(args, store, con, end), store_path)
        _run(manifest, "events", lambda: step_events(args, store, con, end), store_path)
    con.close()
    scratch.unlink(missing_ok=True)
    _run(manifest, "mirror", lambda: step_mirror(args, store_path), store_path)  # the analyses can start here
    _run(manifest, "summaries", lambda: step_summaries(args, store_path), store_path)
    with closing(_open_store(store_path)) as store:
        manifest.mark("result", counts=counts(store), seconds=round(time.perf_counter() - started, 1))
    print(json.dumps(manifest.data["steps"]["result"], indent=2))


if __name__ == "__main__":
    main()
