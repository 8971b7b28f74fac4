"""CLV inputs computed on every engine equal analytics/clv/summary.py's plain reference; the fit uses them."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from analytics.test_rfm import AS_OF, _orders
from siyu.analytics import customer_value as cv
from siyu.analytics.clv import summarise_customers
from siyu.analytics.engines import open_facts
from siyu.cli.main import app
from siyu.config import get_settings
from siyu.db.reset import reset_database
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.kit.time import UTC, local_day


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    ctx = ingest.IngestContext.from_settings(settings)
    orders = _orders(random.Random(57), 500)
    paid = [o for o in orders if o["status"] == "paid"]
    for part in (paid[i:i + 1000] for i in range(0, len(paid), 1000)):
        with unit_of_work(db_engine) as s:
            assert not ingest.ingest_orders(s, ctx, part).rejected
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] != "paid"]).rejected
    return db_engine


def _reference(s: Any, tz: Any, unit: str) -> dict[int, Any]:
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    refunds: dict[int, int] = defaultdict(int)
    for f in s.scalars(select(OrderFact).where(OrderFact.status == "refunded")):
        if local_day(f.occurred_at, tz) <= AS_OF:
            refunds[f.order_pk] += f.amount_fen
    purchases: dict[int, list[Any]] = defaultdict(list)
    for o in s.scalars(select(Order)):
        net = o.amount_fen - refunds[o.id]
        if o.paid_at is not None and net > 0:  # a fully refunded order is not a purchase
            purchases[owner[o.identity_id]].append((o.paid_at, net))
    return summarise_customers(purchases, AS_OF, now=datetime(2026, 11, 23, tzinfo=UTC), tz=tz, time_unit=unit)


@pytest.mark.parametrize("unit", ["day", "week"])
def test_engine_summaries_equal_the_reference(brand: Engine, settings: Any, tmp_path: Path, unit: str) -> None:
    facts = open_facts(brand, tmp_path)
    try:
        rows = cv.summaries(facts, AS_OF, settings.tz, unit).to_pyarrow().to_pylist()  # type: ignore[arg-type]
        fitted = cv.fit(facts, AS_OF, settings.tz, unit)  # type: ignore[arg-type]
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        expected = _reference(s, settings.tz, unit)
    got = {r["customer_id"]: r for r in rows}
    assert got.keys() == expected.keys() and len(got) > 300
    for cid, ref in expected.items():
        row = got[cid]
        assert row["frequency"] == ref.frequency, cid
        for key in ("recency", "age", "monetary"):
            assert math.isclose(row[key], getattr(ref, key), rel_tol=1e-12, abs_tol=1e-9), (cid, key)
    assert fitted.customers == len(expected) and fitted.repeat_buyers == sum(r.frequency > 0 for r in expected.values())
    assert all(v > 0 for v in (fitted.bgnbd.r, fitted.bgnbd.alpha, fitted.bgnbd.a, fitted.bgnbd.b,
                               fitted.gamma_gamma.p, fitted.gamma_gamma.q, fitted.gamma_gamma.v))


def _store(tmp_path: Path, monkeypatch: Any, settings: Any, orders: list[dict[str, Any]]) -> Any:
    url = f"sqlite:///{tmp_path / 'clv.db'}"
    engine = reset_database(url)
    ctx = ingest.IngestContext.from_settings(settings)
    for part in (orders[i:i + 1000] for i in range(0, len(orders), 1000)):
        with unit_of_work(engine) as s:
            ingest.ingest_orders(s, ctx, part)
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIYU_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    return engine


def test_cli_prints_params_fitted_only_on_facts_up_to_the_as_of_date(tmp_path: Path, monkeypatch: Any,
                                                                     settings: Any) -> None:
    orders = [o for o in _orders(random.Random(57), 500) if o["status"] == "paid"]
    engine = _store(tmp_path, monkeypatch, settings, orders)
    runner = CliRunner()
    args = ["analyze", "clv", "--as-of", "2026-05-31", "--time-unit", "week", "--format", "json"]
    before = json.loads(runner.invoke(app, args).output)
    assert set(before["params"]) == {"r", "alpha", "a", "b", "p", "q", "v"} and before["customers"] > 300
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:  # later facts must not change a fit as of May
        ingest.ingest_orders(s, ctx, [{**o, "order_id": f"later-{o['order_id']}", "occurred_at": "2026-06-15T10:00:00+08:00"}
                                      for o in orders[:300]])
    assert json.loads(runner.invoke(app, args).output)["params"] == before["params"]
    after = json.loads(runner.invoke(app, [*args[:3], "2026-06-30", *args[4:]]).output)
    assert after["params"] != before["params"]
    table = runner.invoke(app, ["analyze", "clv", "--as-of", "2026-06-30"])
    assert table.exit_code == 0 and "BG/NBD" in table.output and "Gamma-Gamma" in table.output
    for bad, message in ((["--time-unit", "month"], "day or week"), (["--as-of", "2099-01-01"], "in the future")):
        result = runner.invoke(app, ["analyze", "clv", "--as-of", "2026-06-30", *bad])
        assert result.exit_code == 2 and message in result.output
    engine.dispose()
    get_settings.cache_clear()


def test_too_few_repeat_buyers_is_a_clear_error(tmp_path: Path, monkeypatch: Any, settings: Any) -> None:
    engine = _store(tmp_path, monkeypatch, settings, [
        {"order_id": f"one-{i}", "status": "paid", "occurred_at": "2026-06-01T10:00:00+08:00", "amount": "9.90",
         "identities": {"openid:wxmini": f"oONE{i:06d}"}} for i in range(5)])
    result = CliRunner().invoke(app, ["analyze", "clv", "--as-of", "2026-06-30"])
    assert result.exit_code == 2 and "clv_fit_failed" in result.output and "bought more than once" in result.output
    engine.dispose()
    get_settings.cache_clear()
