"""Engine and session factory; one unit of work per request or job.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` for write transactions so concurrent writers queue
on the database lock instead of failing mid-transaction; PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

import orjson
import structlog
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from siyu.config import get_settings


WRITE_OPTION = "siyu_write"
LONG_LOCK_SECONDS = 2.0  # a writer holding SQLite's write lock this long is logged: requests queue behind it
_LOCKED_AT = "siyu_locked_at"
WRITER_PAUSE = 0.2  # seconds: longer than the busy handler's longest sleep, so every waiting writer tries once
log = structlog.get_logger("siyu.db")
_LONG_WRITES_EXPECTED: ContextVar[bool] = ContextVar("siyu_long_writes_expected", default=False)



def _json_dumps(value: object) -> str:
    """Serialise JSON columns with orjson (several times faster than the standard library)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_setup(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives any crash of the process (the WAL is in the OS's hands
        # before COMMIT returns); only an OS crash or power loss can lose the latest commits.
        # SIYU_SQLITE_SYNCHRONOUS=FULL fsyncs every commit for that case too.
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        # Read pages through a memory map, and checkpoint the WAL every ~40 MB instead of ~4 MB: each
        # checkpoint writes and fsyncs the database file inside some writer's commit, so fewer, larger
        # ones shorten the write lock ~30% on the ingest path (benchmarks/bench_ingest_http.py).
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute("PRAGMA wal_autocheckpoint=10000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Writers take the write lock up front (a deferred transaction that reads and then writes
        # can fail with SQLITE_BUSY_SNAPSHOT); readers stay deferred and never block writers.
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        if immediate:
            conn.info[_LOCKED_AT] = time.perf_counter()

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn):  # type: ignore[no-untyped-def]
        _report_long_lock(conn.info.pop(_LOCKED_AT, None))


def pause_for_writers(engine: Engine, seconds: float | None = None) -> None:
    """Pause between two writer transactions of a background job, on SQLite, so queued writers get the lock.

    SQLite's busy handler polls (every 100 ms once a writer has waited a while): a job that commits
    and begins again at once can keep a login or an ingestion batch waiting through its whole busy
    timeout, one short transaction after another. PostgreSQL has no database-wide lock: no pause.
    """
    if engine.dialect.name == "sqlite":
        time.sleep(WRITER_PAUSE if seconds is None else seconds)


@contextmanager
def long_writes_expected() -> Iterator[None]:
    """Do not report long write locks taken in this block (a one-off build nobody waits on: ``siyu demo``)."""
    token = _LONG_WRITES_EXPECTED.set(True)
    try:
        yield
    finally:
        _LONG_WRITES_EXPECTED.reset(token)


def _report_long_lock(locked_at: float | None) -> None:
    """Log a writer that held SQLite's one write lock long enough to keep others waiting (who, how long)."""
    if locked_at is None or _LONG_WRITES_EXPECTED.get():
        return
    held = time.perf_counter() - locked_at
    if held >= LONG_LOCK_SECONDS:
        log.warning("long_write_lock", seconds=round(held, 2), thread=threading.current_thread().name)


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the per-backend settings Siyu relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=_json_dumps)
        _sqlite_setup(engine, get_settings().sqlite_synchronous)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, json_serializer=_json_dumps)


@lru_cache
def get_engine() -> Engine:
    """Return the process-wide engine for the configured database."""
    return make_engine(get_settings().effective_database_url)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` (default: the configured one)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False, autoflush=False)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (SQLite: BEGIN IMMEDIATE)."""
    session.connection(execution_options={WRITE_OPTION: True})


@contextmanager
def unit_of_work(engine: Engine | None = None, *, write: bool = True,
                 factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """Yield a session; commit if the block succeeds, roll back if it raises."""
    session = (factory or session_factory(engine))()
    if write:
        begin_write(session)
    try:
        yield session
        if not write and session.new:
            _append_after_reading(session)
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _append_after_reading(session: Session) -> None:
    """Write the rows a reader added (a ``pii.read`` audit entry) in a short writer transaction of their own.

    SQLite cannot turn a read transaction into a write one once another connection has committed
    since it began (the server's own worker writing scores, say): it answers "database is locked"
    at once, and no waiting helps. So the read ends, a writer begins (waiting its turn for the write
    lock like any other), and the unflushed new rows are added and committed there.
    """
    pending = list(session.new)
    session.rollback()  # unflushed rows become transient again; nothing was written
    begin_write(session)
    session.add_all(pending)
    session.commit()


def is_busy(exc: BaseException) -> bool:
    """Return whether a database error means "locked by other writers past the busy timeout" (try again)."""
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database is busy" in message or "lock timeout" in message


def ping(engine: Engine) -> None:
    """Run a trivial query; raise if the database cannot be reached."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
