"""Order facts the quick check accepts are exactly what ``parse_order`` (pydantic) makes of them, and an
import through it stores what the per-item path stores.

Facts are drawn from plain and awkward values per field (surrounding spaces, over-long strings,
amounts with three decimals, floats, negative or boolean numbers, nulls, unknown keys, refunds over
the amount, refund fields on other statuses, bad identities and times), as dicts (Hypothesis) and as
JSON Lines and CSV files imported twice on a fresh database (SQLite and PostgreSQL): every table, the
summaries and the rejects files must be equal.
"""

from __future__ import annotations

import csv
import random
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from domains.identity.helpers import wipe
from domains.ingest.paths import compare_paths
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from siyu.cli import import_files
from siyu.config import Settings
from siyu.domains.ingest.order_fast import quick_order
from siyu.domains.ingest.orders import parse_order
from siyu.domains.ingest.service import IngestContext, normalise_identities, prepare_orders
from siyu.domains.ingest.validation import ItemRejected

# per field: plain values, then awkward ones (drawn 1 time in 10); MISSING leaves the key out
MISSING = object()
FIELDS: dict[str, tuple[list[Any], list[Any]]] = {
    "order_id": ([f"o{n}" for n in range(12)], [" o1", "", "x" * 129, 7, None]),
    "status": (["paid", "paid", "created", "delivered", "refunded"], ["Paid", "lost", None]),
    "occurred_at": ([1767225600, 1767225600123, "2026-01-01T10:00:00+08:00", "2026-01-01 10:00:00.5Z"],
                    ["1767225600", "yesterday", "2026-01-01T10:00:00", -5, 1.5e9, True, None]),
    "amount": (["38.00", "19.9", "0", 120, "100"], ["1.005", 38.5, -1, True, "abc", " 38", None, MISSING]),
    "currency": ([MISSING, "CNY", "USD"], ["cny", "RMB1", None]),
    "identities": ([{"openid:wx1": "oAAAA01"}, {"phone": "13912340001"}, {"openid:wx1": "oAAAA02", "phone": "+86 139-1234-0002"},
                    {}, MISSING], [{"phone": "0"}, {"phone": "12345"}, {" phone": "13912340003"}, {"bogus": "x"},
                                   {"phone": 13912340004}, "13912340001"]),
    "channel": ([MISSING, "mini_program", "app"], ["", " app", "c" * 65, None]),
    "store": ([MISSING, "s01"], ["s" * 65]),
    "items": ([MISSING, [], [{"sku": "T001", "quantity": 2, "unit_price": "19.00"}],
               [{"sku": "T002", "unit_price": 5, "name": "茶", "category": "tea", "amount": "4.50"}]],
              [[{"sku": "", "unit_price": "1"}], [{"sku": "T1", "unit_price": "1.001"}], [{"sku": "T1", "quantity": 0,
               "unit_price": "1"}], [{"sku": "T1", "unit_price": "1", "colour": "red"}], [{"sku": "T1", "quantity": "2",
               "unit_price": "1"}], [{"sku": "T1"}], {"sku": "T1"}]),
    "refund_amount": ([MISSING, MISSING, "10.00"], ["500.00", "0.001", None]),
    "refund_id": ([MISSING, MISSING, "r1", "r2"], ["", " r1"]),
    "properties": ([MISSING, {}, {"coupon": "C1"}, {"n": 1, "deep": {"a": [1, 2]}}],
                   [{" k": 1}, [1], "x", {"big": "x" * 70000}]),
}
EXTRA = [{}, {}, {}, {"note": "?"}]


def _fact(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (good, bad) in FIELDS.items():
        value = rng.choice(bad if rng.random() < 0.1 else good)
        if value is not MISSING:
            out[name] = value
    if rng.random() < 0.05:
        out.update(rng.choice(EXTRA))
    return out


def _per_item(ctx: IngestContext, raw: Any) -> Any:
    try:
        return parse_order(raw, ctx.settings.max_properties_bytes, lambda ids: normalise_identities(ctx, ids, required=False))
    except ItemRejected as exc:
        return exc


@hsettings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_quick_order_accepts_only_what_parse_order_makes_alike(seed):
    ctx = _context()
    raw = _fact(random.Random(seed))
    quick = quick_order(ctx, raw)
    if quick is not None:
        assert quick == _per_item(ctx, raw), raw


@cache
def _context() -> IngestContext:
    return IngestContext.from_settings(Settings(secret_key="k" * 40))


def test_quick_order_takes_the_plain_facts(settings):
    ctx = IngestContext.from_settings(settings)
    facts = [_fact(random.Random(s)) for s in range(400)]
    taken = [f for f in facts if quick_order(ctx, f) is not None]
    assert len(taken) > 40
    for raw in taken:
        assert quick_order(ctx, raw) == _per_item(ctx, raw)


def _jsonl(path: Path, facts: list[dict[str, Any]]) -> Path:
    with path.open("wb") as f:
        for fact in facts:
            f.write(orjson.dumps(fact) + b"\n")
    return path


CSV_HEADER = ["order_id", "status", "occurred_at", "amount", "currency", "refund_amount", "refund_id", "channel", "store",
              "items", "id.phone", "id.openid:wx1", "prop.coupon"]


def _csv(path: Path, facts: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for fact in facts:
            ids = fact.get("identities") if isinstance(fact.get("identities"), dict) else {}
            props = fact.get("properties") if isinstance(fact.get("properties"), dict) else {}
            row = [fact.get(k, "") for k in CSV_HEADER[:9]]
            row = ["" if v is None else str(v) for v in row]
            items = fact.get("items")
            row += ["" if items is None else orjson.dumps(items).decode(), ids.get("phone", ""),
                    ids.get("openid:wx1", ""), str(props.get("coupon", ""))]
            w.writerow(row)
    return path


def _old_path(m: pytest.MonkeyPatch) -> None:
    m.setitem(import_files.PREPARE, "orders", lambda ctx, items, _refs: prepare_orders(ctx, items))


def _compare(engine, settings, monkeypatch, files: list[Path], chunk: int, parallel: bool = False,
             busy: bool = True) -> None:
    before, reference = compare_paths("orders", engine, settings, monkeypatch, files, chunk, parallel, _old_path)
    if busy:  # orders, their lines and facts, duplicates and rejections
        assert reference["orders"] and reference["order_items"] and reference["order_facts"]
        assert any(summary[2] for summary in before) and any(summary[3] for summary in before)


@pytest.mark.parametrize("seed", [1, 2])
def test_quick_import_stores_what_the_per_item_path_stores(db_engine, settings, tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    first = [_fact(rng) for _ in range(150)]
    second = [_fact(rng) for _ in range(150)]
    files = [_jsonl(tmp_path / "a.jsonl", first), _jsonl(tmp_path / "b.jsonl", second), _csv(tmp_path / "c.csv", second)]
    _compare(db_engine, settings, monkeypatch, [*files, files[0]], chunk=[7, 40][seed - 1])


def test_quick_import_with_the_reader_process(db_engine, settings, tmp_path, monkeypatch):
    rng = random.Random(3)
    files = [_jsonl(tmp_path / f"{n}.jsonl", [_fact(rng) for _ in range(120)]) for n in range(2)]
    _compare(db_engine, settings, monkeypatch, [*files, files[0]], chunk=25, parallel=True)


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=10, max_size=50), st.integers(1, 30))
def test_quick_import_equals_per_item_on_generated_files(db_engine, settings, tmp_path, monkeypatch, seeds, chunk):
    wipe(db_engine)
    facts = [_fact(random.Random(s)) for s in seeds]
    files = [_jsonl(tmp_path / "h.jsonl", facts), _csv(tmp_path / "h.csv", facts[::-1])]
    _compare(db_engine, settings, monkeypatch, [*files, files[0]], chunk=chunk, busy=False)
