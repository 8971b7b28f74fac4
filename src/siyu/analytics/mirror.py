"""The analytical mirror: the facts the analyses read, copied from the embedded store into DuckDB.

On the embedded default (SQLite) the analyses run on DuckDB in-process, which scans and aggregates
columns an order of magnitude faster than SQLite can. DuckDB cannot attach the SQLite file here
(its scanner extension would be downloaded at run time), so the mirror is fed from Python in Arrow
batches, incrementally:

- append-only facts (``order_facts``, ``events``) are copied past a watermark (their highest id);
- ``orders`` change only through new facts: new orders and the orders named by new facts are
  replaced;
- the identity → customer map (changed by merges, unmerges and splits) and the live customers
  (changed by merges and first-touch attribution) are copied whole on every sync: a few seconds at
  a million customers, and exact without tracking every way a row can change.

Each sync runs in one DuckDB transaction, so a reader sees the mirror before or after it, never
half. A store that was reset or replaced (``siyu demo --reset``) is noticed by the rows the
watermarks point at, and the mirror is rebuilt from scratch. Timestamps are stored as naive UTC ``TIMESTAMP`` (what SQLite holds); the analyses compare
them as epoch seconds, which is the same on every engine. On PostgreSQL no mirror is needed: the
analyses read the operational tables directly (see :mod:`siyu.analytics.engines`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Engine

BATCH = 200_000
VERSION = 2  # of the mirror's layout: bump when TABLES or sync_state change, and old mirrors are rebuilt

# name → (DuckDB DDL columns, source SELECT list); timestamps arrive as text and are cast by DuckDB
TABLES: dict[str, tuple[str, str]] = {
    "identities": ("id BIGINT, customer_id BIGINT", "id, customer_id"),
    "customers": ("id BIGINT, first_seen_at TIMESTAMP, source_platform VARCHAR, source_channel_code_id BIGINT",
                  "id, first_seen_at, source_platform, source_channel_code_id"),
    "orders": ("id BIGINT, order_id VARCHAR, identity_id BIGINT, amount_fen BIGINT, refunded_fen BIGINT, "
               "status VARCHAR, placed_at TIMESTAMP, paid_at TIMESTAMP",
               "id, order_id, identity_id, amount_fen, refunded_fen, status, placed_at, paid_at"),
    "order_facts": ("id BIGINT, order_pk BIGINT, status VARCHAR, amount_fen BIGINT, occurred_at TIMESTAMP",
                    "id, order_pk, status, amount_fen, occurred_at"),
    "events": ("id BIGINT, identity_id BIGINT, type VARCHAR, occurred_at TIMESTAMP, channel VARCHAR",
               "id, identity_id, type, occurred_at, channel"),
}
WHERE = {"customers": "merged_into_id IS NULL"}  # the mirror holds live customers only


@dataclass(frozen=True)
class SyncResult:
    """What one sync copied: rows per table, and the seconds it took."""

    rows: dict[str, int]
    seconds: float


def mirror_path(data_dir: Path) -> Path:
    """Return where the mirror of a store under ``data_dir`` lives."""
    return data_dir / "analytics.duckdb"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating) the mirror file with its tables.

    The mirror is a cache of the store: a file another DuckDB version wrote (a storage format this
    one cannot read) is dropped and rebuilt by the next sync instead of failing the analysis.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "version" not in str(exc):
            raise
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS mirror_version (version INTEGER)")
    if con.execute("SELECT max(version) FROM mirror_version").fetchone()[0] != VERSION:
        for name in (*TABLES, "sync_state"):  # a mirror laid out by another Siyu version: start again
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute("DELETE FROM mirror_version")
        con.execute("INSERT INTO mirror_version VALUES (?)", (VERSION,))
    for name, (columns, _select) in TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    con.execute("CREATE TABLE IF NOT EXISTS sync_state (name VARCHAR PRIMARY KEY, value BIGINT, last_row VARCHAR)")
    return con


def _state(con: duckdb.DuckDBPyConnection, source: Any) -> dict[str, int]:
    """Return the watermarks, or none when the store is not the one mirrored (a reset or another file).

    Each watermark remembers the row it points at; if the store no longer holds that row as it was,
    everything mirrored so far is dropped and the next copy starts from scratch.
    """
    marks = {}
    for name, value, last_row in con.execute("SELECT name, value, last_row FROM sync_state").fetchall():
        if _row_at(source, name, int(value)) != last_row:
            for table in TABLES:
                con.execute(f"DELETE FROM {table}")
            return {}
        marks[name] = int(value)
    return marks


def _row_at(source: Any, table: str, row_id: int) -> str:
    row = source.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return repr(row)


def _scalar(source: Any, sql: str) -> int:
    return int(source.execute(sql).fetchone()[0] or 0)


def _batches(source: Any, sql: str, params: Sequence[Any] = ()) -> Iterator[list[tuple[Any, ...]]]:
    cursor = source.cursor()
    try:
        cursor.execute(sql, tuple(params))
        while rows := cursor.fetchmany(BATCH):
            yield rows
    finally:
        cursor.close()


def _copy(con: duckdb.DuckDBPyConnection, source: Any, name: str, where: str = "", params: Sequence[Any] = ()) -> int:
    """Append the source rows of ``name`` matching ``where`` to the mirror; return how many."""
    columns, select = TABLES[name]
    names = [c.strip() for c in select.split(",")]
    types = {part.split()[0]: part.split()[1] for part in (c.strip() for c in columns.split(","))}
    clauses = [c for c in (WHERE.get(name), where) if c]
    sql = f"SELECT {select} FROM {name}" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
    cast = ", ".join(f"CAST({n} AS TIMESTAMP) AS {n}" if types[n] == "TIMESTAMP" else n for n in names)
    copied = 0
    for rows in _batches(source, sql, params):
        batch = pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)})
        con.register("batch", batch)
        con.execute(f"INSERT INTO {name} SELECT {cast} FROM batch")
        con.unregister("batch")
        copied += len(rows)
    return copied


def sync(engine: Engine, path: Path) -> SyncResult:
    """Bring the mirror at ``path`` up to date with the SQLite store behind ``engine``."""
    started = time.perf_counter()
    con = connect(path)
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        source.execute("BEGIN")  # one read snapshot of the store for the whole sync
        tops = {t: _scalar(source, f"SELECT max(id) FROM {t}") for t in ("order_facts", "events")}
        con.execute("BEGIN TRANSACTION")
        marks = _state(con, source)
        rows = _copy_all(con, source, marks, tops)
        con.execute("DELETE FROM sync_state")
        con.executemany("INSERT INTO sync_state VALUES (?, ?, ?)",
                        [(name, top, _row_at(source, name, top)) for name, top in sorted(tops.items())])
        con.execute("COMMIT")
        source.execute("ROLLBACK")
    finally:
        raw.close()
        con.close()
    return SyncResult(rows, time.perf_counter() - started)


def _copy_all(con: duckdb.DuckDBPyConnection, source: Any, marks: dict[str, int], tops: dict[str, int]) -> dict[str, int]:
    rows: dict[str, int] = {}
    for name in ("identities", "customers"):
        con.execute(f"DELETE FROM {name}")
        rows[name] = _copy(con, source, name)
    low, high = marks.get("order_facts", 0), tops["order_facts"]
    touched = [r[0] for r in source.execute(
        "SELECT DISTINCT order_pk FROM order_facts WHERE id > ? AND id <= ?", (low, high)).fetchall()]
    if touched:
        con.register("touched", pa.table({"id": pa.array(touched, pa.int64())}))
        con.execute("DELETE FROM orders WHERE id IN (SELECT id FROM touched)")
        con.unregister("touched")
    rows["orders"] = _copy(con, source, "orders", "id IN (SELECT DISTINCT order_pk FROM order_facts WHERE id > ? AND id <= ?)",
                           (low, high))
    rows["order_facts"] = _copy(con, source, "order_facts", "id > ? AND id <= ?", (low, high))
    rows["events"] = _copy(con, source, "events", "id > ? AND id <= ?", (marks.get("events", 0), tops["events"]))
    return rows
