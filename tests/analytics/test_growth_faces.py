"""The funnel, GMV, repurchase, value, attribution and staff reports over HTTP and the CLI equal the engine,
channel costs are entered and turn into ROI, and bad input gets a 4xx or exit status 2 saying what to fix."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from analytics import growth_brand as gb
from siyu.analytics import funnel
from siyu.analytics.engines import open_facts
from siyu.analytics.funnel_spec import FunnelParams, parse_steps
from siyu.cli.main import app as cli_app
from siyu.config import get_settings
from siyu.db.engine import unit_of_work
from siyu.db.reset import reset_database
from siyu.domains.access import service as access
from siyu.domains.channel_costs import service as costs
from siyu.web.app import create_app

STEPS = "content_viewed,contact_added,order"
PERIOD = {"from": "2026-05-01", "to": "2026-06-29"}


@pytest.fixture
def api(db_engine: Engine, settings: Any) -> Any:
    gb.load(db_engine, settings)
    with unit_of_work(db_engine) as s:
        _k, admin = access.create_api_key(s, "admin", ["admin"])
    with TestClient(create_app(settings, db_engine)) as client:
        client.headers["Authorization"] = f"Bearer {admin}"
        yield client


def test_funnel_over_http_equals_the_engine(api: TestClient, db_engine: Engine, settings: Any, tmp_path: Path) -> None:
    body = api.get("/api/v1/analytics/funnel", params={"steps": STEPS, **PERIOD, "window": "14d",
                                                       "breakdown": "channel_code"}).json()
    params = FunnelParams(parse_steps(STEPS), date(2026, 5, 1), date(2026, 6, 29), 14 * 86400, "ordered", "channel_code")
    facts = open_facts(db_engine, tmp_path)
    try:
        direct = funnel.compute(facts, params, settings.tz)
    finally:
        facts.close()
    assert [s["customers"] for s in body["steps"]] == [s.customers for s in direct.steps]
    assert body["steps"][1]["conversion_from_previous"] == round(direct.steps[1].customers / direct.steps[0].customers, 4)
    assert body["params"]["from"] == "2026-05-01" and body["params"]["steps"][2] == {"order": "paid"}
    assert {g["label"] for g in body["breakdown"]} >= {"码0", "码1", "码2"}
    dropped = api.get("/api/v1/analytics/funnel/dropped", params={"steps": STEPS, **PERIOD, "window": "14d",
                                                                  "step": 2, "limit": 3}).json()
    assert dropped["total"] == direct.steps[0].customers - direct.steps[1].customers
    assert len(dropped["customers"]) == 3 and dropped["next_offset"] == 3


@pytest.mark.parametrize("path, params, code", [
    ("/analytics/funnel", {"steps": "content_viewed", **PERIOD}, "invalid_funnel"),
    ("/analytics/funnel", {"steps": '[{"event": "a_b", "wher": {}}, {"order": "paid"}]', **PERIOD}, "invalid_funnel"),
    ("/analytics/funnel", {"steps": STEPS, **PERIOD, "window": "2w"}, "invalid_funnel"),
    ("/analytics/funnel", {"steps": STEPS, "from": "2026-05-01", "to": "2099-01-01"}, "as_of_in_future"),
    ("/analytics/funnel/dropped", {"steps": STEPS, **PERIOD, "step": 1}, "invalid_funnel"),
    ("/analytics/gmv", {"from": "2026-06-01", "to": "2026-05-01"}, "invalid_gmv"),
    ("/analytics/gmv", {**PERIOD, "base_from": "2026-04-01"}, "invalid_gmv"),
    ("/analytics/repurchase", {**PERIOD, "unit": "year"}, "invalid_repurchase"),
    ("/analytics/value", {**PERIOD, "cohort_by": "birthday"}, "invalid_value"),
    ("/analytics/attribution", {**PERIOD, "days": 0}, "invalid_attribution"),
    ("/analytics/staff-performance", {"from": "2026-05-01"}, "validation_error"),
])
def test_bad_input_gets_a_4xx_with_a_stable_code(api: TestClient, path: str, params: dict[str, Any], code: str) -> None:
    answer = api.get(f"/api/v1{path}", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == code and answer.json()["error"]["message"]


def test_reports_answer_over_http(api: TestClient) -> None:
    g = api.get("/api/v1/analytics/gmv", params={"from": "2026-06-01", "to": "2026-06-29",
                                                 "entry_events": "group_joined"}).json()
    assert sum(float(p["amount"]) for p in g["parts"]) == pytest.approx(float(g["change"]), abs=1e-9)
    assert g["base"]["start"] == "2026-05-03" and g["current"]["traffic"] > 0
    r = api.get("/api/v1/analytics/repurchase", params=PERIOD).json()
    assert r["cohorts"] and r["period_buyers"] >= r["period_repeat_buyers"]
    v = api.get("/api/v1/analytics/value", params=PERIOD).json()
    assert v["cohorts"][0]["value_per_customer"] and v["as_of"] == "2026-06-29"
    st = api.get("/api/v1/analytics/staff-performance", params=PERIOD).json()
    assert {row["name"] for row in st["staff"]} == {"导购fa", "导购fb", "导购fc"}


def test_costs_turn_into_roi(api: TestClient, db_engine: Engine) -> None:
    before = api.get("/api/v1/analytics/attribution", params={**PERIOD, "days": 7}).json()["channels"]
    code, revenue = before[0]["channel_code_id"], before[0]["revenue"]
    bad = api.post("/api/v1/channel-costs", json={"channel_code_id": code, "first_day": "2026-05-01",
                                                  "last_day": "2026-05-30", "amount": "1.234"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "amount"
    missing = api.post("/api/v1/channel-costs", json={"channel_code_id": 999999, "first_day": "2026-05-01",
                                                      "last_day": "2026-05-30", "amount": "1"})
    assert missing.json()["error"]["code"] == "channel_code_not_found"
    made = api.post("/api/v1/channel-costs", json={"channel_code_id": code, "first_day": "2026-04-01",
                                                   "last_day": "2026-05-30", "amount": "600.00", "note": "海报"})
    assert made.status_code == 201, made.text
    row = next(r for r in api.get("/api/v1/analytics/attribution", params={**PERIOD, "days": 7}).json()["channels"]
               if r["channel_code_id"] == code)
    assert row["cost"] == "300.00"  # 30 of the cost's 60 days fall in the period
    assert row["roi"] == round((float(revenue) - 300) / 300, 4)
    listed = api.get("/api/v1/channel-costs", params={"from": "2026-05-15"}).json()["items"]
    assert [c["amount"] for c in listed] == ["600.00"]
    assert api.delete(f"/api/v1/channel-costs/{made.json()['id']}").status_code == 204
    assert api.delete(f"/api/v1/channel-costs/{made.json()['id']}").status_code == 404


def test_analyses_need_an_admin_key(api: TestClient, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        _k, ingest_key = access.create_api_key(s, "ingest", ["ingest"])
    params = {"steps": STEPS, **PERIOD}
    assert api.get("/api/v1/analytics/funnel", params=params, headers={"Authorization": ""}).status_code == 401
    denied = api.get("/api/v1/analytics/funnel", params=params, headers={"Authorization": f"Bearer {ingest_key}"})
    assert denied.status_code == 403
    assert api.post("/api/v1/channel-costs", json={}, headers={"Authorization": f"Bearer {ingest_key}"}).status_code == 403


def test_cost_share_is_prorated_by_days() -> None:
    assert costs.share(date(2026, 5, 1), date(2026, 5, 31), 31_00, date(2026, 5, 10), date(2026, 6, 30)) == 22_00
    assert costs.share(date(2026, 5, 1), date(2026, 5, 3), 100, date(2026, 5, 1), date(2026, 5, 1)) == 33
    assert costs.share(date(2026, 5, 1), date(2026, 5, 3), 100, date(2026, 6, 1), date(2026, 6, 2)) == 0


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Any:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIYU_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    gb.load(reset_database(url), get_settings())
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_prints_tables_json_and_csv(cli: CliRunner) -> None:
    base = ["analyze", "funnel", "--steps", STEPS, "--from", "2026-05-01", "--to", "2026-06-29", "--window", "14d"]
    table = cli.invoke(cli_app, base)
    assert table.exit_code == 0, table.output
    assert "content_viewed" in table.output and "duckdb" in table.output
    data = json.loads(cli.invoke(cli_app, [*base, "--format", "json"]).output)
    rows = list(csv.DictReader(io.StringIO(cli.invoke(cli_app, [*base, "--format", "csv"]).output)))
    assert [int(r["customers"]) for r in rows] == [s["customers"] for s in data["steps"]]
    dropped = json.loads(cli.invoke(cli_app, [*base, "--dropped-at", "2", "--limit", "2", "--format", "json"]).output)
    assert dropped["total"] == data["steps"][0]["customers"] - data["steps"][1]["customers"]
    for command in (["gmv", "--from", "2026-06-01", "--to", "2026-06-29"], ["repurchase", *PERIOD_ARGS],
                    ["value", *PERIOD_ARGS], ["attribution", *PERIOD_ARGS], ["staff-performance", *PERIOD_ARGS]):
        for fmt in ("table", "json", "csv"):
            out = cli.invoke(cli_app, ["analyze", *command, "--format", fmt])
            assert out.exit_code == 0, (command, fmt, out.output)


PERIOD_ARGS = ["--from", "2026-05-01", "--to", "2026-06-29"]


@pytest.mark.parametrize("args, message", [
    (["funnel", "--steps", "a_b", *PERIOD_ARGS], "2–10 steps"),
    (["funnel", "--steps", "@/nonexistent.json", *PERIOD_ARGS], "cannot read"),
    (["funnel", "--steps", STEPS, *PERIOD_ARGS, "--mode", "loose"], "mode must be"),
    (["funnel", "--steps", STEPS, *PERIOD_ARGS, "--dropped-at", "9"], "drop at step"),
    (["gmv", "--from", "2026-06-01", "--to", "2026-06-29", "--base-from", "2026-05-01"], "base-to"),
    (["repurchase", *PERIOD_ARGS, "--within-days", "0"], "within_days"),
    (["attribution", "--from", "2026-05-01", "--to", (date.today() + timedelta(days=2)).isoformat()], "in the future"),
])
def test_cli_bad_input_exits_2(cli: CliRunner, args: list[str], message: str) -> None:
    out = cli.invoke(cli_app, ["analyze", *args])
    assert out.exit_code == 2 and message in out.output, out.output


def test_cli_enters_and_lists_costs(cli: CliRunner) -> None:
    added = cli.invoke(cli_app, ["channel-cost", "add", "--code", "1", "--from", "2026-05-01", "--to", "2026-05-31",
                                 "--amount", "310.00", "--note", "海报"])
    assert added.exit_code == 0 and "¥310.00" in added.output, added.output
    assert cli.invoke(cli_app, ["channel-cost", "add", "--code", "1", "--from", "2026-05-01", "--to", "2026-05-31",
                                "--amount", "-3"]).exit_code == 2
    listed = json.loads(cli.invoke(cli_app, ["channel-cost", "list", "--format", "json"]).output)["items"]
    assert [(c["channel_code"], c["amount"]) for c in listed] == [("码0", "310.00")]
    roi = json.loads(cli.invoke(cli_app, ["analyze", "attribution", "--from", "2026-05-01", "--to", "2026-05-31",
                                          "--format", "json"]).output)
    assert next(r for r in roi["channels"] if r["channel_code_id"] == 1)["cost"] == "310.00"
    assert cli.invoke(cli_app, ["channel-cost", "delete", str(listed[0]["id"])]).exit_code == 0
    assert cli.invoke(cli_app, ["channel-cost", "delete", str(listed[0]["id"])]).exit_code == 1


def test_dropped_customers_become_a_segment_over_http_and_the_cli(api: TestClient, cli: CliRunner) -> None:
    body = {"steps": STEPS, **PERIOD, "window": "14d", "step": 3, "name": "加了没买"}
    made = api.post("/api/v1/analytics/funnel/dropped/segment", json=body)
    assert made.status_code == 201, made.text
    dropped = api.get("/api/v1/analytics/funnel/dropped", params={"steps": STEPS, **PERIOD, "window": "14d",
                                                                  "step": 3}).json()
    assert made.json()["customers"] == dropped["total"] > 0
    again = api.post("/api/v1/analytics/funnel/dropped/segment", json=body)
    assert again.status_code == 409
    split = api.get("/api/v1/analytics/funnel", params={"steps": STEPS, **PERIOD, "window": "14d",
                                                        "breakdown": "segment",
                                                        "segments": str(made.json()["segment_id"])}).json()
    inside = next(g for g in split["breakdown"] if g["label"] == "加了没买")
    assert [s["customers"] for s in inside["steps"]] == [dropped["total"]] * 2 + [0]
    assert api.get("/api/v1/analytics/funnel", params={"steps": STEPS, **PERIOD, "breakdown": "segment"}
                   ).json()["error"]["code"] == "invalid_funnel"
    out = cli.invoke(cli_app, ["analyze", "funnel", "--steps", STEPS, *PERIOD_ARGS, "--dropped-at", "2",
                               "--save-segment", "没加微"])
    assert out.exit_code == 0 and "没加微" in out.output, out.output
    assert cli.invoke(cli_app, ["analyze", "funnel", "--steps", STEPS, *PERIOD_ARGS, "--save-segment", "x"]).exit_code == 2
