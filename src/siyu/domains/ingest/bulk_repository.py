"""SQL of the large-scale load path: driver-level bulk writes into a database being loaded.

Why this is not ``repository.py``: the normal ingestion path writes a batch of facts into a live
database that others read and write, under the identity-graph lock, so every statement keeps the
rules of a shared store (ON CONFLICT, ids from the database, summaries read back). A bulk load
(``siyu demo`` at a million customers, benchmarks) fills an empty database that nothing else
touches while it runs, and that licenses shortcuts no live path may take:

* the loader allocates ids itself (it is the only writer), so facts are inserted with
  driver-level ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) and never ``RETURNING``;
* the end state of derived tables of several domains (follow relations, group stays, tags, the
  welcome outbox, channel-code statistics, transfers) is computed in memory by
  :mod:`siyu.domains.ingest.bulk` and written once, instead of through each domain's handler;
* secondary indexes are dropped for the load and rebuilt from the table metadata afterwards;
* on SQLite the history tables are written into the target file by a second process while the
  graph side works in a scratch file (staff, channel codes, audit entries, and the rows of the
  identity graph it holds in memory, flushed there block by block), which is then copied in
  (``copy_tables``).

Only :mod:`siyu.domains.ingest.bulk` calls this module; ``tests/demo`` checks that a bulk load
leaves the same rows as the services.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, event, text
from sqlalchemy.schema import CreateIndex

from siyu.db.models import metadata

HISTORY_TABLES = ("events", "orders", "order_items", "order_facts")


def is_sqlite(conn: Connection) -> bool:
    """Return whether ``conn`` talks to SQLite."""
    return conn.dialect.name == "sqlite"


def _cursor(conn: Connection) -> Any:
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _mark(conn: Connection) -> str:
    return "?" if is_sqlite(conn) else "%s"


# SQLAlchemy's stored DATETIME text, the same as strftime('%Y-%m-%d %H:%M:%S.000000', ?, 'unixepoch') writes
# for every value (NULL included) at a third of the cost: datetime() parses no format string.
EPOCH_SQLITE = "datetime(?, 'unixepoch') || '.000000'"


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                epoch: Iterable[str] = ()) -> None:
    """Append rows (tuples in ``columns`` order, values already in storage form) to ``table``.

    SQLite: one ``executemany`` of a prepared INSERT; the ``epoch`` columns take epoch seconds and
    SQLite writes the timestamp text itself (cheaper than building strings in Python).
    PostgreSQL: ``COPY … FROM STDIN`` (``epoch`` columns must then hold timestamp text).
    """
    if not rows:
        return
    cursor = _cursor(conn)
    try:
        if is_sqlite(conn):
            timed = set(epoch)
            marks = ", ".join(EPOCH_SQLITE if c in timed else "?" for c in columns)
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        else:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    finally:
        cursor.close()


def update_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                epoch: Iterable[str] = ()) -> None:
    """Rewrite rows by id: tuples in ``columns`` order, ``id`` first (values as :func:`insert_rows` takes them)."""
    if not rows:
        return
    m = _mark(conn)
    timed = set(epoch) if is_sqlite(conn) else set()
    sets = ", ".join(f"{c} = {EPOCH_SQLITE if c in timed else m}" for c in columns[1:])
    _executemany(conn, f"UPDATE {table} SET {sets} WHERE id = {m}", [(*r[1:], r[0]) for r in rows])


def top_ids(conn: Connection, tables: Iterable[str]) -> dict[str, int]:
    """Return {table: largest id stored (0 when empty)}."""
    return {t: conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one() for t in tables}


def sync_sequences(conn: Connection, tables: Iterable[str]) -> None:
    """PostgreSQL: move each table's id sequence past the ids the loader allocated (SQLite needs nothing)."""
    if is_sqlite(conn):
        return
    for table in tables:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) "
                          f"FROM {table}"))


def is_empty(conn: Connection, tables: Iterable[str]) -> bool:
    """Return whether every one of ``tables`` holds no row."""
    return all(conn.execute(text(f"SELECT 1 FROM {t} LIMIT 1")).first() is None for t in tables)


def groups(conn: Connection) -> dict[str, tuple[int, str]]:
    """Return {chat_id: (id, name)} of the stored customer groups."""
    rows = conn.execute(text("SELECT id, chat_id, name FROM customer_groups"))
    return {chat: (gid, name) for gid, chat, name in rows}


def tags(conn: Connection) -> dict[str, int]:
    """Return {name: id} of the stored tags."""
    return {name: tid for tid, name in conn.execute(text("SELECT id, name FROM tags"))}


def _executemany(conn: Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    cursor = _cursor(conn)
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


# --- indexes ---------------------------------------------------------------------------------------------

def secondary_indexes(tables: Iterable[str]) -> list[Index]:
    """Return the indexes of ``tables`` that are not constraints (droppable and rebuilt from metadata)."""
    out: list[Index] = []
    for name in tables:
        table: Table = metadata.tables[name]
        out.extend(sorted(table.indexes, key=lambda i: str(i.name)))
    return out


def drop_indexes(conn: Connection, indexes: Iterable[Index]) -> None:
    """Drop these indexes if they exist."""
    for index in indexes:
        conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))


def create_indexes(conn: Connection, indexes: Iterable[Index]) -> None:
    """Create these indexes (as the metadata and migrations define them) if they are missing."""
    for index in indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))


# --- SQLite: assembling the target from the scratch file -------------------------------------------------

def copy_tables(engine: Engine, scratch_path: str, tables: Iterable[str]) -> None:
    """Copy every row of ``tables`` (same schema, ids kept) from the SQLite file ``scratch_path`` into ``engine``'s.

    ATTACH cannot run inside a transaction, so this drives one raw connection: one INSERT … SELECT
    per table, each its own write transaction.
    """
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        driver.execute("ATTACH DATABASE ? AS scratch", (scratch_path,))
        with loading_pragmas(driver):
            for name in tables:
                table = metadata.tables[name]
                cols = ", ".join(c.name for c in table.columns)
                key = ", ".join(c.name for c in table.primary_key.columns)  # not every table's key is ``id``
                driver.execute("BEGIN IMMEDIATE")
                driver.execute(f"INSERT INTO main.{name} ({cols}) SELECT {cols} FROM scratch.{name} ORDER BY {key}")
                driver.execute("COMMIT")
        driver.execute("DETACH DATABASE scratch")
    finally:
        raw.close()


@contextmanager
def loading_pragmas(driver: Any) -> Iterator[None]:
    """Give an SQLite driver connection the loading cache and checkpoint interval of :func:`tune_engine`, then
    restore its own.

    The graph's unique keys (identity look-ups, outbox keys) are inserted in random order: with the
    engine's 64 MB cache, every insert past that size reads a page back from the OS.
    """
    cache = driver.execute("PRAGMA main.cache_size").fetchone()[0]
    checkpoint = driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    driver.execute("PRAGMA main.cache_size=-1048576")
    driver.execute("PRAGMA wal_autocheckpoint=262144")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA main.cache_size={int(cache)}")
        driver.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint)}")


def content_tables() -> list[str]:
    """Return every table of the schema, parents before children."""
    return [t.name for t in metadata.sorted_tables]


def tune_engine(engine: Engine, *, scratch: bool = False, foreign_keys: bool = True) -> None:
    """Set the pragmas of a loading SQLite engine on every connection it opens (no-op elsewhere).

    A loading connection to the target gets a 1 GiB page cache and checkpoints its WAL every
    1 GiB instead of every 40 MB: a page rewritten by many transactions is copied back once, not
    once per checkpoint (each checkpoint is a pwrite per page and an fsync). A ``scratch`` file
    (the identity graph's rows, copied into the target and deleted at the end) skips fsync: if the
    process dies the load starts over anyway, and nothing else ever opens the file; its 512 MiB
    cache holds the random part (the identities' look-up key; the rows themselves are appended)
    without growing by the whole graph beside the graph's own memory. ``foreign_keys=False`` is for the connection that writes history
    into the target while the identities it references are still in memory; the tests
    run ``foreign_key_check`` on the assembled file.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA wal_autocheckpoint=262144")
        if scratch:  # throwaway: no fsync
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-524288")
        else:
            cur.execute("PRAGMA cache_size=-1048576")
        if not foreign_keys:
            cur.execute("PRAGMA foreign_keys=OFF")
        cur.close()


def foreign_key_violations(conn: Connection) -> list[tuple[Any, ...]]:
    """Return SQLite's foreign-key violations (empty when every reference resolves)."""
    return [tuple(r) for r in conn.exec_driver_sql("PRAGMA foreign_key_check")]


def fact_counts(conn: Connection) -> dict[str, int]:
    """Return how many customers (live and merged), identities, review items, orders and events are stored."""
    queries = {
        # all minus merged: both counts read an index (the merged_into_id one holds the merged only)
        "customers": "SELECT (SELECT count(*) FROM customers) - "
                     "(SELECT count(*) FROM customers WHERE merged_into_id IS NOT NULL)",
        "merged_customers": "SELECT count(*) FROM customers WHERE merged_into_id IS NOT NULL",
        "identities": "SELECT count(*) FROM identities",
        "merges": "SELECT count(*) FROM merges",
        "review_items": "SELECT count(*) FROM identity_issues WHERE status = 'open'",
        "orders": "SELECT count(*) FROM orders",
        "order_facts": "SELECT count(*) FROM order_facts",
        "events": "SELECT count(*) FROM events",
        "staff": "SELECT count(*) FROM staff",
        "channel_codes": "SELECT count(*) FROM channel_codes",
        "ownerships": "SELECT count(*) FROM ownerships",
        "groups": "SELECT count(*) FROM customer_groups",
    }
    return {name: conn.execute(text(sql)).scalar_one() for name, sql in queries.items()}
