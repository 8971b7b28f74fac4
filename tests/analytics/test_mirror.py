"""The DuckDB mirror holds exactly the store's facts: incrementally, and after the store is reset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import func, select

from siyu.analytics import mirror
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.db.reset import reset_database
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact


def _orders(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"order_id": f"{prefix}{i}", "status": "paid", "occurred_at": "2026-06-01T10:00:00+08:00", "amount": "9.90",
             "identities": {"openid:wxmini": f"o{prefix}{i:06d}"}} for i in range(n)]


def _events(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"event_id": f"{prefix}{i}", "type": "content_viewed", "occurred_at": "2026-06-01T10:00:00+08:00",
             "identities": {"openid:wxmini": f"o{prefix}{i:06d}"}, "properties": {"content_id": "c1"}} for i in range(n)]


def _counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in mirror.TABLES}
    finally:
        con.close()


def _store_counts(engine: Any) -> dict[str, int]:
    with unit_of_work(engine, write=False) as s:
        return {"identities": s.scalar(select(func.count()).select_from(Identity)),
                "orders": s.scalar(select(func.count()).select_from(Order)),
                "order_facts": s.scalar(select(func.count()).select_from(OrderFact)),
                "events": s.scalar(select(func.count()).select_from(Event))}


def _ingest(engine: Any, settings: Settings, prefix: str, n: int) -> None:
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:
        ingest.ingest_orders(s, ctx, _orders(prefix, n))
        ingest.ingest_events(s, ctx, _events(prefix, n))


def test_incremental_sync_then_a_reset_store_is_mirrored_afresh(tmp_path: Path, settings: Settings) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = reset_database(url)
    path = tmp_path / "analytics.duckdb"
    _ingest(engine, settings, "A", 30)
    first = mirror.sync(engine, path)
    assert first.rows["orders"] == 30 and first.rows["events"] == 30
    _ingest(engine, settings, "B", 5)
    second = mirror.sync(engine, path)
    assert (second.rows["orders"], second.rows["order_facts"], second.rows["events"]) == (5, 5, 5)  # only the new
    assert {k: v for k, v in _counts(path).items() if k != "customers"} == _store_counts(engine)
    engine.dispose()
    engine = reset_database(url)  # `siyu demo --reset`: same file name, other facts with the same ids
    _ingest(engine, settings, "C", 12)
    mirror.sync(engine, path)
    assert {k: v for k, v in _counts(path).items() if k != "customers"} == _store_counts(engine)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT min(order_id) FROM orders").fetchone()[0].startswith("C")  # nothing of A or B left
    con.close()
    engine.dispose()


def test_a_mirror_laid_out_by_another_version_is_rebuilt(tmp_path: Path, settings: Settings) -> None:
    engine = reset_database(f"sqlite:///{tmp_path / 'store.db'}")
    _ingest(engine, settings, "A", 4)
    path = tmp_path / "analytics.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE sync_state (name VARCHAR PRIMARY KEY, value BIGINT)")  # an earlier layout
    old.execute("INSERT INTO sync_state VALUES ('events', 99)")
    old.execute("CREATE TABLE orders (id BIGINT)")
    old.close()
    mirror.sync(engine, path)
    assert {k: v for k, v in _counts(path).items() if k != "customers"} == _store_counts(engine)
    engine.dispose()
