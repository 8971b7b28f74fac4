"""`siyu import`: CSV and JSON Lines through the ingestion services, rejects, idempotency, streaming."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from siyu.cli.import_cmds import ImportFileError, run_import
from siyu.cli.main import app
from siyu.config import get_settings
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest.schemas import IngestResult
from siyu.domains.orders.models import Order, OrderFact, OrderItem
from siyu.domains.staff.models import Ownership, Staff

EVENTS_CSV = """event_id,type,occurred_at,channel,id.phone,id.openid:wx123,prop.content_id,properties
e1,content_viewed,2026-01-01T10:00:00+08:00,mini_program,13912345678,oABCDEF001,c1,
e2,content_clicked,2026-01-01T10:01:00+08:00,mini_program,,oABCDEF001,c1,"{""depth"": 3}"
e3,bogus type,2026-01-01T10:02:00+08:00,mini_program,,oABCDEF001,c1,
e4,content_viewed,2026-01-01T10:03:00+08:00,mini_program,,oABCDEF002,c2,{broken
e5,content_viewed,2026-01-01T10:04:00+08:00,app,13712345678,,,
"""

ORDERS_CSV = """order_id,status,occurred_at,amount,refund_amount,refund_id,channel,store,id.phone,items
o1,paid,2026-01-02T10:00:00+08:00,99.00,,,mini_program,S01,13912345678,"[{""sku"":""T1"",""unit_price"":""33.00"",""quantity"":3}]"
o1,refunded,2026-01-03T10:00:00+08:00,99.00,33.00,r1,mini_program,S01,,
o2,paid,2026-01-02T11:00:00+08:00,12.345,,,store,S02,13712345678,
o3,paid,2026-01-02T12:00:00+08:00,50,,,store,S02,13612345678,
"""

CUSTOMERS_CSV = """id.phone,id.unionid,name,gender,birthday,city,owner_userid,attr.level
13912345678,uABCDEF01,张三,male,1990-05-17,上海,zhangwei,gold
13712345678,,李四,female,not-a-date,北京,,
13612345678,uABCDEF02,王五,,,广州,zhangwei,
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(engine, model) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def _rejects(path: Path) -> list[list[str]]:
    with path.with_name(path.name + ".rejects.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(params=[False, True], ids=["in-process", "reader-process"])
def parallel(request):
    """Run an import in this process, or with chunks prepared by a forked reader process."""
    return request.param


def test_events_csv_imports_and_rejects_with_line_numbers(db_engine, settings, tmp_path, parallel):
    path = _write(tmp_path, "events.csv", EVENTS_CSV)
    summary = run_import("events", path, eng=db_engine, settings=settings, parallel=parallel)
    assert (summary.read, summary.accepted, summary.duplicates, summary.rejected) == (5, 3, 0, 2)
    rows = _rejects(path)
    assert rows[0][:4] == ["line", "code", "reason", "event_id"]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [("4", "unknown_event_type", "e3"), ("5", "malformed_json", "e4")]
    assert rows[2][-1] == "{broken"
    with unit_of_work(db_engine) as s:
        props = dict(s.execute(select(Event.event_id, Event.properties)).all())
    assert props == {"e1": {"content_id": "c1"}, "e2": {"content_id": "c1", "depth": 3}, "e5": {}}


def test_events_jsonl_imports_api_shapes(db_engine, settings, tmp_path, parallel):
    lines = [orjson.dumps({"event_id": f"j{i}", "type": "content_viewed", "occurred_at": "2026-01-01T10:00:00Z",
                           "identities": {"openid:wx123": f"oJSONL{i:04d}"}, "properties": {"n": i}}).decode()
             for i in range(3)]
    path = _write(tmp_path, "events.jsonl", "\n".join([lines[0], "", "not json", lines[1], '{"event_id": "x"}', lines[2]]))
    summary = run_import("events", path, eng=db_engine, settings=settings, parallel=parallel)
    assert (summary.accepted, summary.rejected) == (3, 2)
    assert [(r[0], r[1]) for r in _rejects(path)[1:]] == [("3", "malformed_json"), ("5", "missing_field")]
    assert _rejects(path)[1][3] == "not json"
    assert _count(db_engine, Event) == 3


def test_orders_csv_imports_items_and_refunds(db_engine, settings, tmp_path, parallel):
    path = _write(tmp_path, "orders.csv", ORDERS_CSV)
    summary = run_import("orders", path, eng=db_engine, settings=settings, parallel=parallel)
    assert (summary.accepted, summary.rejected) == (3, 1)
    assert [(r[0], r[1]) for r in _rejects(path)[1:]] == [("4", "invalid_amount")]
    with unit_of_work(db_engine) as s:
        o1 = s.scalars(select(Order).where(Order.order_id == "o1")).one()
        assert (o1.amount_fen, o1.refunded_fen, o1.status, o1.store) == (9900, 3300, "partially_refunded", "S01")
        assert s.scalar(select(func.count()).select_from(OrderItem)) == 1
    assert _count(db_engine, OrderFact) == 3


def test_orders_jsonl_imports(db_engine, settings, tmp_path):
    item = {"order_id": "x1", "status": "paid", "occurred_at": "2026-01-02T10:00:00+08:00", "amount": "19.90",
            "identities": {"phone": "13912345678"}, "items": [{"sku": "A", "unit_price": "19.90"}]}
    path = _write(tmp_path, "orders.ndjson", orjson.dumps(item).decode() + "\n")
    summary = run_import("orders", path, eng=db_engine, settings=settings)
    assert (summary.accepted, summary.rejected) == (1, 0)
    assert not path.with_name("orders.ndjson.rejects.csv").exists()


def test_reimport_adds_nothing(db_engine, settings, tmp_path, parallel):
    events = _write(tmp_path, "events.csv", EVENTS_CSV)
    orders = _write(tmp_path, "orders.csv", ORDERS_CSV)
    for path, kind in ((events, "events"), (orders, "orders")):
        run_import(kind, path, eng=db_engine, settings=settings, parallel=parallel)
    before = [_count(db_engine, m) for m in (Event, Order, OrderFact, OrderItem, Identity, Customer)]
    again = [run_import(kind, path, eng=db_engine, settings=settings, parallel=parallel)
             for path, kind in ((events, "events"), (orders, "orders"))]
    assert [(s.accepted, s.duplicates) for s in again] == [(0, 3), (0, 3)]
    assert [_count(db_engine, m) for m in (Event, Order, OrderFact, OrderItem, Identity, Customer)] == before


def test_customers_csv_resolves_profiles_and_owners_idempotently(db_engine, settings, tmp_path, parallel):
    path = _write(tmp_path, "customers.csv", CUSTOMERS_CSV)
    summary = run_import("customers", path, eng=db_engine, settings=settings, parallel=parallel)
    assert (summary.accepted, summary.rejected) == (2, 1)
    assert [(r[0], r[1]) for r in _rejects(path)[1:]] == [("3", "invalid_value")]
    with unit_of_work(db_engine) as s:
        cities = sorted(s.scalars(select(Customer.city)))
        assert cities == ["上海", "广州"]
        assert s.scalar(select(Staff.userid)) == "zhangwei"
    counts = [_count(db_engine, m) for m in (Customer, Identity, Ownership)]
    assert counts == [2, 4, 2]
    run_import("customers", path, eng=db_engine, settings=settings, parallel=parallel)
    assert [_count(db_engine, m) for m in (Customer, Identity, Ownership)] == counts


def test_customers_jsonl_links_to_existing_identities(db_engine, settings, tmp_path):
    run_import("events", _write(tmp_path, "events.csv", EVENTS_CSV), eng=db_engine, settings=settings)
    record = {"identities": {"phone": "13912345678", "member_no": "M0001"}, "name": "张三", "region": "华东"}
    run_import("customers", _write(tmp_path, "c.jsonl", orjson.dumps(record).decode()), eng=db_engine,
               settings=settings)
    with unit_of_work(db_engine) as s:
        member = s.scalars(select(Identity).where(Identity.kind == "member_no")).one()
        phone = s.scalars(select(Identity).where(Identity.kind == "phone", Identity.masked == "139****5678")).one()
        assert member.customer_id == phone.customer_id
        assert (member.cause_type, member.cause_ref) == ("import", "c.jsonl:1")
        assert s.get(Customer, phone.customer_id).region == "华东"


def test_missing_required_columns_is_a_file_error(settings, tmp_path, db_engine):
    path = _write(tmp_path, "orders.csv", "order_id,status,id.phone\no1,paid,13912345678\n")
    with pytest.raises(ImportFileError) as err:
        run_import("orders", path, eng=db_engine, settings=settings)
    assert err.value.code == "missing_columns"
    assert "occurred_at" in err.value.message and "amount" in err.value.message


def test_rows_of_both_paths_dedupe_and_reject_in_file_order(db_engine, settings, tmp_path):
    # "e1" rows take the column-wise path; " e1" (stripped by the API), "²" and the blank line take the per-item one
    text = ("event_id,type,occurred_at,id.openid:wx1,prop.n\n"
            "e1,content_viewed,1795000000,oBOTHPATHS1,1\n"
            " e1,content_viewed,1795000001,oBOTHPATHS1,2\n"
            "\n"
            "e2,content_viewed,²,oBOTHPATHS1,3\n"
            "e1,content_viewed,1795000002,oBOTHPATHS1,4\n"
            "e3,contact_added,2026-01-01T10:00:00Z,oBOTHPATHS2,5\n"
            "e4,content_viewed,0001-01-01T00:00:00+08:00,oBOTHPATHS1,6\n")  # before year 1 in UTC
    path = _write(tmp_path, "both.csv", text)
    summary = run_import("events", path, eng=db_engine, settings=settings, chunk_size=3)
    assert (summary.read, summary.accepted, summary.duplicates, summary.rejected) == (6, 2, 2, 2)
    assert [(r[0], r[1]) for r in _rejects(path)[1:]] == [("5", "bad_timestamp"), ("8", "bad_timestamp")]
    with unit_of_work(db_engine) as s:
        stored = dict(s.execute(select(Event.event_id, Event.properties)).all())
    assert stored == {"e1": {"n": "1"}, "e3": {"n": "5"}}


def _stream_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("event_id,type,occurred_at,id.openid:wx1,prop.n\n")
        for i in range(rows):
            f.write(f"e{i},content_viewed,2026-01-01T10:00:00Z,oSTREAM{i:07d},{i}\n")


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "reader-process"])
def test_large_file_streams_in_bounded_chunks(settings, tmp_path, db_engine, parallel):
    path = tmp_path / "big.csv"
    _stream_csv(path, 200_000)
    sizes: list[int] = []
    lines: list[int] = []

    def fake(_session, _ctx, prepared):
        block = prepared.block  # plain rows travel as columns, the others as per-item facts
        ids = sorted([(i, event.event_id) for i, event, _n in prepared.items] + list(zip(block.index, block.event_id)))
        sizes.append(len(ids))
        lines.append(ids[0][1])
        return IngestResult(accepted=len(ids))

    tracemalloc.start()
    summary = run_import("events", path, eng=db_engine, settings=settings, parallel=parallel, write=fake)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (summary.read, summary.accepted, summary.chunks) == (200_000, 200_000, 100)
    assert max(sizes) == 2000
    assert lines == [f"e{n}" for n in range(0, 200_000, 2000)]  # written in file order
    assert peak < 20 * 1024 * 1024  # the whole file as dicts would take well over 100 MB


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "reader-process"])
def test_unreadable_line_mid_file_stops_the_import_with_its_line(settings, tmp_path, db_engine, parallel):
    path = tmp_path / "bad.csv"
    _stream_csv(path, 3000)
    with path.open("ab") as f:
        f.write(b"e-bad,content_viewed,2026-01-01T10:00:00Z,o\xff\xfe,1\n")
    with pytest.raises(ImportFileError) as err:
        run_import("events", path, eng=db_engine, settings=settings, parallel=parallel)
    assert err.value.code == "unreadable_file"
    assert "UTF-8" in err.value.message or "utf-8" in err.value.message
    assert _count(db_engine, Event) == 2000  # the chunk before the bad line was committed; nothing after it


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


@pytest.mark.parametrize("name,text,code", [
    ("x.txt", "a,b\n", "unknown_format"),
    ("missing.csv", None, "unreadable_file"),
    ("bad.csv", "event_id,type\ne1,content_viewed\n", "missing_columns"),
    ("odd.csv", "event_id,type,occurred_at,id.phone,colour\n", "unknown_columns"),
])
def test_cli_exits_2_on_file_errors(cli_env, tmp_path, name, text, code):
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    result = cli_env.invoke(app, ["import", "events", str(path), "--no-progress"])
    assert result.exit_code == 2
    assert f"error [{code}]" in result.output


def test_cli_reports_summary_and_rejects_with_exit_0(cli_env, tmp_path):
    path = _write(tmp_path, "events.csv", EVENTS_CSV)
    result = cli_env.invoke(app, ["import", "events", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "read 5 rows; accepted 3, duplicates 0, rejected 2" in result.output
    assert f"written to {path}.rejects.csv" in result.output
    again = cli_env.invoke(app, ["import", "events", str(path), "--no-progress", "--format", "csv"])
    assert "accepted 0, duplicates 3, rejected 2" in again.output
