"""The analytical mirror: the facts the analyses read, copied from the embedded store into DuckDB.

On the embedded default (SQLite) the analyses run on DuckDB in-process, which scans and aggregates
columns an order of magnitude faster than SQLite can. DuckDB cannot attach the SQLite file here
(its scanner extension would be downloaded at run time), so the mirror is fed from Python in Arrow
batches, incrementally:

- append-only facts (``order_facts``, ``events``) are copied past a watermark (their highest id);
- ``orders`` change only through new facts: new orders and the orders named by new facts are
  replaced;
- the rows that change in place (the identity → customer map, the live customers, the follow
  relations) are copied again only where an append-only row says they may have changed since the
  last sync (:mod:`siyu.analytics.mirror_changes`), and whole on the first sync or when more than
  :data:`WHOLE_ABOVE` keys changed;
- ``orders`` and ``events`` carry the ``customer_id`` their identity belongs to now (after OneID),
  kept current when a merge, unmerge or split moves an identity: the analyses group by it without
  joining the identity map to millions of rows on every run.

Each sync runs in one DuckDB transaction, so a reader sees the mirror before or after it, never
half. A store that was reset or replaced (``siyu demo --reset``) is noticed by the rows the
watermarks point at, and the mirror is rebuilt from scratch. Timestamps are stored as naive UTC
``TIMESTAMP`` (what SQLite holds); the analyses compare them as epoch seconds, which is the same on
every engine. On PostgreSQL no mirror is needed: the analyses read the operational tables directly
(see :mod:`siyu.analytics.engines`).
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

from siyu.analytics.mirror_changes import LOGS, Changes, changes, id_list

BATCH = 200_000
VERSION = 4  # of the mirror's layout: bump when TABLES or sync_state change, and old mirrors are rebuilt
WHOLE_ABOVE = 200_000  # changed keys past which copying the mutable tables whole is faster than by key

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
    "events": ("id BIGINT, identity_id BIGINT, type VARCHAR, occurred_at TIMESTAMP, channel VARCHAR, properties VARCHAR",
               "id, identity_id, type, occurred_at, channel, properties"),  # properties: JSON text (funnel filters)
    # follow relations (staff ownership, channel-code acquisition): removed_at changes in place
    "ownerships": ("id BIGINT, identity_id BIGINT, staff_id BIGINT, channel_code_id BIGINT, source VARCHAR, "
                   "added_at TIMESTAMP, removed_at TIMESTAMP",
                   "id, identity_id, staff_id, channel_code_id, source, added_at, removed_at"),
}
OWNED = ("orders", "events")  # also hold ``customer_id``: their identity's customer as of the sync
WHERE = {"customers": "merged_into_id IS NULL"}  # the mirror holds live customers only
# which mirrored rows to copy again for a set of changed keys (see mirror_changes.Changes)
BY_KEY = {"identities": ("id", "identities"), "customers": ("id", "customers"),
          "ownerships": ("identity_id", "identities")}
# the columns of a watermark's row that never change: what tells the store mirrored from another
FINGERPRINT = {"identities": "id, lookup, origin_customer_id, created_at", "customers": "id, created_at",
               "ownerships": "id, identity_id, staff_id, added_at", "merges": "id, survivor_id, merged_id, created_at"}


@dataclass(frozen=True)
class SyncResult:
    """What one sync copied: rows per table, and the seconds it took."""

    rows: dict[str, int]
    seconds: float


def mirror_path(data_dir: Path) -> Path:
    """Return where the mirror of a store under ``data_dir`` lives."""
    return data_dir / "analytics.duckdb"


def columns(name: str) -> list[str]:
    """Return the columns the analyses may use of table ``name`` (``customer_id`` on orders and events)."""
    return [c.strip() for c in TABLES[name][1].split(",")] + (["customer_id"] if name in OWNED else [])


def _ddl(name: str) -> str:
    return TABLES[name][0] + (", customer_id BIGINT" if name in OWNED else "")


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
    for name in TABLES:
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({_ddl(name)})")
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
    row = source.execute(f"SELECT {FINGERPRINT.get(table, '*')} FROM {table} WHERE id = ?", (row_id,)).fetchone()
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


def _copy(con: duckdb.DuckDBPyConnection, source: Any, name: str, where: str = "", params: Sequence[Any] = (),
          into: str | None = None) -> int:
    """Append the source rows of ``name`` matching ``where`` to the mirror (or table ``into``); return how many.

    Orders and events get their identity's customer from the mirror's identity map, which each sync
    brings up to date first: staged, then joined once (one join of millions of rows costs less than
    one per batch).
    """
    ddl, select = TABLES[name]
    names = [c.strip() for c in select.split(",")]
    types = {part.split()[0]: part.split()[1] for part in (c.strip() for c in ddl.split(","))}
    clauses = [c for c in (WHERE.get(name), where) if c]
    sql = f"SELECT {select} FROM {name}" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
    cast = ", ".join(f"CAST({n} AS TIMESTAMP) AS {n}" if types[n] == "TIMESTAMP" else n for n in names)
    target = "staged" if name in OWNED else (into or name)
    if name in OWNED:
        con.execute(f"CREATE OR REPLACE TEMP TABLE staged ({ddl})")
    copied = 0
    for rows in _batches(source, sql, params):
        batch = pa.table({n: pa.array(values) for n, values in zip(names, zip(*rows), strict=True)})
        con.register("batch", batch)
        con.execute(f"INSERT INTO {target} SELECT {cast} FROM batch")
        con.unregister("batch")
        copied += len(rows)
    if name in OWNED:
        con.execute(f"INSERT INTO {into or name} SELECT s.*, i.customer_id FROM staged s "
                    "LEFT JOIN identities i ON i.id = s.identity_id")
        con.execute("DROP TABLE staged")
    return copied


def sync(engine: Engine, path: Path, *, whole: bool = False) -> SyncResult:
    """Bring the mirror at ``path`` up to date with the SQLite store behind ``engine``.

    ``whole``: copy the mutable tables whole even when the watermarks say what changed (a repair).
    """
    started = time.perf_counter()
    con = connect(path)
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        source.execute("BEGIN")  # one read snapshot of the store for the whole sync
        tops = {t: _scalar(source, f"SELECT max(id) FROM {t}") for t in ("order_facts", "events", *LOGS)}
        con.execute("BEGIN TRANSACTION")
        marks = _state(con, source)
        changed = changes(source, marks, tops) if marks and set(marks) == set(tops) and not whole else None
        if changed is not None and changed.size() > WHOLE_ABOVE:
            changed = None
        rows = _copy_mutable(con, source, changed)
        rows.update(_copy_facts(con, source, marks, tops))
        con.execute("DELETE FROM sync_state")
        con.executemany("INSERT INTO sync_state VALUES (?, ?, ?)",
                        [(name, top, _row_at(source, name, top)) for name, top in sorted(tops.items())])
        con.execute("COMMIT")
        source.execute("ROLLBACK")
    finally:
        raw.close()
        con.close()
    return SyncResult(rows, time.perf_counter() - started)


def _copy_mutable(con: duckdb.DuckDBPyConnection, source: Any, changed: Changes | None) -> dict[str, int]:
    """Copy the identity map, live customers and follow relations again: whole, or the changed rows."""
    rows: dict[str, int] = {}
    for name in ("identities", "customers", "ownerships"):
        where, params, drop = "", [], f"DELETE FROM {name}"
        if changed is not None:
            column, kind = BY_KEY[name]
            keys, staff = getattr(changed, kind), changed.staff if name == "ownerships" else set()
            if not keys and not staff:
                rows[name] = 0
                continue
            # a transfer may have closed any relation of the member who handed over
            where = f"({column} IN (SELECT value FROM json_each(?)) OR staff_id IN (SELECT value FROM json_each(?)))" \
                if name == "ownerships" else f"{column} IN (SELECT value FROM json_each(?))"
            params = [id_list(keys), id_list(staff)] if name == "ownerships" else [id_list(keys)]
            con.register("keys", pa.table({"k": pa.array([*sorted(keys), *sorted(staff)], pa.int64()),
                                           "staff": pa.array([False] * len(keys) + [True] * len(staff))}))
            con.execute("CREATE OR REPLACE TEMP TABLE changed_keys AS SELECT * FROM keys")
            con.unregister("keys")
            drop = f"DELETE FROM {name} WHERE {column} IN (SELECT k FROM changed_keys WHERE NOT staff)" + \
                (" OR staff_id IN (SELECT k FROM changed_keys WHERE staff)" if staff else "")
        con.execute(f"CREATE OR REPLACE TEMP TABLE fresh AS SELECT * FROM {name} LIMIT 0")
        rows[name] = _copy(con, source, name, where, params, into="fresh")
        if name == "identities":
            _follow_moves(con)
        con.execute(drop)
        con.execute(f"INSERT INTO {name} SELECT * FROM fresh")
    con.execute("DROP TABLE IF EXISTS fresh")
    con.execute("DROP TABLE IF EXISTS changed_keys")
    return rows


def _follow_moves(con: duckdb.DuckDBPyConnection) -> None:
    """Point orders and events of identities that changed customer (in ``fresh``) at the new customer."""
    con.execute("""CREATE OR REPLACE TEMP TABLE moved AS SELECT f.id, f.customer_id FROM fresh f
                   JOIN identities i ON i.id = f.id WHERE i.customer_id IS DISTINCT FROM f.customer_id""")
    if con.execute("SELECT count(*) FROM moved").fetchone()[0]:
        for name in OWNED:
            con.execute(f"UPDATE {name} SET customer_id = m.customer_id FROM moved m WHERE {name}.identity_id = m.id")
    con.execute("DROP TABLE moved")


def _copy_facts(con: duckdb.DuckDBPyConnection, source: Any, marks: dict[str, int], tops: dict[str, int]) -> dict[str, int]:
    """Copy new order facts and events, and the orders new facts name (replacing those held)."""
    rows: dict[str, int] = {}
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
