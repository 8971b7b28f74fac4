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
from siyu.domains.identity import Identity, Merge
from siyu.domains.identity import service as identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.domains.staff import service as staff
from siyu.domains.staff.models import Ownership


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
                "events": s.scalar(select(func.count()).select_from(Event)),
                "ownerships": s.scalar(select(func.count()).select_from(Ownership))}


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


# --- incremental copies of the rows that change in place -------------------------------------------------

MIRRORED = {"identities": "id, customer_id", "customers": "*", "ownerships": "*", "orders": "*", "order_facts": "*",
            "events": "*"}


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall() for t, cols in MIRRORED.items()}
    finally:
        con.close()


def _facts(engine: Any, settings: Settings, orders: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:
        ingest.ingest_orders(s, ctx, orders)
        ingest.ingest_events(s, ctx, events)


def _event(eid: str, idents: dict[str, str], type_: str = "content_viewed", **props: str) -> dict[str, Any]:
    return {"event_id": eid, "type": type_, "occurred_at": "2026-06-02T10:00:00+08:00", "identities": idents,
            "properties": props}


def _order(oid: str, idents: dict[str, str]) -> dict[str, Any]:
    return {"order_id": oid, "status": "paid", "occurred_at": "2026-06-02T11:00:00+08:00", "amount": "19.90",
            "identities": idents}


def _people(engine: Any, settings: Settings) -> None:
    """Six people with an order and a view on their mini-program openid; four added staff member sA on WeCom
    (their external_userid is another customer until something links the two)."""
    orders = [_order(f"P{i}", {"openid:wxmini": f"oPERSON{i:04d}"}) for i in range(6)]
    events = [_event(f"v{i}", {"openid:wxmini": f"oPERSON{i:04d}"}) for i in range(6)]
    events += [_event(f"c{i}", {"external_userid": f"wmPERSON{i:04d}"}, "contact_added", staff_userid="sA")
               for i in range(4)]
    _facts(engine, settings, orders, events)


def _customer_of(engine: Any, kind: str, value: str) -> int:
    with unit_of_work(engine, write=False) as s:
        return s.scalars(select(Identity.customer_id).where(Identity.kind == kind, Identity.value == value)).one()


def _link(n: int) -> dict[str, Any]:
    return _event(f"link{n}", {"openid:wxmini": f"oPERSON{n:04d}", "external_userid": f"wmPERSON{n:04d}"})


def _same_as_whole(engine: Any, path: Path, tmp_path: Path) -> mirror.SyncResult:
    """Sync ``path`` incrementally; require the same rows as a mirror copied whole; return the sync."""
    synced = mirror.sync(engine, path)
    whole = tmp_path / "whole.duckdb"
    whole.unlink(missing_ok=True)
    mirror.sync(engine, whole)
    assert _rows(path) == _rows(whole)
    return synced


def test_an_incremental_sync_equals_a_whole_copy_after_merges_unmerges_splits_and_transfers(
        tmp_path: Path, settings: Settings) -> None:
    engine = reset_database(f"sqlite:///{tmp_path / 'store.db'}")
    ctx = identity.IdentityContext.from_settings(settings)
    _people(engine, settings)
    path = tmp_path / "analytics.duckdb"
    mirror.sync(engine, path)
    _facts(engine, settings, [], [_link(0)])  # an automatic merge
    synced = _same_as_whole(engine, path, tmp_path)
    assert synced.rows["identities"] == 2 and synced.rows["customers"] == 1  # only what the merge touched
    with unit_of_work(engine) as s:
        identity.undo_merge(s, s.scalars(select(Merge.id)).one(), actor="user:op", reason="different people")
    assert _same_as_whole(engine, path, tmp_path).rows["identities"] == 2
    pair = _customer_of(engine, "openid:wxmini", "oPERSON0002"), _customer_of(engine, "external_userid", "wmPERSON0002")
    with unit_of_work(engine) as s:
        identity.merge_customers(s, ctx, *pair, actor="user:op", reason="same person")
    _same_as_whole(engine, path, tmp_path)
    with unit_of_work(engine) as s:
        root = identity.live_customer_id(s, pair[0])
        split = [i.id for i in identity.identities_of(s, root) if i.kind == "external_userid"]
        identity.split_identities(s, root, split, actor="user:op", reason="a colleague's phone")
    _same_as_whole(engine, path, tmp_path)
    _facts(engine, settings, [], [_event("c1b", {"external_userid": "wmPERSON0001"}, "contact_added", staff_userid="sB")])
    _same_as_whole(engine, path, tmp_path)
    _facts(engine, settings, [], [_event("d3", {"external_userid": "wmPERSON0003"}, "contact_deleted_by_customer",
                                         staff_userid="sA")])  # closes a follow relation in place
    _same_as_whole(engine, path, tmp_path)
    with unit_of_work(engine) as s:  # sB already follows wmPERSON0001: that relation of sA closes with no new row
        staff.transfer_customers(s, staff.staff_by_userid(s, "sA").id, staff.staff_by_userid(s, "sB").id, None,
                                 actor="user:op")
    _same_as_whole(engine, path, tmp_path)
    _facts(engine, settings, [_order("P9", {"openid:wxmini": "oPERSON0003"})], [_link(3)])
    _same_as_whole(engine, path, tmp_path)
    mirror.sync(engine, path, whole=True)  # a repair copies everything and finds nothing different
    assert _rows(path) == _rows(tmp_path / "whole.duckdb")
    engine.dispose()


def test_orders_and_events_carry_the_customer_their_identity_belongs_to(tmp_path: Path, settings: Settings) -> None:
    engine = reset_database(f"sqlite:///{tmp_path / 'store.db'}")
    _people(engine, settings)
    path = tmp_path / "analytics.duckdb"
    mirror.sync(engine, path)
    _facts(engine, settings, [], [_link(0)])
    mirror.sync(engine, path)
    survivor = _customer_of(engine, "openid:wxmini", "oPERSON0000")
    con = duckdb.connect(str(path), read_only=True)
    try:
        for table in mirror.OWNED:
            assert con.execute(f"SELECT count(*) FROM {table} t JOIN identities i ON i.id = t.identity_id "
                               "WHERE t.customer_id IS DISTINCT FROM i.customer_id").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM events WHERE customer_id = ?", (survivor,)).fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM orders WHERE customer_id = ?", (survivor,)).fetchone()[0] == 1
    finally:
        con.close()
    engine.dispose()
