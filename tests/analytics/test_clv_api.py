"""CLV per customer and the holdout report over HTTP and the CLI, the scores API's staff scoping, bad input."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import as_principal, staff_principal
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from analytics.test_customer_value import _store
from analytics.test_rfm import AS_OF, _orders
from analytics.test_scores import _extra_facts
from siyu.analytics import customer_value
from siyu.analytics.clv import calibration_report, count_holdout_purchases, summarise_customers
from siyu.analytics.engines import open_facts
from siyu.cli.main import app as cli
from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.domains.staff.models import Staff
from siyu.kit.time import UTC, local_day
from siyu.web.app import create_app

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def api(db_engine: Engine, settings: Any) -> Any:
    ctx = ingest.IngestContext.from_settings(settings)
    orders = _orders(random.Random(5), 200)
    events, extra = _extra_facts(random.Random(6))
    with unit_of_work(db_engine) as s:
        ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] == "paid"] + [o for o in extra if "identities" in o])
    with unit_of_work(db_engine) as s:
        ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] != "paid"])
        ingest.ingest_events(s, ctx, events)
        _k, admin = access.create_api_key(s, "admin", ["admin"])
        staff = {st.userid: st.id for st in s.scalars(select(Staff))}
    application = create_app(settings, db_engine)
    with TestClient(application) as client:
        yield client, {"Authorization": f"Bearer {admin}"}, application, staff


def test_clv_over_http_equals_the_engine(api: Any, db_engine: Engine, settings: Any, tmp_path: Path) -> None:
    client, auth, _app, _staff = api
    body = client.get("/api/v1/analytics/clv", params={"as_of": AS_OF.isoformat(), "time_unit": "day", "top": 0},
                      headers=auth).json()
    facts = open_facts(db_engine, tmp_path)
    try:
        direct = customer_value.customer_values(facts, AS_OF, settings.tz, "day")
    finally:
        facts.close()
    assert set(body["params"]) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert body["params"]["r"] == pytest.approx(direct.fit.bgnbd.r, rel=1e-9)
    assert len(body["values"]) == direct.fit.customers
    clvs = [float(v["clv"]) for v in body["values"]]
    assert clvs == sorted(clvs, reverse=True)  # highest first
    one = body["values"][3]
    i = int(np.flatnonzero(direct.customer_id == one["customer_id"])[0])
    assert one["p_alive"] == pytest.approx(direct.values.probability_alive[i], rel=1e-12)
    assert abs(float(one["clv"]) * 100 - direct.values.clv[i]) <= 0.5  # rounded to the fen
    alone = client.get("/api/v1/analytics/clv", params={"as_of": AS_OF.isoformat(), "customer_id": one["customer_id"]},
                       headers=auth).json()
    assert [v["customer_id"] for v in alone["values"]] == [one["customer_id"]]


def test_holdout_report_equals_plain_counts(api: Any, db_engine: Engine, settings: Any) -> None:
    client, auth, _app, _staff = api
    cal, end = date(2026, 3, 31), AS_OF
    body = client.get("/api/v1/analytics/clv/holdout", headers=auth,
                      params={"calibration_end": cal.isoformat(), "holdout_end": end.isoformat(), "time_unit": "week"}).json()
    tz = settings.tz
    with unit_of_work(db_engine, write=False) as s:
        owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
        refunds: dict[int, list[tuple[date, int]]] = defaultdict(list)
        for f in s.scalars(select(OrderFact).where(OrderFact.status == "refunded")):
            refunds[f.order_pk].append((local_day(f.occurred_at, tz), f.amount_fen))

        def purchases(as_of: date) -> dict[int, list[Any]]:
            out: dict[int, list[Any]] = defaultdict(list)
            for o in s.scalars(select(Order)):
                net = o.amount_fen - sum(a for d, a in refunds[o.id] if d <= as_of)
                if o.paid_at is not None and net > 0:
                    out[owner[o.identity_id]].append((o.paid_at, net))
            return out

        summaries = summarise_customers(purchases(cal), cal, now=NOW, tz=tz, time_unit="week")
        later = purchases(end)
        counts = {c: count_holdout_purchases(later[c], cal, end, now=NOW, tz=tz) for c in summaries}
    ids = sorted(summaries)
    x, t_x, t = ([getattr(summaries[c], k) for c in ids] for k in ("frequency", "recency", "age"))
    fitted = customer_value.fit_arrays(np.array(x, float), np.array(t_x, float), np.array(t, float),
                                       np.array([summaries[c].monetary for c in ids], float))[0]
    report = calibration_report(fitted, x, t_x, t, [counts[c] for c in ids], holdout_length=(end - cal).days / 7,
                                time_unit="week")
    assert body["customers"] == report.customers and body["actual_total"] == report.actual_total > 0
    assert body["predicted_total"] == pytest.approx(report.predicted_total, rel=1e-6)
    assert [(r["frequency"], r["customers"], r["actual_total"]) for r in body["rows"]] == [
        (r.frequency, r.customers, r.actual_total) for r in report.holdout]
    bad = client.get("/api/v1/analytics/clv/holdout", headers=auth,
                     params={"calibration_end": end.isoformat(), "holdout_end": cal.isoformat()})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_clv_input"


@pytest.mark.parametrize("path, params, status, code", [
    ("/api/v1/analytics/clv", {"as_of": "2099-01-01"}, 422, "as_of_in_future"),
    ("/api/v1/analytics/clv", {"as_of": "2026-06-30", "time_unit": "month"}, 422, "validation_error"),
    ("/api/v1/analytics/clv", {"as_of": "2026-06-30", "customer_id": "999999"}, 404, "customer_not_scored"),
    ("/api/v1/analytics/clv", {"as_of": "2026-06-30", "months": "0"}, 422, "invalid_clv_input"),
    ("/api/v1/analytics/clv/holdout", {"calibration_end": "2026-06-30", "holdout_end": "2099-01-01"}, 422,
     "as_of_in_future"),
    ("/api/v1/scores/attention", {"staff": "nobody"}, 404, "staff_not_found"),
    ("/api/v1/scores/attention", {}, 422, "staff_required"),
    ("/api/v1/scores/attention", {"staff": "staff0", "kind": "vip"}, 422, "invalid_kind"),
    ("/api/v1/scores/customers/999999", {}, 404, "customer_not_found"),
])
def test_bad_input_is_4xx_with_a_code(api: Any, path: str, params: dict[str, str], status: int, code: str) -> None:
    client, auth, _app, _staff = api
    answer = client.get(path, params=params, headers=auth)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_scores_api_scopes_staff_users_to_their_own(api: Any) -> None:
    client, auth, application, staff = api
    run = client.post("/api/v1/analytics/scores", params={"as_of": AS_OF.isoformat()}, headers=auth)
    assert run.status_code == 200, run.text
    assert run.json()["written"] > 0 and run.json()["counts"]["at_risk"] > 0
    future = client.post("/api/v1/analytics/scores", params={"as_of": "2099-01-01"}, headers=auth)
    assert future.status_code == 422 and future.json()["error"]["code"] == "as_of_in_future"
    everyone = client.get("/api/v1/scores/attention", params={"staff": "staff0", "kind": "high_intent"}, headers=auth).json()
    assert everyone["total"] > 0 and everyone["as_of"] == AS_OF.isoformat()
    theirs = client.get("/api/v1/scores/attention", params={"staff": "staff1", "kind": "high_intent"}, headers=auth).json()
    runs = client.get("/api/v1/scores/runs", headers=auth).json()
    assert runs["latest_ok"]["as_of"] == AS_OF.isoformat() and runs["latest_ok"]["trigger"] == "api"
    staff0 = as_principal(application, staff_principal(staff["staff0"]))  # from here on every request is staff0's
    own = staff0.get("/api/v1/scores/attention", params={"kind": "high_intent"}).json()
    assert [i["customer_id"] for i in own["items"]] == [i["customer_id"] for i in everyone["items"]]
    other = staff0.get("/api/v1/scores/attention", params={"staff": "staff1"})
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_staff"
    mine = own["items"][0]["customer_id"]
    assert staff0.get(f"/api/v1/scores/customers/{mine}").status_code == 200
    hidden = staff0.get(f"/api/v1/scores/customers/{theirs['items'][0]['customer_id']}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "customer_not_found"
    assert staff0.get("/api/v1/analytics/clv", params={"as_of": "2026-06-30"}).status_code == 403


def test_cli_per_customer_output_holdout_scores_and_lists(tmp_path: Path, monkeypatch: Any, settings: Any) -> None:
    orders = [o for o in _orders(random.Random(57), 300) if o["status"] == "paid"]
    events, extra = _extra_facts(random.Random(6))
    engine = _store(tmp_path, monkeypatch, settings, orders + [o for o in extra if "identities" in o])
    with unit_of_work(engine) as s:
        ingest.ingest_events(s, ingest.IngestContext.from_settings(settings), events)
    run = CliRunner()
    base = ["analyze", "clv", "--as-of", AS_OF.isoformat(), "--time-unit", "day"]
    rows = list(csv.DictReader(io.StringIO(run.invoke(cli, [*base, "--format", "csv"]).output)))
    as_json = json.loads(run.invoke(cli, [*base, "--format", "json", "--top", "0"]).output)
    assert len(rows) == as_json["customers"] == len(as_json["values"]) > 200
    assert {r["customer_id"]: r["clv"] for r in rows} == {str(v["customer_id"]): v["clv"] for v in as_json["values"]}
    table = run.invoke(cli, [*base, "--top", "3"])
    assert table.exit_code == 0 and "CLV" in table.output and rows[0]["customer_id"] in table.output
    report = run.invoke(cli, ["analyze", "clv", "--as-of", "2026-03-31", "--holdout-to", AS_OF.isoformat(),
                              "--format", "json"])
    assert report.exit_code == 0 and json.loads(report.output)["actual_total"] > 0
    written = run.invoke(cli, ["analyze", "scores", "--as-of", AS_OF.isoformat(), "--format", "json"])
    assert written.exit_code == 0, written.output
    assert json.loads(written.output)["written"] > 0
    status = run.invoke(cli, ["analyze", "scores", "--status"])
    assert status.exit_code == 0 and f"scores as of {AS_OF}" in status.output
    listing = run.invoke(cli, ["analyze", "attention", "--staff", "staff0", "--kind", "high_intent", "--format", "csv"])
    assert listing.exit_code == 0 and listing.output.startswith("customer_id,name_masked,intent_value")
    for bad, code in ((["analyze", "scores", "--as-of", "2099-01-01"], "as_of_in_future"),
                      (["analyze", "attention", "--staff", "nobody"], "staff_not_found"),
                      (["analyze", "attention", "--staff", "staff0", "--kind", "vip"], "invalid_kind"),
                      ([*base, "--customer", "999999"], "customer_not_scored"),
                      (["analyze", "clv", "--as-of", "2026-06-30", "--holdout-to", "2026-06-01"], "invalid_clv_input")):
        result = run.invoke(cli, bad)
        assert result.exit_code == 2 and code in result.output, (bad, result.output)
    engine.dispose()
