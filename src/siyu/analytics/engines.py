"""Where an analysis runs: one Ibis expression, three engines.

Every analysis is written once against the tables of :class:`Facts` (``identities``, ``customers``
(live ones), ``orders``, ``order_facts``, ``events``, ``ownerships``, with the columns of
:func:`siyu.analytics.mirror.columns`: those of :data:`siyu.analytics.mirror.TABLES`, and on orders
and events the ``customer_id`` their identity belongs to after OneID) and runs on whichever engine
holds them:

- ``duckdb``: the embedded default. The SQLite store is mirrored into DuckDB first
  (:mod:`siyu.analytics.mirror`, incremental) and the expression runs in-process on columns.
- ``postgres``: a PostgreSQL store is queried in place; the same expression compiles to SQL.
- ``spark``: the same tables as Spark DataFrames, for stores that outgrow one machine (the optional
  ``spark`` extra: PySpark and a Java runtime). Here a local session (``SIYU_SPARK_MASTER``, default
  ``local[2]``) is loaded from the synced mirror; the tests run it to prove the distributed path
  answers exactly as DuckDB and PostgreSQL do.

Ibis is the one library that compiles one expression for all three (and ClickHouse later);
timestamps are compared as epoch seconds so naive-UTC (DuckDB, Spark) and ``timestamptz``
(PostgreSQL) columns behave the same.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import ibis
from ibis.backends import BaseBackend
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from siyu.analytics import mirror
from siyu.errors import ValidationFailed

ENGINES = ("auto", "duckdb", "postgres", "spark")
SPARK_TABLES = ("identities", "customers", "orders", "order_facts", "events", "ownerships")


class UnknownEngine(ValidationFailed):
    """The engine asked for cannot run on this store."""

    code = "unknown_engine"


@dataclass
class Facts:
    """The fact tables of one store on one engine (``lock``: the mirror's, held until :meth:`close`)."""

    engine: str
    con: BaseBackend
    lock: IO[bytes] | None = None

    def table(self, name: str) -> ibis.Table:
        """Return the table ``name`` (``customers`` holds live customers only).

        ``orders`` and ``events`` carry ``customer_id``, the customer their identity belongs to now: the
        mirror keeps it; on PostgreSQL it comes from a left join on the identity's primary key, which
        the planner drops when a query does not read it.
        """
        if self.engine == "postgres" and name == "customers":
            t = self.con.table("customers")
            return t.filter(t.merged_into_id.isnull()).select(*mirror_columns("customers"))
        if self.engine == "postgres" and name in mirror.OWNED:
            t, idents = self.con.table(name), self.con.table("identities")
            own = idents.select(owner_identity=idents.id, customer_id=idents.customer_id)
            return t.left_join(own, t.identity_id == own.owner_identity).select(*mirror_columns(name))
        if self.engine == "postgres":
            return self.con.table(name).select(*mirror_columns(name))
        return self.con.table(name)

    def close(self) -> None:
        """Release the engine's connection and the mirror."""
        try:
            self.con.disconnect()
        finally:
            if self.lock is not None:
                self.lock.close()  # closing the file releases the flock


def _lock_mirror(path: Path) -> IO[bytes]:
    """Hold the mirror exclusively: DuckDB lets one process open a file at a time, and server workers,
    CLI commands and the scheduler may all ask for an analysis at once; they take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held until Facts.close
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def mirror_columns(name: str) -> list[str]:
    """Return the column names the analyses may use of table ``name``."""
    return mirror.columns(name)


def open_facts(store: Engine, data_dir: Path, engine: str = "auto", *, master: str = "local[2]",
               sync: bool = True) -> Facts:
    """Return the facts of ``store`` on ``engine`` (``auto``: DuckDB for SQLite, PostgreSQL in place).

    On DuckDB the mirror is synced first, so the answer includes every fact committed before; with
    ``sync=False`` it is read as last synced (the console syncs in the background and says when).
    """
    backend = store.dialect.name
    chosen = engine if engine != "auto" else ("postgres" if backend == "postgresql" else "duckdb")
    if chosen == "postgres":
        if backend != "postgresql":
            raise UnknownEngine("the postgres engine needs a PostgreSQL store (SIYU_DATABASE_URL=postgresql://…)")
        url = make_url(store.url)
        return Facts("postgres", ibis.postgres.connect(host=url.host, port=url.port, user=url.username,
                                                       password=url.password, database=url.database))
    if chosen not in ("duckdb", "spark"):
        raise UnknownEngine(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if backend != "sqlite":
        raise UnknownEngine(f"the {chosen} engine reads the embedded SQLite store's mirror; on PostgreSQL use "
                            "--engine postgres")
    path = mirror.mirror_path(data_dir)
    lock = _lock_mirror(path)
    try:
        if sync:
            mirror.sync(store, path)
        facts = Facts("duckdb", ibis.duckdb.connect(str(path), read_only=True)) if chosen == "duckdb" else _spark(path, master)
    except BaseException:
        lock.close()
        raise
    facts.lock = lock
    return facts


def _spark(path: Path, master: str) -> Facts:
    """Return the mirror's tables as Spark DataFrames in a session on ``master``."""
    try:  # an optional dependency (the `spark` extra), imported only when Spark is asked for
        from pyspark.sql import SparkSession  # noqa: PLC0415
    except ImportError as exc:
        raise UnknownEngine("the spark engine needs the optional extra: pip install 'siyu[spark]' (and Java 17)") from exc

    session = (SparkSession.builder.master(master).appName("siyu-analytics").config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())  # naive mirror times are UTC
    source = mirror.connect(path)
    try:
        for name in SPARK_TABLES:
            session.createDataFrame(source.execute(f"SELECT * FROM {name}").fetch_arrow_table()).createOrReplaceTempView(name)
    finally:
        source.close()
    return Facts("spark", ibis.pyspark.connect(session))
